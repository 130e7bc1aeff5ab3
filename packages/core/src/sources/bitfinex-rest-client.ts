// Sources / Bitfinex REST client: one public GET at a time within the rate limit, retried through 429s, maintenance and failures.
import { FeedMessageError } from '../errors';
import { parseRetryAfterMs } from '../retry';
import { BitfinexApiError, RATE_LIMIT_CODE, restErrorOf } from './bitfinex-frames';
import {
  type Backoff,
  backoffDelay,
  configError,
  FeedError,
  rollingWindowWait,
  type SourceError,
  sleep,
} from './source';

/** Bitfinex's code for "entering maintenance", also used in REST error bodies. */
const MAINTENANCE_CODE = 20060;

/** Internal: how a {@link BitfinexRestClient} talks to Bitfinex (the REST sources validate and default these). */
export interface RestClientSettings {
  /** Base URL without a trailing slash, e.g. `https://api-pub.bitfinex.com`. */
  baseUrl: string;
  /** Requests (status checks included) allowed in any rolling minute; `Infinity` for a local server. */
  maxPerMinute: number;
  /** Delay growth after failed requests. */
  backoff: Backoff;
  /** Minimum wait after a rate-limit answer; a larger `Retry-After` wins. */
  rateLimitCooldownMs: number;
  /** Abort a request after this long. */
  requestTimeoutMs: number;
  /** HTTP client, the global `fetch` by default. */
  fetch?: typeof fetch;
  /** Aborting it ends every `get` in progress (it resolves undefined). */
  signal: AbortSignal;
}

/** Internal: what a caller of {@link BitfinexRestClient.get} hears about, and how it reads a body. */
export interface RestGetHooks<T> {
  /** Reads a 2xx body that is no error body; undefined (after reporting through `onError`) retries it. */
  parse(json: unknown, body: string): T | undefined;
  /** Every failure: network, HTTP status, error body, rate limit, maintenance, unreadable body. */
  onError(error: SourceError | BitfinexApiError): void;
  /** After each attempt (status checks included), with when it started. */
  onAttempt?(startedAt: number): void;
  /** After each answer that arrived, whatever it said. */
  onResponse?(): void;
  /** Before the pause after a failed attempt; `maintenance` when Bitfinex said it is in maintenance. */
  onRetry?(maintenance: boolean): void;
  /** Least time between two attempt starts. Default 0. */
  minSpacingMs?: number;
}

/** What one request came to: a value, or how long to wait at least and whether the platform must be asked first. */
type Outcome<T> =
  | { ok: true; value: T }
  | { ok: false; minDelayMs: number; checkPlatform: boolean; maintenance: boolean };

const RETRY = { ok: false, minDelayMs: 0, checkPlatform: false, maintenance: false } as const;

/**
 * Internal: the one request loop of the Bitfinex REST sources (tickers polling, history backfill). A `get` waits for
 * the rolling-minute budget, sends, and on failure waits (jittered exponential backoff; after HTTP 429 or
 * `ERR_RATE_LIMIT`/11010 at least `rateLimitCooldownMs` or `Retry-After`, then asks `GET /v2/platform/status` until
 * the platform is up) and tries again until it gets a value or the signal aborts.
 */
export class BitfinexRestClient {
  private readonly fetchImpl: typeof fetch;
  private readonly requestStarts: number[] = [];

  constructor(private readonly settings: RestClientSettings) {
    const fetchImpl = settings.fetch ?? globalThis.fetch;
    if (typeof fetchImpl !== 'function')
      throw configError('no fetch implementation: use Node ≥ 20 or pass options.fetch', {});
    // Called detached from `this`: some fetch implementations throw "Illegal invocation" when bound to another object.
    this.fetchImpl = (input, init) => fetchImpl(input, init);
  }

  /** GETs `baseUrl + path` until a body parses; undefined once the signal aborted. */
  async get<T>(path: string, hooks: RestGetHooks<T>): Promise<T | undefined> {
    const { signal } = this.settings;
    const url = `${this.settings.baseUrl}${path}`;
    let failures = 0;
    let checkPlatform = false;
    while (!signal.aborted) {
      // Every request, status checks included, counts against the per-minute cap.
      await sleep(rollingWindowWait(this.requestStarts, this.settings.maxPerMinute, 60_000, Date.now()), signal);
      if (signal.aborted) return undefined;
      const startedAt = Date.now();
      this.requestStarts.push(startedAt);
      const outcome: Outcome<T | true> = checkPlatform
        ? await this.checkPlatform(hooks)
        : await this.attempt(url, hooks);
      hooks.onAttempt?.(startedAt);
      if (signal.aborted) return undefined;
      let delay = Math.max(0, (hooks.minSpacingMs ?? 0) - (Date.now() - startedAt));
      if (outcome.ok && !checkPlatform) return outcome.value as T;
      if (outcome.ok) {
        // The platform is up: the next request is the real one again.
        checkPlatform = false;
      } else {
        delay = Math.max(delay, backoffDelay(this.settings.backoff, failures), outcome.minDelayMs);
        failures += 1;
        checkPlatform ||= outcome.checkPlatform;
        hooks.onRetry?.(outcome.maintenance);
      }
      await sleep(delay, signal);
    }
    return undefined;
  }

