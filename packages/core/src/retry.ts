// Retry: the one bounded retry-with-backoff for calls whose failures say whether trying again can help.

/** The pause before retry number `attempt` (0-based): `initialMs` doubling up to `maxMs` (default 200 ms → 5 s). */
export function backoffMs(attempt: number, initialMs = 200, maxMs = 5_000): number {
  return Math.min(maxMs, initialMs * 2 ** attempt);
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
}

/**
 * Calls `attempt` until it succeeds, `isRetriable` says its error will not pass, or the time budget is spent; then
 * throws the last error. Pauses double from `initialDelayMs` up to `maxDelayMs`, with ±20% jitter so members of one
 * group do not retry in lockstep.
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
      const pause =
        backoffMs(retry, policy.initialDelayMs ?? 200, policy.maxDelayMs ?? 2_000) * (0.8 + Math.random() * 0.4);
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
