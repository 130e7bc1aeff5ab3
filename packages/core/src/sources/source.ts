// Sources / contract: the one interface every market-data source implements (events, status, stats, errors, backoff).
import { ConfigError, FeedMessageError, KandleError } from '../errors';
import { errorLogFields, type KandleLogger, silentLogger } from '../logger';
import { backoffMs } from '../retry';
import type { Ticker, Trade } from '../schema/types.generated';

/** One market-data event: a ticker snapshot or an executed trade. */
export type MarketEvent = { kind: 'ticker'; ticker: Ticker } | { kind: 'trade'; trade: Trade };

/**
 * Lifecycle of a source.
 * - `idle`: created, not started.
 * - `connecting`: opening its first connection (or first poll).
 * - `live`: delivering events.
 * - `reconnecting`: the connection was lost (or polls fail); retrying with backoff.
 * - `paused`: the exchange announced maintenance; waiting for it to end.
 * - `ended`: a finite source (replay without loop) ran out of events.
 * - `stopped`: `stop()` was called.
 */
export type SourceStatus = 'idle' | 'connecting' | 'live' | 'reconnecting' | 'paused' | 'ended' | 'stopped';

/** Counters every source keeps; read them with {@link MarketSource.stats}. */
export interface SourceStats {
  /** Raw messages received (WebSocket frames, REST responses, replayed or generated events). */
  messages: number;
  /** Tickers delivered to listeners. */
  tickers: number;
  /** Trades delivered to listeners. */
  trades: number;
  /** Messages that did not match the documented layout (each one also reported to `onError`). */
  malformed: number;
  /** Well-formed messages deliberately not delivered: funding tickers, `tu` trade updates, already-seen snapshot trades, frames of channels no longer subscribed. */
  ignored: number;
  /** Connections re-opened (WebSocket) or polls retried after a failure (REST). */
  reconnects: number;
  /** Heartbeat frames received. */
  heartbeats: number;
  /** Errors reported to `onError` (malformed messages included). */
  errors: number;
}

/** Call it to remove the listener it was returned for. */
export type Unsubscribe = () => void;

/** Why a {@link FeedError} happened. */
export type FeedErrorReason =
  /** Socket or HTTP request failed before an answer arrived. */
  | 'network'
  /** The server answered with an unexpected HTTP status (5xx, 4xx other than 429). */
  | 'http-status'
  /** The exchange's rate limit was hit (HTTP 429, or a rate-limit body with any status); the source backs off. */
  | 'rate-limited'
  /** No frame (data or heartbeat) arrived within the heartbeat timeout; the connection is recycled. */
  | 'heartbeat-timeout'
  /** The exchange sent an error event or an error body (see `BitfinexApiError`). */
  | 'api-error'
  /** A subscription was not confirmed after every allowed attempt; the source stopped asking on this connection. */
  | 'subscribe-timeout'
  /** One subscribed channel stayed silent (no data, no heartbeat) while others flowed; it is resubscribed. */
  | 'channel-silent'
  /** Maintenance (info 20060, or platform status 0) lasted longer than allowed without 20061; the source reconnects. */
  | 'maintenance-timeout'
  /** A sequence number (conf flag SEQ_ALL) was skipped or repeated: frames were lost; the source reconnects. */
  | 'sequence-gap'
  /** One of your listeners threw; the source kept running. */
  | 'listener-threw'
  /** A recording could not be read to the end (missing file, I/O error). */
  | 'recording-unreadable';

// errors.ts offers no code for "the feed is unreachable or refused a request"; FEED_MESSAGE_INVALID is the nearest
// feed code it has. Branch on `instanceof FeedError` and `reason` rather than on the code.
const FEED_ERROR_CODE = 'FEED_MESSAGE_INVALID';

/**
 * A market-data source could not reach, or was refused by, the exchange. Sources report it via
 * `onError` and keep running (they retry with backoff); it is never thrown out of a socket handler.
 *
 * @example
 * ```ts
 * source.onError((e) => { if (e instanceof FeedError && e.reason === 'rate-limited') metrics.inc('feed_429') });
 * ```
 */