  private async attempt<T>(url: string, hooks: RestGetHooks<T>): Promise<Outcome<T>> {
    const answer = await this.request(url, hooks);
    if (!answer) return RETRY;
    const { response, body } = answer;
    const json = safeJson(body);
    // Bitfinex sends error bodies with HTTP 200 too: the body decides, not the status.
    const apiError = restErrorOf(json);
    if (response.status === 429 || apiError?.bitfinexCode === RATE_LIMIT_CODE) {
      const retryAfterMs = parseRetryAfterMs(response.headers.get('retry-after')) ?? 0;
      hooks.onError(
        new FeedError('rate-limited', `Bitfinex REST rate limit hit (HTTP ${response.status}) on ${url}; backing off`, {
          details: { status: response.status, body: body.slice(0, 200) },
        }),
      );
      const minDelayMs = Math.max(this.settings.rateLimitCooldownMs, retryAfterMs);
      return { ok: false, minDelayMs, checkPlatform: true, maintenance: false };
    }
    if (apiError) {
      hooks.onError(apiError);
      const maintenance = isMaintenance(apiError);
      return { ok: false, minDelayMs: 0, checkPlatform: maintenance, maintenance };
    }
    if (!response.ok) {
      hooks.onError(
        new FeedError('http-status', `Bitfinex REST answered HTTP ${response.status}`, {
          details: { status: response.status, body: body.slice(0, 200) },
        }),
      );
      return RETRY;
    }
    if (json === undefined) {
      hooks.onError(new FeedMessageError(`${url} answered with invalid JSON`, body));
      return RETRY;
    }
    const value = hooks.parse(json, body);
    return value === undefined ? RETRY : { ok: true, value };
  }

  /** `GET /v2/platform/status`: `[1]` is up, `[0]` is maintenance. */
  private async checkPlatform(hooks: RestGetHooks<unknown>): Promise<Outcome<true>> {
    const statusUrl = `${this.settings.baseUrl}/v2/platform/status`;
    const answer = await this.request(statusUrl, hooks);
    if (!answer) return { ...RETRY, checkPlatform: true };
    const json = safeJson(answer.body);
    if (answer.response.ok && Array.isArray(json) && json[0] === 1) return { ok: true, value: true };
    const maintenance = Array.isArray(json) && json[0] === 0;
    hooks.onError(
      maintenance
        ? new BitfinexApiError(MAINTENANCE_CODE, 'platform status 0 (maintenance); waiting before polling again')
        : (restErrorOf(json) ??
            new FeedError('http-status', `Bitfinex platform status answered HTTP ${answer.response.status}`, {
              details: { status: answer.response.status, body: answer.body.slice(0, 200) },
            })),
    );
    return { ok: false, minDelayMs: 0, checkPlatform: true, maintenance };
  }

  /** One GET within the request timeout; undefined (after reporting) when no answer arrived. */
  private async request(
    url: string,
    hooks: RestGetHooks<unknown>,
  ): Promise<{ response: Response; body: string } | undefined> {
    const { signal, requestTimeoutMs } = this.settings;
    const request = new AbortController();
    const onStop = (): void => request.abort();
    signal.addEventListener('abort', onStop, { once: true });
    const timeout = setTimeout(() => request.abort(), requestTimeoutMs);
    try {
      const response = await this.fetchImpl(url, { signal: request.signal, headers: { accept: 'application/json' } });
      const body = await response.text();
      hooks.onResponse?.();
      return { response, body };
    } catch (cause) {
      if (signal.aborted) return undefined;
      const message = request.signal.aborted
        ? `no answer within ${requestTimeoutMs} ms`
        : cause instanceof Error
          ? cause.message
          : String(cause);
      hooks.onError(new FeedError('network', `Bitfinex REST request failed: ${message}`, { cause }));
      return undefined;
    } finally {
      clearTimeout(timeout);
      signal.removeEventListener('abort', onStop);
    }
  }
}

/** Internal: checks a REST base URL and drops its trailing slashes. */
export function restBaseUrl(baseUrl: string): string {
  const base = baseUrl.replace(/\/+$/, '');
  if (!/^https?:\/\/[^/]/.test(base))
    throw configError('baseUrl must be an http:// or https:// URL', { baseUrl: base });
  return base;
}

// Bitfinex's maintenance answers: code 20060, or a message naming it (seen with a null code).
function isMaintenance(error: BitfinexApiError): boolean {
  return error.bitfinexCode === MAINTENANCE_CODE || /maint/i.test(error.message);
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
