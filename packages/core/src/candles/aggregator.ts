// Candles: folds tickers and trades into OHLCV candles by event time, closing them with a watermark and correcting late data.

import { ConfigError } from '../errors';
import type { Ticker, Trade } from '../schema/types.generated';
import { floorToGrid, parseInterval } from './interval';
import type { Candle, CandleInterval, CandleSource, CandleUpdate, CandleUpdateKind } from './types';

/** Options of {@link createCandleAggregator}. Every field is optional. */
export interface CandleAggregatorOptions {
  /** Candle widths to build at once, each a separate series per symbol. Default `['1m']`. */
  intervals?: CandleInterval[] | undefined;
  /**
   * How far behind the newest event time of a (symbol, source) a record may arrive and still
   * land in an open bucket. Default `5000` ms.
   */
  gracePeriodMs?: number | undefined;
  /**
   * How many closed buckets each series (symbol × source × interval) remembers so that a late
   * record can still correct them. Older ones are forgotten; records for them are dropped as
   * late (see {@link CandleAggregatorStats.droppedLate}). Default `60`.
   */
  retainClosedBuckets?: number | undefined;
  /**
   * Memory guard: the most open buckets kept across all series. When a new bucket would
   * exceed it, the open bucket with the oldest end is closed early (emitted as `'closed'`;
   * later records for it become corrections). Default: no limit.
   */
  maxOpenBuckets?: number | undefined;
  /**
   * How `'progress'` updates (an open candle changed) are reported. Default `true`.
   * - `true`: every record that lands in an open bucket returns one.
   * - `'coalesced'`: a record that opens a bucket returns one; later records only mark the bucket, and
   *   {@link CandleAggregator.takeProgress} returns one update per marked bucket that is still open. What a
   *   consumer emitting once per batch wants: no allocation per record.
   * - `false`: never (only closed candles and corrections matter).
   */
  emitProgress?: boolean | 'coalesced' | undefined;
  /** Called for every record that is skipped as invalid, with the reason. */
  onInvalid?: ((record: Ticker | Trade, reason: string) => void) | undefined;
  /** Called for every record dropped because its bucket was already forgotten (once per interval). */
  onLate?: ((record: Ticker | Trade, late: LateRecord) => void) | undefined;
}

/** Where a dropped late record would have gone. */
export interface LateRecord {
  symbol: string;
  source: CandleSource;
  interval: CandleInterval;
  /** Start of the forgotten bucket the record belongs to, Unix ms. */
  bucketStart: number;
  /** The series' watermark when the record arrived: newest event time − grace period. */
  watermark: number;
}

/** Counters since the aggregator was created. */
export interface CandleAggregatorStats {
  /** Records passed to `addTicker`/`addTrade`, valid or not. */
  records: number;
  /** `'progress'` updates emitted. */
  progress: number;
  /** `'closed'` updates emitted. */
  closed: number;
  /** `'correction'` updates emitted. */
  corrections: number;
  /** (record, interval) pairs dropped because the bucket was already forgotten. */
  droppedLate: number;
  /** Records skipped as invalid. */
  invalid: number;
  /** Buckets open right now, across all series. */
  openBuckets: number;
}

/** Everything needed to rebuild one open bucket exactly: the candle plus the event times of its open and close. */
export interface OpenCandleState extends Candle {
  /** Event time of the record that set `open`. */
  openTime: number;
  /** Event time of the record that set `close`. */
  closeTime: number;
}

/** Newest event time of one (symbol, source): its watermark is this minus the grace period. */
export interface StreamClock {
  symbol: string;
  source: CandleSource;
  maxEventTime: number;
}

/** What {@link CandleAggregator.restore} takes: the open buckets and the clocks of an earlier aggregator. */
export interface CandleAggregatorCheckpoint {
  open: OpenCandleState[];
  clocks: StreamClock[];
}

