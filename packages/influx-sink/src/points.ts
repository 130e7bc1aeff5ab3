// Points: turns candles, tickers and trades into InfluxDB line protocol with the series and timestamp coalescing goes by.
import type { Candle, Ticker, Trade } from '@kandle/core';
import { SinkWriteError } from './errors';

/**
 * One point, checked, with the identity InfluxDB deduplicates on: points with equal `series` and `timestamp`
 * overwrite each other on the server, so only the last one needs sending. Its line is rendered only when its batch
 * is sent ({@link renderLine}): a rendered line is a tree of some twenty string pieces, and a buffered point lives
 * through young-generation collections that would copy every piece, while a copy of its field values is one array.
 */
export interface LinePoint {
  /** Measurement and tag set exactly as the server reads them (escaped). */
  series: string;
  /** Unix ms. */
  timestamp: number;
  /** Field values, copied when the record was written, in the order of `layout`. */
  values: readonly number[];
  layout: FieldLayout;
}

/** What goes before each field value on the line: ` name=` for the first, `,name=` for the others, `i,` after an integer. */
export type FieldLayout = readonly string[];

const CANDLE_LAYOUT: FieldLayout = [' close=', ',count=', 'i,high=', ',low=', ',open=', ',volume='];
const TICKER_LAYOUT: FieldLayout = [
  ' ask=',
  ',ask_size=',
  ',bid=',
  ',bid_size=',
  ',close_price=',
  ',daily_change=',
  ',daily_change_relative=',
  ',high=',
  ',last_price=',
  ',low=',
  ',volume=',
];
const TRADE_LAYOUT: FieldLayout = [' amount=', ',price='];

/**
 * `<series> <fields> <timestamp>`. A checked float is written as the client writes it: JavaScript's shortest
 * round-trip form, which is what string concatenation gives.
 */
export function renderLine(point: LinePoint): string {
  const { layout, values } = point;
  let line = point.series;
  for (let i = 0; i < values.length; i++) line += (layout[i] as string) + (values[i] as number);
  return `${line} ${timestampText(point.timestamp)}`;
}

const SMI_MAX = 2 ** 30 - 1;

/**
 * The decimal digits of a non-negative safe integer, as `String` gives them. A Unix ms timestamp is past V8's small
 * integer range, and converting such a number took a quarter of a line's rendering; its two halves below a million
 * are small integers, converted several times faster.
 */
export function timestampText(ms: number): string {
  if (ms <= SMI_MAX) return `${ms}`;
  let high = Math.floor(ms / 1e6);
  let low = ms - high * 1e6;
  // The division may round up near 2^53; the subtraction is exact, so correct by one million if it did.
  if (low < 0) {
    high--;
    low += 1e6;
  }
  return `${high}${`${low + 1e6}`.slice(1)}`;
}

/**
 * `<candles>,interval=…,source=…,symbol=… close=…,count=…i,high=…,low=…,open=…,volume=… <start ms>`.
 * The candle start is the timestamp, so every update of one bucket lands on the same point.
 */
export function candleToPoint(candle: Candle, measurement: string, cache?: SeriesCache): LinePoint {
  requireTag('symbol', candle.symbol, measurement);
  requireTag('interval', candle.interval, measurement);
  requireTag('source', candle.source, measurement);
  const timestamp = requireTimestamp('start', candle.start, measurement, candle.symbol);
  requireCount(candle.count, measurement, candle.symbol);
  const symbol = candle.symbol;
  requireFloats(candle, CANDLE_FLOATS, measurement, symbol);
  const series = cache
    ? cache.get(measurement, candle.interval, candle.source, symbol, candleSeries)
    : candleSeries(measurement, candle.interval, candle.source, symbol);
  const values = [candle.close, candle.count, candle.high, candle.low, candle.open, candle.volume];
  return { series, timestamp, values, layout: CANDLE_LAYOUT };
}

