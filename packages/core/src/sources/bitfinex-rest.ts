// Sources / Bitfinex REST: polls the public /v2/tickers endpoint within its rate limit and emits Tickers.
import { FeedMessageError } from '../errors';
import { BitfinexApiError, parseRestTickers, RATE_LIMIT_CODE, restErrorOf } from './bitfinex-frames';
import {
  type Backoff,
  type BackoffOptions,
  backoffDelay,
  configError,
  FeedError,
  MarketSourceBase,
  requirePositive,
  resolveBackoff,
  rollingWindowWait,
  sleep,
  validateSymbols,
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

/** Bitfinex's code for "entering maintenance", also used in REST error bodies. */
const MAINTENANCE_CODE = 20060;

/** Options of {@link createBitfinexRestSource}. */
export interface BitfinexRestSourceOptions {
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

/** What one request came to: delivered, or how long to wait at least and whether the platform must be asked first. */
type PollOutcome = { ok: true } | { ok: false; minDelayMs: number; checkPlatform: boolean; maintenance: boolean };

const RETRY = { ok: false, minDelayMs: 0, checkPlatform: false, maintenance: false } as const satisfies PollOutcome;

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
  private readonly url: string;
  private readonly statusUrl: string;
  private readonly intervalMs: number;
  private readonly backoff: Backoff;
  private readonly rateLimitCooldownMs: number;
  private readonly requestTimeoutMs: number;
  private readonly maxPerMinute: number;
  private readonly fetchImpl: typeof fetch;
  private readonly stopping = new AbortController();
  private readonly requestStarts: number[] = [];
  private loop: Promise<void> | undefined;

  constructor(options: BitfinexRestSourceOptions) {
    super();
    const symbols = validateSymbols(options.symbols, 'Bitfinex REST source');
    this.intervalMs = options.intervalMs ?? 5_000;
    requirePositive('intervalMs', this.intervalMs);
    if (this.intervalMs < MIN_REST_INTERVAL_MS && !options.ignoreRateLimit) {
      throw configError(
        `intervalMs ${this.intervalMs} would put more than ${MAX_REST_REQUESTS_PER_MINUTE} requests in a minute, too close to Bitfinex's public REST limit of 30; use ≥ ${MIN_REST_INTERVAL_MS} or set ignoreRateLimit for a local server`,
        { intervalMs: this.intervalMs },
      );
    }
    this.maxPerMinute = options.ignoreRateLimit ? Number.POSITIVE_INFINITY : MAX_REST_REQUESTS_PER_MINUTE;
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
    this.statusUrl = `${base}/v2/platform/status`;
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
    let checkPlatform = false;
    while (!this.stopping.signal.aborted) {
      // Every request, status checks included, counts against the per-minute cap.
      await sleep(rollingWindowWait(this.requestStarts, this.maxPerMinute, 60_000, Date.now()), this.stopping.signal);
      if (this.stopping.signal.aborted) return;
      const startedAt = Date.now();
      this.requestStarts.push(startedAt);
      const outcome: PollOutcome = checkPlatform ? await this.checkPlatform() : await this.pollOnce();
      firstPollDone();
      if (this.stopping.signal.aborted) return;
      let delay = Math.max(0, this.intervalMs - (Date.now() - startedAt));
      if (outcome.ok && checkPlatform) {
        // The platform is up: the next request polls tickers; only a delivered poll makes the source live again.
        checkPlatform = false;
      } else if (outcome.ok) {
        failures = 0;
        this.setStatus('live');
      } else {
        delay = Math.max(delay, backoffDelay(this.backoff, failures), outcome.minDelayMs);
        failures += 1;
        this.counters.reconnects += 1;
        checkPlatform ||= outcome.checkPlatform;
        this.setStatus(outcome.maintenance ? 'paused' : 'reconnecting');
      }
      await sleep(delay, this.stopping.signal);
    }
  }

  /** One tickers request. */
  private async pollOnce(): Promise<PollOutcome> {
    const answer = await this.request(this.url);
    if (!answer) return RETRY;
    const { response, body } = answer;
    const json = safeJson(body);
    // Bitfinex sends error bodies with HTTP 200 too: the body decides, not the status.
    const apiError = restErrorOf(json);
    if (response.status === 429 || apiError?.bitfinexCode === RATE_LIMIT_CODE) {
      const retryAfterMs = Number(response.headers.get('retry-after')) * 1000 || 0;
      this.emitError(
        new FeedError(
          'rate-limited',
          `Bitfinex REST rate limit hit (HTTP ${response.status}) on ${this.url}; backing off`,
          {
            details: { status: response.status, body: body.slice(0, 200) },
          },
        ),
      );
      return {
        ok: false,
        minDelayMs: Math.max(this.rateLimitCooldownMs, retryAfterMs),
        checkPlatform: true,
        maintenance: false,
      };
    }
    if (apiError) {
      this.emitError(apiError);
      const maintenance = isMaintenance(apiError);
      return { ok: false, minDelayMs: 0, checkPlatform: maintenance, maintenance };
    }
    if (!response.ok) {
      this.emitError(
        new FeedError('http-status', `Bitfinex REST answered HTTP ${response.status}`, {
          details: { status: response.status, body: body.slice(0, 200) },
        }),
      );
      return RETRY;
    }
    return this.handleBody(json, body, Date.now()) ? { ok: true } : RETRY;
  }

  /** `GET /v2/platform/status`: `[1]` is up, `[0]` is maintenance. */
  private async checkPlatform(): Promise<PollOutcome> {
    const answer = await this.request(this.statusUrl);
    if (!answer) return { ...RETRY, checkPlatform: true };
    const json = safeJson(answer.body);
    if (answer.response.ok && Array.isArray(json) && json[0] === 1) return { ok: true };
    const maintenance = Array.isArray(json) && json[0] === 0;
    this.emitError(
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
  private async request(url: string): Promise<{ response: Response; body: string } | undefined> {
    const request = new AbortController();
    const onStop = (): void => request.abort();
    this.stopping.signal.addEventListener('abort', onStop, { once: true });
    const timeout = setTimeout(() => request.abort(), this.requestTimeoutMs);
    try {
      const response = await this.fetchImpl(url, { signal: request.signal, headers: { accept: 'application/json' } });
      const body = await response.text();
      this.counters.messages += 1;
      return { response, body };
    } catch (cause) {
      if (this.stopping.signal.aborted) return undefined;
      const message = request.signal.aborted
        ? `no answer within ${this.requestTimeoutMs} ms`
        : cause instanceof Error
          ? cause.message
          : String(cause);
      this.emitError(new FeedError('network', `Bitfinex REST request failed: ${message}`, { cause }));
      return undefined;
    } finally {
      clearTimeout(timeout);
      this.stopping.signal.removeEventListener('abort', onStop);
    }
  }

  /** Delivers the tickers of a 2xx body; false when the body was not a tickers array at all. */
  private handleBody(json: unknown, body: string, receivedAt: number): boolean {
    if (json === undefined) {
      this.emitError(new FeedMessageError('tickers response is not valid JSON', body));
      return false;
    }
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