/** Stateful candle builder returned by {@link createCandleAggregator}. */
export interface CandleAggregator {
  /** Folds a ticker in (price = `lastPrice`, no volume); returns the updates it caused. */
  addTicker(ticker: Ticker): readonly CandleUpdate[];
  /** Folds a trade in (price = `price`, volume += `|amount|`); returns the updates it caused. */
  addTrade(trade: Trade): readonly CandleUpdate[];
  /** Closes every open bucket now (shutdown, partition revoke) and returns the `'closed'` updates. */
  flush(): CandleUpdate[];
  /**
   * With `emitProgress: 'coalesced'`: a `'progress'` update for every open candle changed since the last call
   * (latest values; candles that closed meanwhile were already returned as `'closed'`). Otherwise empty.
   */
  takeProgress(): CandleUpdate[];
  /** Open and remembered closed candles, optionally filtered, sorted by start (then symbol, source, interval). */
  snapshot(symbol?: string, interval?: CandleInterval): Candle[];
  /** A copy of the counters. */
  stats(): CandleAggregatorStats;
  /** The full state of one open bucket (for a checkpoint); `undefined` once it closed or if it never existed. */
  openCandle(
    symbol: string,
    source: CandleSource,
    interval: CandleInterval,
    start: number,
  ): OpenCandleState | undefined;
  /** Newest event time of every (symbol, source) seen so far. */
  clocks(): StreamClock[];
  /**
   * Loads a checkpoint into a fresh aggregator (throws `ConfigError` on one that has seen data): its open buckets and
   * clocks, so that further records give the candles an uninterrupted aggregator would. Closed buckets are not part of
   * a checkpoint: a record for a bucket that ended at or before a restored watermark is dropped as late (`onLate`),
   * never re-emitted as a partial candle. Buckets of intervals this aggregator does not build are ignored.
   */
  restore(checkpoint: CandleAggregatorCheckpoint): void;
}

/** Mutable accumulator of one bucket; copied into a {@link Candle} whenever it is emitted. */
class Bucket {
  readonly start: number;
  readonly end: number;
  open: number;
  openTime: number;
  close: number;
  closeTime: number;
  high: number;
  low: number;
  volume: number;
  count = 1;
  /** Changed since the last takeProgress() (coalesced mode only). */
  marked = false;

  constructor(start: number, end: number, time: number, price: number, volume: number) {
    this.start = start;
    this.end = end;
    this.open = price;
    this.openTime = time;
    this.close = price;
    this.closeTime = time;
    this.high = price;
    this.low = price;
    this.volume = volume;
  }

  add(time: number, price: number, volume: number): void {
    if (price > this.high) this.high = price;
    else if (price < this.low) this.low = price;
    // Strict < keeps the first arrival on equal times; >= lets the last arrival win. In-order records (nearly all)
    // only move the close; a time before the close may also be before the open.
    if (time >= this.closeTime) {
      this.closeTime = time;
      this.close = price;
    } else if (time < this.openTime) {
      this.openTime = time;
      this.open = price;
    }
    this.volume += volume;
    this.count++;
  }
}

/** One candle series: a symbol × source × interval, with its open and remembered closed buckets. */
class Series {
  /** Sorted by start; usually one or two buckets. */
  readonly open: Bucket[] = [];
  /** Sorted by start; at most `retainClosedBuckets`. */
  readonly closed: Bucket[] = [];
  /** Largest start ever forgotten: buckets at or before it are never recreated. */
  evictedThrough = Number.NEGATIVE_INFINITY;

  constructor(
    readonly symbol: string,
    readonly source: CandleSource,
    readonly interval: CandleInterval,
    readonly intervalMs: number,
  ) {}
}

/** Everything for one (symbol, source): its watermark clock and one series per interval. */
interface Stream {
  maxEventTime: number;
  /** No open bucket of this stream ends before this: a watermark below it closes nothing (saves a scan per record). */
  closesNothingBefore: number;
  readonly series: Series[];
}

/** Updates of one call, created on the first one. */
type Emitted = CandleUpdate[] | undefined;

// Returned when a record changes nothing worth reporting (the common case with coalesced progress): no allocation.
const NO_UPDATES: readonly CandleUpdate[] = Object.freeze([]);

const NOT_AN_OBJECT = 'record must be an object';
const BAD_SYMBOL = 'symbol must be a non-empty string';
const BAD_TIME = 'event time must be a finite number';
const BAD_PRICE = 'price must be a finite number >= 0';
const BAD_AMOUNT = 'amount must be a finite number';

/** Everything one aggregator owns; the functions below are shared by all aggregators so V8 optimizes them once. */
interface State {
  readonly intervals: ReadonlyArray<[CandleInterval, number]>;
  readonly gracePeriodMs: number;
  readonly retainClosedBuckets: number;
  readonly maxOpenBuckets: number;
  /** A progress update per record. */
  readonly emitProgress: boolean;
  /** Mark changed buckets for takeProgress() instead. */
  readonly coalesceProgress: boolean;
  /** Buckets marked since the last takeProgress(), with their series. */
  readonly marked: Array<[Series, Bucket]>;
  readonly onInvalid: CandleAggregatorOptions['onInvalid'];
  readonly onLate: CandleAggregatorOptions['onLate'];
  readonly tickerStreams: Map<string, Stream>;
  readonly tradeStreams: Map<string, Stream>;
  readonly allSeries: Series[];
  openBuckets: number;
  /** Records passed in, valid or not: a field of its own, one load less per record than inside `counters`. */
  records: number;
  readonly counters: Omit<CandleAggregatorStats, 'openBuckets' | 'records'>;
}

