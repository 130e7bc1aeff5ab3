// Points: turns candles, tickers and trades into InfluxDB line protocol with a series key for coalescing.
import type { Candle, Ticker, Trade } from '@kandle/core';
import { SinkWriteError } from './errors';

/** One line of line protocol plus the identity InfluxDB deduplicates on (measurement, tag set, timestamp). */
export interface LinePoint {
  /** Equal keys overwrite each other on the server, so only the last one needs sending. */
  key: string;
  line: string;
}

/**
 * `<candles>,interval=…,source=…,symbol=… close=…,count=…i,high=…,low=…,open=…,volume=… <start ms>`.
 * The candle start is the timestamp, so every update of one bucket lands on the same point.
 */
export function candleToPoint(candle: Candle, measurement: string): LinePoint {
  requireTag('symbol', candle.symbol, measurement);
  requireTag('interval', candle.interval, measurement);
  requireTag('source', candle.source, measurement);
  const timestamp = requireTimestamp('start', candle.start, measurement, candle.symbol);
  requireCount(candle.count, measurement, candle.symbol);
  const symbol = candle.symbol;
  // Checked in the order the client's Point checked them, so the first bad field is the one named.
  const open = float('open', candle.open, measurement, symbol);
  const high = float('high', candle.high, measurement, symbol);
  const low = float('low', candle.low, measurement, symbol);
  const close = float('close', candle.close, measurement, symbol);
  const volume = float('volume', candle.volume, measurement, symbol);
  // Tags and fields in the order of their keys, as the client's Point sorts them (test/points-render.test.ts).
  const series = `${escapeMeasurement(measurement)},interval=${escapeTag(candle.interval)},source=${escapeTag(candle.source)},symbol=${escapeTag(symbol)}`;
  return point(
    series,
    `close=${close},count=${candle.count}i,high=${high},low=${low},open=${open},volume=${volume}`,
    timestamp,
  );
}

/**
 * `<tickers>,symbol=… ask=…,ask_size=…,bid=…,bid_size=…,close_price=…,daily_change=…,daily_change_relative=…,high=…,last_price=…,low=…,volume=… <eventTime ms>`.
 * `close_price` repeats `last_price` so candle queries written for the original kafka-python project's schema work on raw tickers.
 */
export function tickerToPoint(ticker: Ticker, measurement: string): LinePoint {
  requireTag('symbol', ticker.symbol, measurement);
  const timestamp = requireTimestamp('eventTime', ticker.eventTime, measurement, ticker.symbol);
  const symbol = ticker.symbol;
  // Checked in the order the client's Point checked them (bid first), so the first bad field is the one named.
  const bid = float('bid', ticker.bid, measurement, symbol);
  const bidSize = float('bid_size', ticker.bidSize, measurement, symbol);
  const ask = float('ask', ticker.ask, measurement, symbol);
  const askSize = float('ask_size', ticker.askSize, measurement, symbol);
  const dailyChange = float('daily_change', ticker.dailyChange, measurement, symbol);
  const dailyChangeRelative = float('daily_change_relative', ticker.dailyChangeRelative, measurement, symbol);
  const lastPrice = float('last_price', ticker.lastPrice, measurement, symbol);
  const volume = float('volume', ticker.volume, measurement, symbol);
  const high = float('high', ticker.high, measurement, symbol);
  const low = float('low', ticker.low, measurement, symbol);
  return point(
    `${escapeMeasurement(measurement)},symbol=${escapeTag(symbol)}`,
    `ask=${ask},ask_size=${askSize},bid=${bid},bid_size=${bidSize},close_price=${lastPrice},daily_change=${dailyChange}` +
      `,daily_change_relative=${dailyChangeRelative},high=${high},last_price=${lastPrice},low=${low},volume=${volume}`,
    timestamp,
  );
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
  const amount = float('amount', trade.amount, measurement, trade.symbol);
  const price = float('price', trade.price, measurement, trade.symbol);
  return point(
    `${escapeMeasurement(measurement)},symbol=${escapeTag(trade.symbol)},trade_id=${escapeTag(tradeId)}`,
    `amount=${amount},price=${price}`,
    timestamp,
  );
}

/**
 * `<series> <fields> <timestamp>`. The key is the line without its fields: the series exactly as the server reads it
 * (measurement and tag set, escaped) plus the timestamp, so two points share a key exactly when the server would
 * store them on the same point.
 */
function point(series: string, fields: string, timestamp: number): LinePoint {
  return { key: `${series} ${timestamp}`, line: `${series} ${fields} ${timestamp}` };
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

/** A float field as the client writes it: JavaScript's shortest round-trip form (`String(value)`). */
function float(name: string, value: number, measurement: string, symbol: string): string {
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw invalid(measurement, symbol, `field ${name} must be a finite number, got ${String(value)}`);
  }
  return String(value);
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
