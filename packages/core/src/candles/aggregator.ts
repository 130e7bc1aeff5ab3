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
   * Emit a `'progress'` update for every record that lands in an open bucket. Turn off when
   * only closed candles and corrections matter, to save an allocation per record. Default `true`.
   */
  emitProgress?: boolean | undefined;
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

/** Stateful candle builder returned by {@link createCandleAggregator}. */
export interface CandleAggregator {
  /** Folds a ticker in (price = `lastPrice`, no volume); returns the updates it caused. */
  addTicker(ticker: Ticker): CandleUpdate[];
  /** Folds a trade in (price = `price`, volume += `|amount|`); returns the updates it caused. */
  addTrade(trade: Trade): CandleUpdate[];
  /** Closes every open bucket now (shutdown, partition revoke) and returns the `'closed'` updates. */
  flush(): CandleUpdate[];
  /** Open and remembered closed candles, optionally filtered, sorted by start (then symbol, source, interval). */
  snapshot(symbol?: string, interval?: CandleInterval): Candle[];
  /** A copy of the counters. */
  stats(): CandleAggregatorStats;
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
    if (price < this.low) this.low = price;
    // Strict < keeps the first arrival on equal times; >= lets the last arrival win.
    if (time < this.openTime) {
      this.openTime = time;
      this.open = price;
    }
    if (time >= this.closeTime) {
      this.closeTime = time;
      this.close = price;
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
  readonly series: Series[];
}

const NOT_AN_OBJECT = 'record must be an object';
const BAD_SYMBOL = 'symbol must be a non-empty string';
const BAD_TIME = 'event time must be a finite number';
const BAD_PRICE = 'price must be a finite number >= 0';
const BAD_AMOUNT = 'amount must be a finite number';

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
  const intervals = validateIntervals(options.intervals ?? ['1m']);
  const gracePeriodMs = options.gracePeriodMs ?? 5000;
  if (!Number.isFinite(gracePeriodMs) || gracePeriodMs < 0) {
    throw new ConfigError(`gracePeriodMs must be a finite number >= 0, got ${String(gracePeriodMs)}`, {
      gracePeriodMs,
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
  const emitProgress = options.emitProgress ?? true;
  const { onInvalid, onLate } = options;

  const tickerStreams = new Map<string, Stream>();
  const tradeStreams = new Map<string, Stream>();
  const allSeries: Series[] = [];
  let openBuckets = 0;
  // Updates of the call in progress. Created on the first emit as a one-element literal, so a
  // record causing a single update allocates an exactly sized array; saved and restored around
  // each call so a callback may re-enter the aggregator.
  let emitted: CandleUpdate[] | undefined;
  const counters = { records: 0, progress: 0, closed: 0, corrections: 0, droppedLate: 0, invalid: 0 };

  function createStream(streams: Map<string, Stream>, source: CandleSource, symbol: string): Stream {
    const series = intervals.map(([interval, ms]) => new Series(symbol, source, interval, ms));
    allSeries.push(...series);
    const stream: Stream = { maxEventTime: Number.NEGATIVE_INFINITY, series };
    streams.set(symbol, stream);
    return stream;
  }

  function emit(kind: CandleUpdateKind, series: Series, bucket: Bucket): void {
    const update: CandleUpdate = { kind, candle: toCandle(series, bucket) };
    if (emitted === undefined) emitted = [update];
    else emitted.push(update);
  }

  function rememberClosed(series: Series, bucket: Bucket): void {
    insertByStart(series.closed, bucket);
    emit('closed', series, bucket);
    counters.closed++;
    const closed = series.closed;
    while (closed.length > retainClosedBuckets) {
      const forgotten = closed.shift() as Bucket;
      if (forgotten.start > series.evictedThrough) series.evictedThrough = forgotten.start;
    }
  }

  function closeThrough(series: Series, watermark: number): void {
    const open = series.open;
    while (open.length > 0 && (open[0] as Bucket).end <= watermark) {
      openBuckets--;
      rememberClosed(series, open.shift() as Bucket);
    }
  }

  // Only runs when a new bucket pushes the total over maxOpenBuckets, so a scan is affordable.
  function closeOldestOpen(): void {
    let oldest: Series | undefined;
    for (const series of allSeries) {
      const first = series.open[0];
      if (first !== undefined && (oldest === undefined || first.end < (oldest.open[0] as Bucket).end)) oldest = series;
    }
    if (oldest === undefined) return;
    openBuckets--;
    rememberClosed(oldest, oldest.open.shift() as Bucket);
  }

  function fold(
    record: Ticker | Trade,
    series: Series,
    time: number,
    price: number,
    volume: number,
    watermark: number,
  ): void {
    const start = floorToGrid(time, series.intervalMs);
    const open = series.open;
    const newest = open[open.length - 1];
    let bucket = newest !== undefined && newest.start === start ? newest : findByStart(open, start);
    if (bucket !== undefined) {
      bucket.add(time, price, volume);
      if (emitProgress) {
        emit('progress', series, bucket);
        counters.progress++;
      }
      return;
    }
    bucket = findByStart(series.closed, start);
    if (bucket !== undefined) {
      bucket.add(time, price, volume);
      emit('correction', series, bucket);
      counters.corrections++;
      return;
    }
    if (start <= series.evictedThrough) {
      counters.droppedLate++;
      onLate?.(record, {
        symbol: series.symbol,
        source: series.source,
        interval: series.interval,
        bucketStart: start,
        watermark,
      });
      return;
    }
    bucket = new Bucket(start, start + series.intervalMs, time, price, volume);
    if (bucket.end <= watermark) {
      // A late record for a bucket that had no data yet: it is born closed.
      rememberClosed(series, bucket);
      return;
    }
    insertByStart(open, bucket);
    openBuckets++;
    if (emitProgress) {
      emit('progress', series, bucket);
      counters.progress++;
    }
    if (openBuckets > maxOpenBuckets) closeOldestOpen();
  }

  function ingest(record: Ticker | Trade, stream: Stream, time: number, price: number, volume: number): CandleUpdate[] {
    const outer = emitted;
    emitted = undefined;
    const series = stream.series;
    if (time > stream.maxEventTime) {
      stream.maxEventTime = time;
      const watermark = time - gracePeriodMs;
      for (let i = 0; i < series.length; i++) {
        const oldest = (series[i] as Series).open[0];
        if (oldest !== undefined && oldest.end <= watermark) closeThrough(series[i] as Series, watermark);
      }
    }
    const watermark = stream.maxEventTime - gracePeriodMs;
    for (let i = 0; i < series.length; i++) {
      const current = series[i] as Series;
      // Fast path, nearly every record: it falls into the newest open bucket.
      const newest = current.open[current.open.length - 1];
      if (newest !== undefined && time >= newest.start && time < newest.end) {
        newest.add(time, price, volume);
        if (emitProgress) {
          emit('progress', current, newest);
          counters.progress++;
        }
      } else {
        fold(record, current, time, price, volume, watermark);
      }
    }
    const out = emitted ?? [];
    emitted = outer;
    return out;
  }

  function skip(record: Ticker | Trade, reason: string): CandleUpdate[] {
    counters.invalid++;
    onInvalid?.(record, reason);
    return [];
  }

  return {
    addTicker(ticker: Ticker): CandleUpdate[] {
      counters.records++;
      if (typeof ticker !== 'object' || ticker === null) return skip(ticker, NOT_AN_OBJECT);
      const { symbol, eventTime, lastPrice } = ticker;
      const reason = invalidReason(symbol, eventTime, lastPrice);
      if (reason !== undefined) return skip(ticker, reason);
      const stream = tickerStreams.get(symbol) ?? createStream(tickerStreams, 'ticker', symbol);
      return ingest(ticker, stream, eventTime, lastPrice, 0);
    },

    addTrade(trade: Trade): CandleUpdate[] {
      counters.records++;
      if (typeof trade !== 'object' || trade === null) return skip(trade, NOT_AN_OBJECT);
      const { symbol, time, price, amount } = trade;
      const reason = invalidReason(symbol, time, price) ?? (Number.isFinite(amount) ? undefined : BAD_AMOUNT);
      if (reason !== undefined) return skip(trade, reason);
      const stream = tradeStreams.get(symbol) ?? createStream(tradeStreams, 'trade', symbol);
      return ingest(trade, stream, time, price, Math.abs(amount));
    },

    flush(): CandleUpdate[] {
      const outer = emitted;
      emitted = undefined;
      for (const series of allSeries) closeThrough(series, Number.POSITIVE_INFINITY);
      const out = emitted ?? [];
      emitted = outer;
      return out;
    },

    snapshot(symbol?: string, interval?: CandleInterval): Candle[] {
      const candles: Candle[] = [];
      for (const series of allSeries) {
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
    },

    stats(): CandleAggregatorStats {
      return { ...counters, openBuckets };
    },
  };
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