/**
 * `<tickers>,symbol=… ask=…,ask_size=…,bid=…,bid_size=…,close_price=…,daily_change=…,daily_change_relative=…,high=…,last_price=…,low=…,volume=… <eventTime ms>`.
 * `close_price` repeats `last_price` so candle queries written for the original kafka-python project's schema work on raw tickers.
 */
export function tickerToPoint(ticker: Ticker, measurement: string, cache?: SeriesCache): LinePoint {
  requireTag('symbol', ticker.symbol, measurement);
  const timestamp = requireTimestamp('eventTime', ticker.eventTime, measurement, ticker.symbol);
  const symbol = ticker.symbol;
  requireFloats(ticker, TICKER_FLOATS, measurement, symbol);
  const t = ticker;
  const series = cache ? cache.get(measurement, symbol, '', '', tickerSeries) : tickerSeries(measurement, symbol);
  const values = [
    t.ask,
    t.askSize,
    t.bid,
    t.bidSize,
    t.lastPrice,
    t.dailyChange,
    t.dailyChangeRelative,
    t.high,
    t.lastPrice,
    t.low,
    t.volume,
  ];
  return { series, timestamp, values, layout: TICKER_LAYOUT };
}

/**
 * `<trades>,symbol=…,trade_id=… amount=…,price=… <time ms>`.
 * The trade id is a tag because two trades of one pair often share a millisecond: without it they would overwrite each other.
 */
export function tradeToPoint(trade: Trade, measurement: string): LinePoint {
  requireTag('symbol', trade.symbol, measurement);
  if (!Number.isSafeInteger(trade.id))
    throw invalid(measurement, trade.symbol, `trade id must be an integer, got ${trade.id}`);
  const timestamp = requireTimestamp('time', trade.time, measurement, trade.symbol);
  const tradeId = String(trade.id);
  requireFloats(trade, TRADE_FLOATS, measurement, trade.symbol);
  return {
    series: `${escapeMeasurement(measurement)},symbol=${escapeTag(trade.symbol)},trade_id=${escapeTag(tradeId)}`,
    timestamp,
    values: [trade.amount, trade.price],
    layout: TRADE_LAYOUT,
  };
}

// Tags and fields in the order of their keys, as the client's Point sorts them (test/points-render.test.ts).
function candleSeries(measurement: string, interval: string, source: string, symbol: string): string {
  return `${escapeMeasurement(measurement)},interval=${escapeTag(interval)},source=${escapeTag(source)},symbol=${escapeTag(symbol)}`;
}

function tickerSeries(measurement: string, symbol: string): string {
  return `${escapeMeasurement(measurement)},symbol=${escapeTag(symbol)}`;
}

/** How many series a {@link SeriesCache} holds before it starts over (bounds memory if tag values never repeat). */
const SERIES_CACHE_LIMIT = 100_000;

/**
 * Escaped series strings of one record kind by their raw measurement and tag values. Building and escaping a series
 * once instead of per point saves the work, and handing out the same string object lets the buffer's index hash it
 * once rather than per point. Trades are not cached: their trade id tag makes every series new.
 */
export class SeriesCache {
  private readonly byMeasurement = new Map<string, Map<string, Map<string, Map<string, string>>>>();
  private size = 0;

  /** The series of `measurement` tagged `a`, `b`, `c` (in a fixed order per record kind), rendered the first time. */
  get(
    measurement: string,
    a: string,
    b: string,
    c: string,
    render: (measurement: string, a: string, b: string, c: string) => string,
  ): string {
    if (this.size >= SERIES_CACHE_LIMIT) {
      this.byMeasurement.clear();
      this.size = 0;
    }
    const byC = level(level(level(this.byMeasurement, measurement), a), b);
    let series = byC.get(c);
    if (series === undefined) {
      series = render(measurement, a, b, c);
      byC.set(c, series);
      this.size++;
    }
    return series;
  }
}