/**
 * Creates a candle aggregator: feed it tickers and trades in any order, get candle updates
 * back. Candles are bucketed by event time on the epoch grid like SQL
 * `DATE_BIN(interval, time, '1970-01-01T00:00:00Z')`; open/close are the prices of the
 * earliest/latest record by event time. Each (symbol, source) has a watermark = newest
 * event time − `gracePeriodMs`; a bucket whose end is at or before the watermark is
 * emitted once as `'closed'`, a later record for a remembered closed bucket emits a
 * `'correction'`, and a record for a forgotten bucket is dropped, counted and reported
 * through `onLate`. Invalid records never throw: they are counted and passed to `onInvalid`.
 * See docs/candles.md for the full rules.
 *
 * @throws {ConfigError} for an invalid option.
 *
 * @example
 * ```ts
 * const candles = createCandleAggregator({ intervals: ['1m', '5m'], gracePeriodMs: 2000 });
 * for (const update of candles.addTicker(ticker)) sink.upsert(update.candle);
 * process.on('SIGTERM', () => sink.upsertAll(candles.flush().map((u) => u.candle)));
 * ```
 */
export function createCandleAggregator(options: CandleAggregatorOptions = {}): CandleAggregator {
  const state = createState(options);
  return {
    addTicker: (ticker) => addTicker(state, ticker),
    addTrade: (trade) => addTrade(state, trade),
    flush: () => flush(state),
    takeProgress: () => takeProgress(state),
    snapshot: (symbol, interval) => snapshot(state, symbol, interval),
    stats: () => ({ records: state.records, ...state.counters, openBuckets: state.openBuckets }),
    openCandle: (symbol, source, interval, start) => openCandle(state, symbol, source, interval, start),
    clocks: () => clocks(state),
    restore: (checkpoint) => restore(state, checkpoint),
  };
}

function streamsOf(state: State, source: CandleSource): Map<string, Stream> {
  return source === 'ticker' ? state.tickerStreams : state.tradeStreams;
}

function openCandle(
  state: State,
  symbol: string,
  source: CandleSource,
  interval: CandleInterval,
  start: number,
): OpenCandleState | undefined {
  const series = streamsOf(state, source)
    .get(symbol)
    ?.series.find((s) => s.interval === interval);
  const bucket = series && findByStart(series.open, start);
  if (!series || !bucket) return undefined;
  return { ...toCandle(series, bucket), openTime: bucket.openTime, closeTime: bucket.closeTime };
}

function clocks(state: State): StreamClock[] {
  const out: StreamClock[] = [];
  for (const [source, streams] of [
    ['ticker', state.tickerStreams],
    ['trade', state.tradeStreams],
  ] as const)
    for (const [symbol, stream] of streams) out.push({ symbol, source, maxEventTime: stream.maxEventTime });
  return out;
}

function restore(state: State, checkpoint: CandleAggregatorCheckpoint): void {
  if (state.allSeries.length > 0) throw new ConfigError('restore() needs an aggregator that has not seen data yet');
  const streamOf = (symbol: string, source: CandleSource) =>
    streamsOf(state, source).get(symbol) ?? createStream(state, streamsOf(state, source), source, symbol);
  for (const clock of checkpoint.clocks) {
    const stream = streamOf(clock.symbol, clock.source);
    stream.maxEventTime = clock.maxEventTime;
    const watermark = clock.maxEventTime - state.gracePeriodMs;
    // Every bucket ending at or before the watermark was closed (and emitted) before the checkpoint: never recreate it.
    if (Number.isFinite(watermark))
      for (const series of stream.series)
        series.evictedThrough = floorToGrid(watermark, series.intervalMs) - series.intervalMs;
  }
  for (const c of checkpoint.open) {
    const series = streamOf(c.symbol, c.source).series.find((s) => s.interval === c.interval);
    if (!series || findByStart(series.open, c.start)) continue;
    const bucket = new Bucket(c.start, c.end, c.openTime, c.open, c.volume);
    Object.assign(bucket, { close: c.close, closeTime: c.closeTime, high: c.high, low: c.low, count: c.count });
    insertByStart(series.open, bucket);
    state.openBuckets++;
  }
}

