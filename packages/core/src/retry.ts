// Retry: the one bounded retry-with-backoff for calls whose failures say whether trying again can help.

/**
 * The pause before retry number `attempt` (0-based): `initialMs` growing by `factor` per attempt up to `maxMs`
 * (default 200 ms doubling to 5 s). Huge attempts overflow to Infinity, which the cap absorbs.
 */
export function backoffMs(attempt: number, initialMs = 200, maxMs = 5_000, factor = 2): number {
  return Math.min(maxMs, initialMs * factor ** attempt);
}

/**
 * "Full jitter": a pause drawn uniformly from `[0, backoffMs(attempt, initialMs, maxMs))`. Spreading retries over
 * the whole window keeps many clients that failed together (sinks behind one server, members of one group) from
 * hammering a recovering server in lockstep.
 *
 * @param attempt - 0-based retry number.
 * @param random - Source of `[0, 1)` numbers. Default `Math.random`.
 */
export function fullJitterMs(attempt: number, initialMs: number, maxMs: number, random = Math.random): number {
  return Math.floor(random() * backoffMs(attempt, initialMs, maxMs));
}

/**
 * Milliseconds an HTTP `Retry-After` header asks for (delta-seconds or an HTTP date, a past date giving 0), or
 * `undefined` when absent or unreadable.
 *
 * @example
 * ```ts
 * const waitMs = parseRetryAfterMs(response.headers.get('retry-after') ?? undefined) ?? 0;
 * ```
 */
export function parseRetryAfterMs(
  value: string | readonly string[] | null | undefined,
  now: number = Date.now(),
): number | undefined {
  const raw = (typeof value === 'string' ? value : value?.[0])?.trim();
  if (!raw) return undefined;
  if (/^\d+(\.\d+)?$/.test(raw)) return Math.round(Number(raw) * 1000);
  const date = Date.parse(raw);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** How long and how often {@link retryRetriable} tries. */
export interface RetryPolicy {
  /** Give up once this much time has passed since the first attempt. */
  budgetMs: number;
  /** First pause. Default 200 ms. */
  initialDelayMs?: number;
  /** Longest pause. Default 2000 ms. */
  maxDelayMs?: number;
  /** The least pause a failure asks for (a server's `Retry-After`, see {@link parseRetryAfterMs}). Default: none. */
  retryAfterMs?: (error: unknown) => number | undefined;
}

/**
 * Calls `attempt` until it succeeds, `isRetriable` says its error will not pass, or the time budget is spent; then
 * throws the last error. Pauses double from `initialDelayMs` up to `maxDelayMs`, with ±20% jitter so members of one
 * group do not retry in lockstep, and last at least what `retryAfterMs` asks for. A pause that would end past the
 * budget is not taken: the error is thrown at once.
 */
export async function retryRetriable<T>(
  attempt: () => Promise<T>,
  isRetriable: (error: unknown) => boolean,
  policy: RetryPolicy,
): Promise<T> {
  const deadline = Date.now() + policy.budgetMs;
  for (let retry = 0; ; retry++) {
    try {
      return await attempt();
    } catch (e) {
      const backoff =
        backoffMs(retry, policy.initialDelayMs ?? 200, policy.maxDelayMs ?? 2_000) * (0.8 + Math.random() * 0.4);
      const pause = Math.max(backoff, policy.retryAfterMs?.(e) ?? 0);
      if (!isRetriable(e) || Date.now() + pause > deadline) throw e;
      await sleep(pause);
    }
  }
}

/**
 * Rejects with `onTimeout()` when `promise` takes longer than `ms`. The underlying work is not cancelled: it settles
 * on its own (its own timeouts apply) and its result is dropped.
 */
export async function withTimeout<T>(promise: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => (timer = setTimeout(() => reject(onTimeout()), ms))),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