export class FeedError extends KandleError {
  readonly reason: FeedErrorReason;

  constructor(
    reason: FeedErrorReason,
    message: string,
    options: { cause?: unknown; details?: Record<string, unknown> } = {},
  ) {
    super(FEED_ERROR_CODE, message, { ...options, details: { reason, ...options.details } });
    this.reason = reason;
  }
}

/** What `onError` listeners receive. */
export type SourceError = FeedError | FeedMessageError;

/**
 * A live or recorded stream of market events.
 *
 * Primary API: the `on*` callbacks. They are called synchronously, in order, for every event, and
 * never miss events delivered after they were registered. The async iterator is a convenience on top:
 * `for await (const ev of source)` buffers events from the moment iteration begins until the source
 * ends or stops (the loop then finishes); breaking out of the loop detaches it. Errors never end a
 * source: they go to `onError` and are counted in `stats()`.
 *
 * @example
 * ```ts
 * const source = createSyntheticSource({ seed: 42 });
 * source.onTicker((t) => console.log(t.symbol, t.lastPrice));
 * source.onError((e) => console.warn(e.message));
 * await source.start();
 * // … later
 * await source.stop();
 * ```
 */
export interface MarketSource extends AsyncIterable<MarketEvent> {
  /** Starts delivering events. Resolves once the source is live (first connection open / first poll done). */
  start(): Promise<void>;
  /** Stops for good: closes connections, clears timers, finishes iterators. Idempotent. */
  stop(): Promise<void>;
  /** Every event, tickers and trades interleaved in arrival order. */
  onEvent(listener: (event: MarketEvent) => void): Unsubscribe;
  onTicker(listener: (ticker: Ticker) => void): Unsubscribe;
  onTrade(listener: (trade: Trade) => void): Unsubscribe;
  /** Non-fatal problems: malformed frames, network failures, exchange error events. */
  onError(listener: (error: SourceError) => void): Unsubscribe;
  onStatus(listener: (status: SourceStatus) => void): Unsubscribe;
  /** Current lifecycle state. */
  readonly status: SourceStatus;
  /** A copy of the counters. */
  stats(): SourceStats;
}

/** Reconnect / retry delays: `min(maxDelayMs, initialDelayMs · factor^attempt)`, minus up to `jitter` of it at random. */
export interface BackoffOptions {
  /** First retry delay. Default differs per source. */
  initialDelayMs?: number;
  /** Upper bound of any delay. Default differs per source. */
  maxDelayMs?: number;
  /** Growth per attempt. Default 2. */
  factor?: number;
  /** Fraction (0–1) of the delay that is randomized, so many clients do not retry in lockstep. Default 0.5. */
  jitter?: number;
}

/** Internal: a validated backoff policy. */
export interface Backoff {
  initialDelayMs: number;
  maxDelayMs: number;
  factor: number;
  jitter: number;
}

/** Internal: fills defaults and validates a {@link BackoffOptions}. */
export function resolveBackoff(
  options: BackoffOptions | undefined,
  defaults: { initialDelayMs: number; maxDelayMs: number },
): Backoff {
  const backoff: Backoff = {
    initialDelayMs: options?.initialDelayMs ?? defaults.initialDelayMs,
    maxDelayMs: options?.maxDelayMs ?? defaults.maxDelayMs,
    factor: options?.factor ?? 2,
    jitter: options?.jitter ?? 0.5,
  };
  requirePositive('backoff.initialDelayMs', backoff.initialDelayMs, true);
  requirePositive('backoff.maxDelayMs', backoff.maxDelayMs, true);
  if (!(backoff.factor >= 1)) throw configError('backoff.factor must be ≥ 1', { factor: backoff.factor });
  if (!(backoff.jitter >= 0 && backoff.jitter <= 1))
    throw configError('backoff.jitter must be within [0, 1]', { jitter: backoff.jitter });
  return backoff;
}

