// Points: turns candles, tickers and trades into InfluxDB line protocol with a series key for coalescing.
import { Point } from '@influxdata/influxdb3-client';
import type { Candle, Ticker, Trade } from '@kandle/core';
import { SinkWriteError } from './errors';

/** One line of line protocol plus the identity InfluxDB deduplicates on (measurement, tag set, timestamp). */
export interface LinePoint {
  /** Equal keys overwrite each other on the server, so only the last one needs sending. */
  key: string;
  line: string;
}

// Keys join parts with a character that cannot appear in a tag value after escaping, so no two series collide.
const SEP = '\u0000';

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
  const point = Point.measurement(measurement)
    .setTag('symbol', candle.symbol)
    .setTag('interval', candle.interval)
    .setTag('source', candle.source)
    .setIntegerField('count', candle.count)
    .setTimestamp(timestamp);
  setFloats(
    point,
    { open: candle.open, high: candle.high, low: candle.low, close: candle.close, volume: candle.volume },
    candle.symbol,
  );
  return {
    key: [measurement, candle.symbol, candle.interval, candle.source, timestamp].join(SEP),
    line: render(point),
  };
}

/**
 * `<tickers>,symbol=… ask=…,ask_size=…,bid=…,bid_size=…,close_price=…,daily_change=…,daily_change_relative=…,high=…,last_price=…,low=…,volume=… <eventTime ms>`.
 * `close_price` repeats `last_price` so candle queries written for the original kafka-python project's schema work on raw tickers.
 */
export function tickerToPoint(ticker: Ticker, measurement: string): LinePoint {
  requireTag('symbol', ticker.symbol, measurement);
  const timestamp = requireTimestamp('eventTime', ticker.eventTime, measurement, ticker.symbol);
  const point = Point.measurement(measurement).setTag('symbol', ticker.symbol).setTimestamp(timestamp);
  setFloats(
    point,
    {
      bid: ticker.bid,
      bid_size: ticker.bidSize,
      ask: ticker.ask,
      ask_size: ticker.askSize,
      daily_change: ticker.dailyChange,
      daily_change_relative: ticker.dailyChangeRelative,
      last_price: ticker.lastPrice,
      close_price: ticker.lastPrice,
      volume: ticker.volume,
      high: ticker.high,
      low: ticker.low,
    },
    ticker.symbol,
  );
  return { key: [measurement, ticker.symbol, timestamp].join(SEP), line: render(point) };
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
  const point = Point.measurement(measurement)
    .setTag('symbol', trade.symbol)
    .setTag('trade_id', tradeId)
    .setTimestamp(timestamp);
  setFloats(point, { amount: trade.amount, price: trade.price }, trade.symbol);
  return { key: [measurement, trade.symbol, tradeId, timestamp].join(SEP), line: render(point) };
}

function render(point: Point): string {
  const line = point.toLineProtocol('ms');
  // toLineProtocol returns undefined only for a point without fields, which the converters never build.
  if (line === undefined)
    throw invalid(point.getMeasurement() ?? '?', point.getTag('symbol') ?? '?', 'point has no fields');
  return line;
}

function setFloats(point: Point, fields: Record<string, number>, symbol: string): void {
  for (const [name, value] of Object.entries(fields)) {
    if (typeof value !== 'number' || !Number.isFinite(value)) {
      throw invalid(
        point.getMeasurement() ?? '?',
        symbol,
        `field ${name} must be a finite number, got ${String(value)}`,
      );
    }
    point.setFloatField(name, value);
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