function createState(options: CandleAggregatorOptions): State {
  const intervals = validateIntervals(options.intervals ?? ['1m']);
  const gracePeriodMs = options.gracePeriodMs ?? 5000;
  if (!Number.isFinite(gracePeriodMs) || gracePeriodMs < 0) {
    throw new ConfigError(`gracePeriodMs must be a finite number >= 0, got ${String(gracePeriodMs)}`, {
      gracePeriodMs,
    });
  }
  const emitProgress = options.emitProgress ?? true;
  if (emitProgress !== true && emitProgress !== false && emitProgress !== 'coalesced') {
    throw new ConfigError(`emitProgress must be true, false or 'coalesced', got ${String(emitProgress)}`, {
      emitProgress,
    });
  }
  const retainClosedBuckets = options.retainClosedBuckets ?? 60;
  if (!Number.isSafeInteger(retainClosedBuckets) || retainClosedBuckets < 0) {
    throw new ConfigError(`retainClosedBuckets must be an integer >= 0, got ${String(retainClosedBuckets)}`, {
      retainClosedBuckets,
    });
  }
  const maxOpenBuckets = options.maxOpenBuckets ?? Number.POSITIVE_INFINITY;
  if (!(maxOpenBuckets === Number.POSITIVE_INFINITY || (Number.isSafeInteger(maxOpenBuckets) && maxOpenBuckets >= 1))) {
    throw new ConfigError(`maxOpenBuckets must be an integer >= 1, got ${String(maxOpenBuckets)}`, { maxOpenBuckets });
  }
  return {
    intervals,
    gracePeriodMs,
    retainClosedBuckets,
    maxOpenBuckets,
    emitProgress: emitProgress === true,
    coalesceProgress: emitProgress === 'coalesced',
    marked: [],
    onInvalid: options.onInvalid,
    onLate: options.onLate,
    tickerStreams: new Map(),
    tradeStreams: new Map(),
    allSeries: [],
    openBuckets: 0,
    records: 0,
    counters: { progress: 0, closed: 0, corrections: 0, droppedLate: 0, invalid: 0 },
  };
}

function addTicker(state: State, ticker: Ticker): readonly CandleUpdate[] {
  state.records++;
  if (typeof ticker !== 'object' || ticker === null) return skip(state, ticker, NOT_AN_OBJECT);
  const { symbol, eventTime, lastPrice } = ticker;
  // A known stream was created for a valid symbol (only non-empty strings are ever keys): skip checking it again.
  let stream = state.tickerStreams.get(symbol);
  const reason =
    stream === undefined ? invalidReason(symbol, eventTime, lastPrice) : invalidNumbers(eventTime, lastPrice);
  if (reason !== undefined) return skip(state, ticker, reason);
  stream ??= createStream(state, state.tickerStreams, 'ticker', symbol);
  return ingest(state, ticker, stream, eventTime, lastPrice, 0);
}

function addTrade(state: State, trade: Trade): readonly CandleUpdate[] {
  state.records++;
  if (typeof trade !== 'object' || trade === null) return skip(state, trade, NOT_AN_OBJECT);
  const { symbol, time, price, amount } = trade;
  let stream = state.tradeStreams.get(symbol);
  const reason =
    (stream === undefined ? invalidReason(symbol, time, price) : invalidNumbers(time, price)) ??
    (Number.isFinite(amount) ? undefined : BAD_AMOUNT);
  if (reason !== undefined) return skip(state, trade, reason);
  stream ??= createStream(state, state.tradeStreams, 'trade', symbol);
  return ingest(state, trade, stream, time, price, Math.abs(amount));
}

function skip(state: State, record: Ticker | Trade, reason: string): readonly CandleUpdate[] {
  state.counters.invalid++;
  state.onInvalid?.(record, reason);
  return NO_UPDATES;
}

function createStream(state: State, streams: Map<string, Stream>, source: CandleSource, symbol: string): Stream {
  const series = state.intervals.map(([interval, ms]) => new Series(symbol, source, interval, ms));
  state.allSeries.push(...series);
  const stream: Stream = {
    maxEventTime: Number.NEGATIVE_INFINITY,
    closesNothingBefore: Number.NEGATIVE_INFINITY,
    series,
  };
  streams.set(symbol, stream);
  return stream;
}