/** Internal: delay before retry number `attempt` (0-based). */
export function backoffDelay(backoff: Backoff, attempt: number, random: () => number = Math.random): number {
  const base = backoffMs(attempt, backoff.initialDelayMs, backoff.maxDelayMs, backoff.factor);
  return Math.round(base * (1 - backoff.jitter * random()));
}

/**
 * Internal: how long to wait before one more request so that at most `max` start within any `windowMs`
 * (0: go now). `starts` holds earlier start times, oldest first; entries outside the window are dropped from it.
 */
export function rollingWindowWait(starts: number[], max: number, windowMs: number, now: number): number {
  while (starts.length > 0 && (starts[0] as number) <= now - windowMs) starts.shift();
  if (starts.length < max) return 0;
  return (starts[starts.length - max] as number) + windowMs - now;
}

/** Internal: throws a ConfigError unless `value` is a finite number > 0 (or ≥ 0 when `allowZero`). */
export function requirePositive(name: string, value: number, allowZero = false): void {
  if (!Number.isFinite(value) || value < 0 || (!allowZero && value === 0)) {
    throw configError(`${name} must be a finite number ${allowZero ? '≥' : '>'} 0`, { [name]: value });
  }
}

/** Internal: the shared ConfigError factory, so messages are uniform across sources. */
export function configError(message: string, details: Record<string, unknown>): KandleError {
  return new ConfigError(message, details);
}

// ws-general: symbols are uppercase (btcusd is invalid), `t` + pair for trading, `f` + currency for funding;
// pairs with a long currency name carry a colon (tTESTBTC:TESTUSD, t1INCH:USD).
const BITFINEX_SYMBOL = /^[tf][A-Z0-9]+(?::[A-Z0-9]+)?$/;

// A lowercase symbol is the usual slip (Bitfinex omits it from REST answers silently): suggest the accepted spelling.
function symbolHint(symbol: unknown): string {
  if (typeof symbol === 'string' && /^[tf]/i.test(symbol)) {
    const fixed = `${symbol.charAt(0).toLowerCase()}${symbol.slice(1).toUpperCase()}`;
    if (BITFINEX_SYMBOL.test(fixed))
      return ` (did you mean "${fixed}"? Bitfinex symbols are uppercase after the t/f prefix)`;
  }
  return ' (expected e.g. tBTCUSD)';
}

/**
 * Why `symbol` is not a Bitfinex symbol (`t` + pair for trading, `f` + currency for funding, uppercase, one optional
 * colon), with the accepted spelling when it is a case slip; undefined when it is one. Shared by every place that
 * checks symbols, so the sources and the apps agree.
 *
 * @example
 * ```ts
 * bitfinexSymbolProblem('tbtcusd'); // '"tbtcusd" is not a Bitfinex symbol (did you mean "tBTCUSD"? …)'
 * ```
 */
export function bitfinexSymbolProblem(symbol: unknown): string | undefined {
  if (typeof symbol === 'string' && BITFINEX_SYMBOL.test(symbol)) return undefined;
  return `"${String(symbol)}" is not a Bitfinex symbol${symbolHint(symbol)}`;
}

/** Internal: ConfigError unless `symbols` is a non-empty list of distinct Bitfinex symbols. */
export function validateSymbols(symbols: readonly string[], what: string): string[] {
  if (!Array.isArray(symbols) || symbols.length === 0)
    throw configError(`${what}: symbols must be a non-empty array`, { symbols });
  for (const symbol of symbols) {
    const problem = bitfinexSymbolProblem(symbol);
    if (problem) throw configError(`${what}: ${problem}`, { symbol });
  }
  if (new Set(symbols).size !== symbols.length) throw configError(`${what}: symbols contain duplicates`, { symbols });
  return [...symbols];
}

const TICKER_NUMBER_FIELDS = [
  'bid',
  'bidSize',
  'ask',
  'askSize',
  'dailyChange',
  'dailyChangeRelative',
  'lastPrice',
  'volume',
  'high',
  'low',
] as const satisfies readonly (keyof Ticker)[];

