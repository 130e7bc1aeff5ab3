// Sources / Bitfinex REST: polls the public /v2/tickers endpoint within its rate limit and emits Tickers.
import { FeedMessageError } from '../errors';
import { type BitfinexApiError, parseRestTickers, restErrorOf } from './bitfinex-frames';
import {
  type Backoff,
  type BackoffOptions,
  backoffDelay,
  configError,
  FeedError,
  MarketSourceBase,
  requirePositive,
  resolveBackoff,
  sleep,
  validateSymbols,
} from './source';

/** Bitfinex's public REST base URL. */
export const BITFINEX_REST_URL = 'https://api-pub.bitfinex.com';

/**
 * Fastest polling allowed without `ignoreRateLimit`: Bitfinex rate-limits public REST endpoints per IP
 * (10–90 requests/minute depending on the endpoint; `/v2/tickers` is at the low end, 30/minute) and blocks
 * an IP that exceeds it for 60 s. One request every 2 s stays at 30/minute.
 */
export const MIN_REST_INTERVAL_MS = 2_000;

/** Options of {@link createBitfinexRestSource}. */
export interface BitfinexRestSourceOptions {
  /** Bitfinex symbols, e.g. `['tBTCUSD', 'tETHUSD']`. Funding symbols (`f…`) are fetched but skipped (counted in `stats().ignored`). */
  symbols: readonly string[];
  /** Default {@link BITFINEX_REST_URL}. */
  baseUrl?: string;
  /** Time between poll starts. Default 5000 (12 requests/minute). Must be ≥ {@link MIN_REST_INTERVAL_MS} unless `ignoreRateLimit`. */
  intervalMs?: number;
  /** Allows `intervalMs` below the documented limit (local servers, tests). Default false. */
  ignoreRateLimit?: boolean;
  /** Delay growth after failed polls (network, 5xx, 429). Default initial 10 s, max 120 s, factor 2, jitter 0.5. */
  backoff?: BackoffOptions;
  /** Minimum wait after HTTP 429, since Bitfinex blocks the IP for 60 s; a larger `Retry-After` wins. Default 60 000. */
  rateLimitCooldownMs?: number;
  /** Abort a request after this long. Default 10 000. */
  requestTimeoutMs?: number;
  /** HTTP client. Default the global `fetch` (Node ≥ 20). */
  fetch?: typeof fetch;
}

/**
 * Polls `GET {baseUrl}/v2/tickers?symbols=…` and emits one Ticker per trading symbol per poll, with
 * `eventTime` = when the response arrived. Failed polls are reported via `onError` and retried with
 * jittered exponential backoff (never faster than `intervalMs`); the source never stops on its own.
 *
 * @example
 * ```ts
 * const source = createBitfinexRestSource({ symbols: ['tBTCUSD', 'tETHUSD'], intervalMs: 10_000 });
 * source.onTicker((t) => console.log(t.symbol, t.lastPrice, new Date(t.eventTime)));
 * source.onError((e) => log.warn(e.message));
 * await source.start(); // resolves after the first poll
 * ```
 */
export function createBitfinexRestSource(options: BitfinexRestSourceOptions): BitfinexRestSource {
  return new BitfinexRestSource(options);
}

/** The REST polling source; see {@link createBitfinexRestSource}. */
export class BitfinexRestSource extends MarketSourceBase {
  protected readonly sourceName = 'bitfinex-rest';
  private readonly url: string;
  private readonly intervalMs: number;
  private readonly backoff: Backoff;
  private readonly rateLimitCooldownMs: number;
  private readonly requestTimeoutMs: number;
  private readonly fetchImpl: typeof fetch;
  private readonly stopping = new AbortController();
  private loop: Promise<void> | undefined;