function ingest(
  state: State,
  record: Ticker | Trade,
  stream: Stream,
  time: number,
  price: number,
  volume: number,
): readonly CandleUpdate[] {
  // Created on the first update as a one-element literal: a record causing one update
  // allocates an exactly sized array.
  let out: Emitted;
  const series = stream.series;
  if (time > stream.maxEventTime) {
    stream.maxEventTime = time;
    // Nearly always false: only a record that moves the watermark past an open bucket's end closes anything.
    if (time - state.gracePeriodMs >= stream.closesNothingBefore) out = closeReady(state, stream);
  }
  const coalesce = state.coalesceProgress;
  for (let i = 0; i < series.length; i++) {
    const current = series[i] as Series;
    // Fast path, nearly every record: it falls into the newest open bucket.
    const newest = current.open[current.open.length - 1];
    if (newest !== undefined && time >= newest.start && time < newest.end) {
      newest.add(time, price, volume);
      if (coalesce) {
        if (!newest.marked) mark(state, current, newest);
      } else if (state.emitProgress) {
        state.counters.progress++;
        out = emit(out, 'progress', current, newest);
      }
    } else {
      out = fold(state, record, current, time, price, volume, stream.maxEventTime - state.gracePeriodMs, out);
      // fold may have opened a bucket ending before the bound: scan again at the next advance.
      stream.closesNothingBefore = Number.NEGATIVE_INFINITY;
    }
  }
  return out ?? NO_UPDATES;
}

/** Closes every bucket of the stream that ended at or before its watermark; remembers the earliest open end. */
function closeReady(state: State, stream: Stream): Emitted {
  let out: Emitted;
  const watermark = stream.maxEventTime - state.gracePeriodMs;
  let earliestEnd = Number.POSITIVE_INFINITY;
  for (const current of stream.series) {
    const oldest = current.open[0];
    if (oldest !== undefined && oldest.end <= watermark) out = closeThrough(state, current, watermark, out);
    const remaining = current.open[0];
    if (remaining !== undefined && remaining.end < earliestEnd) earliestEnd = remaining.end;
  }
  stream.closesNothingBefore = earliestEnd;
  return out;
}

function mark(state: State, series: Series, bucket: Bucket): void {
  bucket.marked = true;
  state.marked.push([series, bucket]);
}

function takeProgress(state: State): CandleUpdate[] {
  const out: CandleUpdate[] = [];
  for (const [series, bucket] of state.marked) {
    // Unmarked when it closed: its 'closed' update already carried the final values.
    if (!bucket.marked) continue;
    bucket.marked = false;
    state.counters.progress++;
    out.push({ kind: 'progress', candle: toCandle(series, bucket) });
  }
  state.marked.length = 0;
  return out;
}

function fold(
  state: State,
  record: Ticker | Trade,
  series: Series,
  time: number,
  price: number,
  volume: number,
  watermark: number,
  out: Emitted,
): Emitted {
  const start = floorToGrid(time, series.intervalMs);
  const open = series.open;
  let bucket = findByStart(open, start);
  if (bucket !== undefined) {
    bucket.add(time, price, volume);
    if (state.coalesceProgress && !bucket.marked) mark(state, series, bucket);
    if (!state.emitProgress) return out;
    state.counters.progress++;
    return emit(out, 'progress', series, bucket);
  }
  bucket = findByStart(series.closed, start);
  if (bucket !== undefined) {
    bucket.add(time, price, volume);
    state.counters.corrections++;
    return emit(out, 'correction', series, bucket);
  }
  if (start <= series.evictedThrough) {
    state.counters.droppedLate++;
    state.onLate?.(record, {
      symbol: series.symbol,
      source: series.source,
      interval: series.interval,
      bucketStart: start,
      watermark,
    });
    return out;
  }
  bucket = new Bucket(start, start + series.intervalMs, time, price, volume);
  // A late record for a bucket that had no data yet: it is born closed.
  if (bucket.end <= watermark) return rememberClosed(state, series, bucket, out);
  insertByStart(open, bucket);
  state.openBuckets++;
  // Coalesced mode too: the consumer learns from this update which record opened the candle.
  if (state.emitProgress || state.coalesceProgress) {
    state.counters.progress++;
    out = emit(out, 'progress', series, bucket);
  }
  return state.openBuckets > state.maxOpenBuckets ? closeOldestOpen(state, out) : out;
}