/** Internal: why `ticker` breaks the Ticker contract, or undefined when it is valid. */
export function tickerProblem(ticker: Ticker): string | undefined {
  if (typeof ticker.symbol !== 'string' || ticker.symbol === '') return 'symbol must be a non-empty string';
  for (const field of TICKER_NUMBER_FIELDS) {
    if (!Number.isFinite(ticker[field])) return `${field} must be a finite number, got ${String(ticker[field])}`;
  }
  if (!(ticker.lastPrice > 0)) return `lastPrice must be > 0, got ${ticker.lastPrice}`;
  if (!Number.isSafeInteger(ticker.eventTime) || ticker.eventTime < 0)
    return `eventTime must be Unix ms, got ${String(ticker.eventTime)}`;
  return undefined;
}

/** Internal: why `trade` breaks the Trade contract, or undefined when it is valid. */
export function tradeProblem(trade: Trade): string | undefined {
  if (typeof trade.symbol !== 'string' || trade.symbol === '') return 'symbol must be a non-empty string';
  if (!Number.isSafeInteger(trade.id)) return `id must be an integer, got ${String(trade.id)}`;
  if (!Number.isSafeInteger(trade.time) || trade.time < 0) return `time must be Unix ms, got ${String(trade.time)}`;
  if (!Number.isFinite(trade.amount)) return `amount must be a finite number, got ${String(trade.amount)}`;
  if (!(Number.isFinite(trade.price) && trade.price > 0))
    return `price must be a finite number > 0, got ${String(trade.price)}`;
  return undefined;
}

/** Internal: one consumer of the async iterator. */
interface IteratorQueue {
  buffer: MarketEvent[];
  wake: (() => void) | undefined;
  done: boolean;
}

/** The option every source takes: where its errors go while nobody listens. */
export interface SourceLogOptions {
  /**
   * Receives the source's errors while no `onError` listener is registered, at most one per 10 s:
   * `logger.warn({ err, code, retriable }, message)`. Every error is counted in `stats()` either way.
   * Default: silent (see docs/logging.md).
   */
  logger?: KandleLogger;
}

// Unhandled errors still need to be visible somewhere, but a flood of malformed frames must not flood the log.
const UNHANDLED_WARNING_INTERVAL_MS = 10_000;

/**
 * Internal base of every source: listener sets, iterator queues, stats and status. Subclasses call the
 * protected `emit*` helpers and implement `start`/`stop`.
 */
export abstract class MarketSourceBase implements MarketSource {
  protected readonly counters: SourceStats = {
    messages: 0,
    tickers: 0,
    trades: 0,
    malformed: 0,
    ignored: 0,
    reconnects: 0,
    heartbeats: 0,
    errors: 0,
  };
  private currentStatus: SourceStatus = 'idle';
  private readonly eventListeners = new Set<(event: MarketEvent) => void>();
  private readonly tickerListeners = new Set<(ticker: Ticker) => void>();
  private readonly tradeListeners = new Set<(trade: Trade) => void>();
  private readonly errorListeners = new Set<(error: SourceError) => void>();
  private readonly statusListeners = new Set<(status: SourceStatus) => void>();
  private readonly queues = new Set<IteratorQueue>();
  private lastUnhandledWarning = Number.NEGATIVE_INFINITY;

  /** @param logger - Where errors go while no `onError` listener is registered ({@link SourceLogOptions}). */
  constructor(private readonly logger: KandleLogger = silentLogger) {}

  /** Name used in warnings, e.g. `bitfinex-ws`. */
  protected abstract readonly sourceName: string;

  abstract start(): Promise<void>;
  abstract stop(): Promise<void>;

  get status(): SourceStatus {
    return this.currentStatus;
  }

  stats(): SourceStats {
    return { ...this.counters };
  }

  onEvent(listener: (event: MarketEvent) => void): Unsubscribe {
    return addListener(this.eventListeners, listener);
  }

  onTicker(listener: (ticker: Ticker) => void): Unsubscribe {
    return addListener(this.tickerListeners, listener);
  }

