// Sources / Bitfinex REST: polls the public /v2/tickers endpoint within its rate limit and emits Tickers.
import type { FeedMessageError } from '../errors';
import { type BitfinexApiError, parseRestTickers } from './bitfinex-frames';
import { BitfinexRestClient, restBaseUrl } from './bitfinex-rest-client';
import {
  type BackoffOptions,
  configError,
  MarketSourceBase,
  requirePositive,
  resolveBackoff,
  sleep,
  validateSymbols,
  type SourceLogOptions,
} from './source';

/** Bitfinex's public REST base URL. */
export const BITFINEX_REST_URL = 'https://api-pub.bitfinex.com';

/**
 * Requests per rolling minute kandle allows itself on Bitfinex's public REST API. Bitfinex documents 30/minute for
 * `/v2/tickers` and blocks an IP that exceeds it for 60 s; 27 leaves a margin for clock and timer drift.
 */
export const MAX_REST_REQUESTS_PER_MINUTE = 27;

/**
 * Fastest polling allowed without `ignoreRateLimit`: poll starts this far apart put at most
 * {@link MAX_REST_REQUESTS_PER_MINUTE} requests in any 60 s window (⌊60 000 / 2 250⌋ + 1 = 27).
 */
export const MIN_REST_INTERVAL_MS = 2_250;

/** Options of {@link createBitfinexRestSource}. */
export interface BitfinexRestSourceOptions extends SourceLogOptions {
  /** Bitfinex symbols, `t`/`f` + uppercase (e.g. `['tBTCUSD', 'fUSD']`). Funding symbols are fetched but skipped (counted in `stats().ignored`). */
  symbols: readonly string[];
  /** Default {@link BITFINEX_REST_URL}. */
  baseUrl?: string;
  /** Time between poll starts. Default 5000 (12 requests/minute). Must be ≥ {@link MIN_REST_INTERVAL_MS} unless `ignoreRateLimit`. */
  intervalMs?: number;
  /**
   * Allows `intervalMs` below {@link MIN_REST_INTERVAL_MS} and lifts the cap of {@link MAX_REST_REQUESTS_PER_MINUTE}
   * (local servers, tests). Default false.
   */
  ignoreRateLimit?: boolean;
  /** Delay growth after failed polls (network, 5xx, error bodies, maintenance). Default initial 10 s, max 120 s, factor 2, jitter 0.5. */
  backoff?: BackoffOptions;
  /** Minimum wait after a rate-limit answer (HTTP 429, `ERR_RATE_LIMIT`, code 11010), since Bitfinex blocks the IP for 60 s; a larger `Retry-After` wins. Default 60 000. */
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
 * After a rate limit or a maintenance answer it asks `GET /v2/platform/status` until the platform is up
 * (status `paused` meanwhile) before polling tickers again.
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
  private readonly path: string;
  private readonly intervalMs: number;
  private readonly client: BitfinexRestClient;
  private readonly stopping = new AbortController();
  private loop: Promise<void> | undefined;

  constructor(options: BitfinexRestSourceOptions) {
    super(options.logger);
    const symbols = validateSymbols(options.symbols, 'Bitfinex REST source');
    this.intervalMs = options.intervalMs ?? 5_000;
    requirePositive('intervalMs', this.intervalMs);
    if (this.intervalMs < MIN_REST_INTERVAL_MS && !options.ignoreRateLimit) {
      throw configError(
        `intervalMs ${this.intervalMs} would put more than ${MAX_REST_REQUESTS_PER_MINUTE} requests in a minute, too close to Bitfinex's public REST limit of 30; use ≥ ${MIN_REST_INTERVAL_MS} or set ignoreRateLimit for a local server`,
        { intervalMs: this.intervalMs },
      );
    }
    const rateLimitCooldownMs = options.rateLimitCooldownMs ?? 60_000;
    requirePositive('rateLimitCooldownMs', rateLimitCooldownMs, true);
    const requestTimeoutMs = options.requestTimeoutMs ?? 10_000;
    requirePositive('requestTimeoutMs', requestTimeoutMs);
    this.client = new BitfinexRestClient({
      baseUrl: restBaseUrl(options.baseUrl ?? BITFINEX_REST_URL),
      maxPerMinute: options.ignoreRateLimit ? Number.POSITIVE_INFINITY : MAX_REST_REQUESTS_PER_MINUTE,
      backoff: resolveBackoff(options.backoff, { initialDelayMs: 10_000, maxDelayMs: 120_000 }),
      rateLimitCooldownMs,
      requestTimeoutMs,
      ...(options.fetch ? { fetch: options.fetch } : {}),
      signal: this.stopping.signal,
    });
    this.path = `/v2/tickers?symbols=${symbols.map(encodeURIComponent).join(',')}`;
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
    let lastStart = 0;
    while (!this.stopping.signal.aborted) {
      const delivered = await this.client.get(this.path, {
        parse: (json) => this.handleBody(json, Date.now()) || undefined,
        onError: (error) => this.emitError(error),
        onAttempt: (startedAt) => {
          lastStart = startedAt;
          firstPollDone();
        },
        onResponse: () => {
          this.counters.messages += 1;
        },
        onRetry: (maintenance) => {
          this.counters.reconnects += 1;
          this.setStatus(maintenance ? 'paused' : 'reconnecting');
        },
        minSpacingMs: this.intervalMs,
      });
      firstPollDone();
      if (!delivered || this.stopping.signal.aborted) return;
      this.setStatus('live');
      await sleep(Math.max(0, this.intervalMs - (Date.now() - lastStart)), this.stopping.signal);
    }
  }

  /** Delivers the tickers of a 2xx body; false when the body was not a tickers array at all. */
  private handleBody(json: unknown, receivedAt: number): boolean {
    try {
      const { tickers, funding, malformed } = parseRestTickers(json, receivedAt);
      this.counters.ignored += funding;
      for (const error of malformed) this.emitError(error);
      for (const ticker of tickers) this.emitTicker(ticker);
      return true;
    } catch (error) {
      this.emitError(error as FeedMessageError | BitfinexApiError);
      return false;
    }
  }
}