function emit(out: Emitted, kind: CandleUpdateKind, series: Series, bucket: Bucket): CandleUpdate[] {
  const update: CandleUpdate = { kind, candle: toCandle(series, bucket) };
  if (out === undefined) return [update];
  out.push(update);
  return out;
}

function rememberClosed(state: State, series: Series, bucket: Bucket, out: Emitted): CandleUpdate[] {
  bucket.marked = false;
  insertByStart(series.closed, bucket);
  state.counters.closed++;
  const closed = series.closed;
  while (closed.length > state.retainClosedBuckets) {
    const forgotten = closed.shift() as Bucket;
    if (forgotten.start > series.evictedThrough) series.evictedThrough = forgotten.start;
  }
  return emit(out, 'closed', series, bucket);
}

function closeThrough(state: State, series: Series, watermark: number, out: Emitted): Emitted {
  const open = series.open;
  while (open.length > 0 && (open[0] as Bucket).end <= watermark) {
    state.openBuckets--;
    out = rememberClosed(state, series, open.shift() as Bucket, out);
  }
  return out;
}

// Only runs when a new bucket pushes the total over maxOpenBuckets, so a scan is affordable.
function closeOldestOpen(state: State, out: Emitted): Emitted {
  let oldest: Series | undefined;
  for (const series of state.allSeries) {
    const first = series.open[0];
    if (first !== undefined && (oldest === undefined || first.end < (oldest.open[0] as Bucket).end)) oldest = series;
  }
  if (oldest === undefined) return out;
  state.openBuckets--;
  return rememberClosed(state, oldest, oldest.open.shift() as Bucket, out);
}

function flush(state: State): CandleUpdate[] {
  let out: Emitted;
  for (const series of state.allSeries) out = closeThrough(state, series, Number.POSITIVE_INFINITY, out);
  return out ?? [];
}

function snapshot(state: State, symbol?: string, interval?: CandleInterval): Candle[] {
  const candles: Candle[] = [];
  for (const series of state.allSeries) {
    if (symbol !== undefined && series.symbol !== symbol) continue;
    if (interval !== undefined && series.interval !== interval) continue;
    for (const bucket of series.closed) candles.push(toCandle(series, bucket));
    for (const bucket of series.open) candles.push(toCandle(series, bucket));
  }
  return candles.sort(
    (a, b) =>
      a.start - b.start ||
      compareText(a.symbol, b.symbol) ||
      compareText(a.source, b.source) ||
      a.end - a.start - (b.end - b.start) ||
      compareText(a.interval, b.interval),
  );
}

function validateIntervals(intervals: readonly CandleInterval[]): Array<[CandleInterval, number]> {
  if (!Array.isArray(intervals) || intervals.length === 0) {
    throw new ConfigError('intervals must be a non-empty array such as ["1m", "5m"]', { intervals });
  }
  const seen = new Set<CandleInterval>();
  return intervals.map((interval) => {
    if (seen.has(interval)) throw new ConfigError(`interval "${interval}" is listed twice`, { intervals });
    seen.add(interval);
    return [interval, parseInterval(interval)];
  });
}

function invalidReason(symbol: unknown, time: number, price: number): string | undefined {
  if (typeof symbol !== 'string' || symbol.length === 0) return BAD_SYMBOL;
  return invalidNumbers(time, price);
}

function invalidNumbers(time: number, price: number): string | undefined {
  if (!Number.isFinite(time)) return BAD_TIME;
  if (!Number.isFinite(price) || price < 0) return BAD_PRICE;
  return undefined;
}

function toCandle(series: Series, bucket: Bucket): Candle {
  return {
    symbol: series.symbol,
    interval: series.interval,
    source: series.source,
    start: bucket.start,
    end: bucket.end,
    open: bucket.open,
    high: bucket.high,
    low: bucket.low,
    close: bucket.close,
    volume: bucket.volume,
    count: bucket.count,
  };
}

// Lists are short and sorted by start; the bucket sought is usually the newest, so scan backwards.
function findByStart(buckets: readonly Bucket[], start: number): Bucket | undefined {
  for (let i = buckets.length - 1; i >= 0; i--) {
    const bucket = buckets[i] as Bucket;
    if (bucket.start === start) return bucket;
    if (bucket.start < start) return undefined;
  }
  return undefined;
}

function insertByStart(buckets: Bucket[], bucket: Bucket): void {
  let i = buckets.length;
  while (i > 0 && (buckets[i - 1] as Bucket).start > bucket.start) i--;
  if (i === buckets.length) buckets.push(bucket);
  else buckets.splice(i, 0, bucket);
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