  onTrade(listener: (trade: Trade) => void): Unsubscribe {
    return addListener(this.tradeListeners, listener);
  }

  onError(listener: (error: SourceError) => void): Unsubscribe {
    return addListener(this.errorListeners, listener);
  }

  onStatus(listener: (status: SourceStatus) => void): Unsubscribe {
    return addListener(this.statusListeners, listener);
  }

  [Symbol.asyncIterator](): AsyncIterator<MarketEvent> {
    const queue: IteratorQueue = { buffer: [], wake: undefined, done: isFinal(this.currentStatus) };
    this.queues.add(queue);
    const detach = (): IteratorResult<MarketEvent> => {
      queue.done = true;
      queue.buffer.length = 0;
      this.queues.delete(queue);
      return { done: true, value: undefined };
    };
    return {
      next: async (): Promise<IteratorResult<MarketEvent>> => {
        for (;;) {
          const event = queue.buffer.shift();
          if (event) return { done: false, value: event };
          if (queue.done) return detach();
          await new Promise<void>((resolve) => {
            queue.wake = resolve;
          });
          queue.wake = undefined;
        }
      },
      return: async () => detach(),
    };
  }

  protected emitTicker(ticker: Ticker): void {
    this.counters.tickers += 1;
    this.deliver(this.tickerListeners, ticker);
    this.deliverEvent({ kind: 'ticker', ticker });
  }

  protected emitTrade(trade: Trade): void {
    this.counters.trades += 1;
    this.deliver(this.tradeListeners, trade);
    this.deliverEvent({ kind: 'trade', trade });
  }

  protected emitEvent(event: MarketEvent): void {
    if (event.kind === 'ticker') this.emitTicker(event.ticker);
    else this.emitTrade(event.trade);
  }

  /** Reports a non-fatal error; a FeedMessageError also counts as malformed. */
  protected emitError(error: SourceError): void {
    this.counters.errors += 1;
    if (error instanceof FeedMessageError) this.counters.malformed += 1;
    if (this.errorListeners.size === 0) {
      const now = Date.now();
      if (now - this.lastUnhandledWarning >= UNHANDLED_WARNING_INTERVAL_MS) {
        this.lastUnhandledWarning = now;
        this.logger.warn(
          errorLogFields(error),
          `[${this.sourceName}] ${error.message} (register onError to handle; see stats() for counts)`,
        );
      }
      return;
    }
    for (const listener of [...this.errorListeners]) {
      try {
        listener(error);
      } catch {
        // An error listener that throws has nowhere left to report to; keeping the source alive matters more.
      }
    }
  }

  protected setStatus(status: SourceStatus): void {
    if (status === this.currentStatus) return;
    this.currentStatus = status;
    for (const listener of [...this.statusListeners]) {
      try {
        listener(status);
      } catch (cause) {
        this.reportListenerFailure(cause);
      }
    }
    if (isFinal(status)) this.finishIterators();
  }

  private deliverEvent(event: MarketEvent): void {
    this.deliver(this.eventListeners, event);
    for (const queue of this.queues) {
      queue.buffer.push(event);
      queue.wake?.();
    }
  }

  private deliver<T>(listeners: Set<(value: T) => void>, value: T): void {
    for (const listener of [...listeners]) {
      try {
        listener(value);
      } catch (cause) {
        this.reportListenerFailure(cause);
      }
    }
  }

  private reportListenerFailure(cause: unknown): void {
    const message = cause instanceof Error ? cause.message : String(cause);
    this.emitError(new FeedError('listener-threw', `a ${this.sourceName} listener threw: ${message}`, { cause }));
  }

  private finishIterators(): void {
    for (const queue of this.queues) {
      queue.done = true;
      queue.wake?.();
    }
  }
}

function addListener<T>(set: Set<T>, listener: T): Unsubscribe {
  set.add(listener);
  return () => {
    set.delete(listener);
  };
}

function isFinal(status: SourceStatus): boolean {
  return status === 'ended' || status === 'stopped';
}

/** Internal: a promise that resolves after `ms`, or early when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