function level<V>(map: Map<string, Map<string, V>>, key: string): Map<string, V> {
  let next = map.get(key);
  if (next === undefined) {
    next = new Map();
    map.set(key, next);
  }
  return next;
}

// Line protocol escaping exactly as the client's `escape.measurement` / `escape.tag` do it (backslash before each
// special character, newline/CR/tab as \n \r \t; backslashes themselves are left alone, as the client leaves them).
const MEASUREMENT_SPECIAL = /[, \n\r\t]/;
const TAG_SPECIAL = /[, =\n\r\t]/;
const ESCAPES: Record<string, string> = { ',': '\\,', ' ': '\\ ', '=': '\\=', '\n': '\\n', '\r': '\\r', '\t': '\\t' };
const MEASUREMENT_SPECIAL_ALL = /[, \n\r\t]/g;
const TAG_SPECIAL_ALL = /[, =\n\r\t]/g;

function escapeMeasurement(name: string): string {
  // Fast path: almost every name needs no escaping, and test() allocates nothing.
  return MEASUREMENT_SPECIAL.test(name) ? name.replace(MEASUREMENT_SPECIAL_ALL, escapeChar) : name;
}

function escapeTag(value: string): string {
  return TAG_SPECIAL.test(value) ? value.replace(TAG_SPECIAL_ALL, escapeChar) : value;
}

function escapeChar(char: string): string {
  return ESCAPES[char] as string;
}

/**
 * The float fields of each record: the field name on the wire and the property it comes from, in the order the
 * client's Point checked them, so the first bad field is the one named.
 */
const CANDLE_FLOATS = [
  ['open', 'open'],
  ['high', 'high'],
  ['low', 'low'],
  ['close', 'close'],
  ['volume', 'volume'],
] as const satisfies FloatFields<Candle>;
const TICKER_FLOATS = [
  ['bid', 'bid'],
  ['bid_size', 'bidSize'],
  ['ask', 'ask'],
  ['ask_size', 'askSize'],
  ['daily_change', 'dailyChange'],
  ['daily_change_relative', 'dailyChangeRelative'],
  ['last_price', 'lastPrice'],
  ['volume', 'volume'],
  ['high', 'high'],
  ['low', 'low'],
] as const satisfies FloatFields<Ticker>;
const TRADE_FLOATS = [
  ['amount', 'amount'],
  ['price', 'price'],
] as const satisfies FloatFields<Trade>;

type FloatFields<R> = ReadonlyArray<readonly [string, keyof R]>;

/** Throws naming the first of `fields` whose value in `record` is not a finite number. */
function requireFloats<R>(record: R, fields: FloatFields<R>, measurement: string, symbol: string): void {
  for (const [name, property] of fields) {
    const value = record[property];
    if (typeof value !== 'number' || !Number.isFinite(value)) {
      throw invalid(measurement, symbol, `field ${name} must be a finite number, got ${String(value)}`);
    }
  }
}

function requireTag(name: string, value: unknown, measurement: string): void {
  // The client silently drops empty tag values, which would merge distinct series: refuse them instead.
  if (typeof value !== 'string' || value === '') {
    throw invalid(
      measurement,
      typeof value === 'string' ? value : '?',
      `tag ${name} must be a non-empty string, got ${JSON.stringify(value)}`,
    );
  }
}

function requireTimestamp(name: string, value: unknown, measurement: string, symbol: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw invalid(measurement, symbol, `${name} must be a non-negative integer of Unix ms, got ${String(value)}`);
  }
  return value;
}

function requireCount(value: unknown, measurement: string, symbol: string): void {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw invalid(measurement, symbol, `field count must be a non-negative integer, got ${String(value)}`);
  }
}

function invalid(measurement: string, symbol: string, reason: string): SinkWriteError {
  return new SinkWriteError(`cannot write ${measurement} point for ${symbol}: ${reason}`, {
    measurement,
    symbol,
    reason,
  });
}