  constructor(options: BitfinexRestSourceOptions) {
    super();
    const symbols = validateSymbols(options.symbols, 'Bitfinex REST source');
    this.intervalMs = options.intervalMs ?? 5_000;
    requirePositive('intervalMs', this.intervalMs);
    if (this.intervalMs < MIN_REST_INTERVAL_MS && !options.ignoreRateLimit) {
      throw configError(
        `intervalMs ${this.intervalMs} would exceed Bitfinex's public REST rate limit; use ≥ ${MIN_REST_INTERVAL_MS} or set ignoreRateLimit for a local server`,
        { intervalMs: this.intervalMs },
      );
    }
    this.backoff = resolveBackoff(options.backoff, { initialDelayMs: 10_000, maxDelayMs: 120_000 });
    this.rateLimitCooldownMs = options.rateLimitCooldownMs ?? 60_000;
    requirePositive('rateLimitCooldownMs', this.rateLimitCooldownMs, true);
    this.requestTimeoutMs = options.requestTimeoutMs ?? 10_000;
    requirePositive('requestTimeoutMs', this.requestTimeoutMs);
    const fetchImpl = options.fetch ?? globalThis.fetch;
    if (typeof fetchImpl !== 'function')
      throw configError('no fetch implementation: use Node ≥ 20 or pass options.fetch', {});
    // Called detached from `this`: some fetch implementations throw "Illegal invocation" when bound to another object.
    this.fetchImpl = (input, init) => fetchImpl(input, init);
    const base = (options.baseUrl ?? BITFINEX_REST_URL).replace(/\/+$/, '');
    if (!/^https?:\/\/[^/]/.test(base))
      throw configError('baseUrl must be an http:// or https:// URL', { baseUrl: base });
    this.url = `${base}/v2/tickers?symbols=${symbols.map(encodeURIComponent).join(',')}`;
  }

  async start(): Promise<void> {
    if (this.status !== 'idle') return;
    this.setStatus('connecting');
    let firstPollDone!: () => void;
    const started = new Promise<void>((resolve) => {
      firstPollDone = resolve;
    });
    this.loop = this.run(firstPollDone);
    await started;
  }

  async stop(): Promise<void> {
    if (this.status === 'stopped') return;
    this.setStatus('stopped');
    this.stopping.abort();
    await this.loop;
  }

  private async run(firstPollDone: () => void): Promise<void> {
    let failures = 0;
    while (!this.stopping.signal.aborted) {
      const startedAt = Date.now();
      const failure = await this.pollOnce();
      firstPollDone();
      if (this.stopping.signal.aborted) return;
      let delay = Math.max(0, this.intervalMs - (Date.now() - startedAt));
      if (failure) {
        delay = Math.max(delay, backoffDelay(this.backoff, failures), failure.minDelayMs);
        failures += 1;
        this.counters.reconnects += 1;
        this.setStatus('reconnecting');
      } else {
        failures = 0;
        this.setStatus('live');
      }
      await sleep(delay, this.stopping.signal);
    }
  }

  /** One request; returns undefined on success, or how long to wait at least before the next one. */
  private async pollOnce(): Promise<{ minDelayMs: number } | undefined> {
    const request = new AbortController();
    const onStop = (): void => request.abort();
    this.stopping.signal.addEventListener('abort', onStop, { once: true });
    const timeout = setTimeout(() => request.abort(), this.requestTimeoutMs);
    try {
      const response = await this.fetchImpl(this.url, {
        signal: request.signal,
        headers: { accept: 'application/json' },
      });
      const body = await response.text();
      this.counters.messages += 1;
      if (response.status === 429) {
        const retryAfterMs = Number(response.headers.get('retry-after')) * 1000 || 0;
        this.emitError(
          new FeedError('rate-limited', `Bitfinex REST rate limit hit (HTTP 429) on ${this.url}; backing off`, {
            details: { status: 429 },
          }),
        );
        return { minDelayMs: Math.max(this.rateLimitCooldownMs, retryAfterMs) };
      }
      if (!response.ok) {
        this.emitError(
          restErrorOf(safeJson(body)) ??
            new FeedError('http-status', `Bitfinex REST answered HTTP ${response.status}`, {
              details: { status: response.status, body: body.slice(0, 200) },
            }),
        );
        return { minDelayMs: 0 };
      }
      this.handleBody(body, Date.now());
      return undefined;
    } catch (cause) {
      if (this.stopping.signal.aborted) return undefined;
      const timedOut = request.signal.aborted;
      const message = timedOut
        ? `no answer within ${this.requestTimeoutMs} ms`
        : cause instanceof Error
          ? cause.message
          : String(cause);
      this.emitError(new FeedError('network', `Bitfinex REST request failed: ${message}`, { cause }));
      return { minDelayMs: 0 };
    } finally {
      clearTimeout(timeout);
      this.stopping.signal.removeEventListener('abort', onStop);
    }
  }

  private handleBody(body: string, receivedAt: number): void {
    let json: unknown;
    try {
      json = JSON.parse(body);
    } catch {
      this.emitError(new FeedMessageError('tickers response is not valid JSON', body));
      return;
    }
    try {
      const { tickers, funding, malformed } = parseRestTickers(json, receivedAt);
      this.counters.ignored += funding;
      for (const error of malformed) this.emitError(error);
      for (const ticker of tickers) this.emitTicker(ticker);
    } catch (error) {
      this.emitError(error as FeedMessageError | BitfinexApiError);
    }
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
