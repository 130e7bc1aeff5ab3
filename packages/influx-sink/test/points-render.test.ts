// Points test: the sink's own line protocol renderer writes byte for byte what the client's `Point` writes.
import { Point } from '@influxdata/influxdb3-client';
import type { Candle, Ticker, Trade } from '@kandle/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { candleToPoint, renderLine, tickerToPoint, tradeToPoint } from '../src/points';

// The reference: what the sink rendered through `Point` before it rendered line protocol itself.
function viaPoint(
  measurement: string,
  tags: Record<string, string>,
  floats: Record<string, number>,
  time: number,
  count?: number,
) {
  const point = Point.measurement(measurement).setTimestamp(time);
  for (const [name, value] of Object.entries(tags)) point.setTag(name, value);
  for (const [name, value] of Object.entries(floats)) point.setFloatField(name, value);
  if (count !== undefined) point.setIntegerField('count', count);
  return point.toLineProtocol('ms');
}

// Every character line protocol escapes somewhere, plus backslash, quotes, non-ASCII and astral characters.
const awkwardChar = fc.constantFrom(
  ',',
  ' ',
  '=',
  '\n',
  '\r',
  '\t',
  '\\',
  '"',
  "'",
  'é',
  '€',
  '😀',
  'a',
  'Z',
  '0',
  ':',
);
const awkwardText = fc.oneof(
  fc.string({ unit: awkwardChar, minLength: 1, maxLength: 12 }),
  fc.string({ unit: 'grapheme', minLength: 1, maxLength: 12 }),
  fc.constantFrom('tBTCUSD', 'tTESTBTC:TESTUSD', 'fUSD'),
);
const price = fc.oneof(
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.integer({ min: -1_000_000, max: 1_000_000 }),
  fc.constantFrom(0, -0, 0.1, 1e21, 1e-7, 123456789.12345679, Number.MAX_VALUE, Number.MIN_VALUE),
);
const time = fc.oneof(fc.maxSafeNat(), fc.constantFrom(0, 1_700_000_000_000));
const measurement = fc.oneof(fc.constantFrom('candles', 'tickers', 'trades'), awkwardText);

const candleArb: fc.Arbitrary<Candle> = fc.record({
  symbol: awkwardText,
  interval: awkwardText,
  source: awkwardText,
  start: time,
  end: time,
  open: price,
  high: price,
  low: price,
  close: price,
  volume: price,
  count: fc.maxSafeNat(),
}) as fc.Arbitrary<Candle>;

const tickerArb: fc.Arbitrary<Ticker> = fc.record({
  symbol: awkwardText,
  eventTime: time,
  bid: price,
  bidSize: price,
  ask: price,
  askSize: price,
  dailyChange: price,
  dailyChangeRelative: price,
  lastPrice: price,
  volume: price,
  high: price,
  low: price,
}) as unknown as fc.Arbitrary<Ticker>;

const tradeArb: fc.Arbitrary<Trade> = fc.record({
  symbol: awkwardText,
  id: fc.oneof(fc.maxSafeNat(), fc.integer({ min: Number.MIN_SAFE_INTEGER, max: 0 })),
  time,
  amount: price,
  price,
}) as unknown as fc.Arbitrary<Trade>;

describe('line protocol renderer', () => {
  it('renders candles exactly as Point.toLineProtocol does', () => {
    fc.assert(
      fc.property(candleArb, measurement, (candle, name) => {
        const expected = viaPoint(
          name,
          { symbol: candle.symbol, interval: candle.interval, source: candle.source },
          { open: candle.open, high: candle.high, low: candle.low, close: candle.close, volume: candle.volume },
          candle.start,
          candle.count,
        );
        expect(renderLine(candleToPoint(candle, name))).toBe(expected);
      }),
      { numRuns: 500 },
    );
  });

  it('renders tickers exactly as Point.toLineProtocol does', () => {
    fc.assert(
      fc.property(tickerArb, measurement, (ticker, name) => {
        const expected = viaPoint(
          name,
          { symbol: ticker.symbol },
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
          ticker.eventTime,
        );
        expect(renderLine(tickerToPoint(ticker, name))).toBe(expected);
      }),
      { numRuns: 500 },
    );
  });

  it('renders trades exactly as Point.toLineProtocol does', () => {
    fc.assert(
      fc.property(tradeArb, measurement, (trade, name) => {
        const expected = viaPoint(
          name,
          { symbol: trade.symbol, trade_id: String(trade.id) },
          { amount: trade.amount, price: trade.price },
          trade.time,
        );
        expect(renderLine(tradeToPoint(trade, name))).toBe(expected);
      }),
      { numRuns: 500 },
    );
  });

  it('escapes a tag value the way the client does, backslashes left alone', () => {
    const line = renderLine(
      tradeToPoint({ symbol: 'a\\,b =\n\t"c"', id: 7, time: 1, amount: 1, price: 2 } as Trade, 'm e,x'),
    );
    expect(line).toBe('m\\ e\\,x,symbol=a\\\\,b\\ \\=\\n\\t"c",trade_id=7 amount=1,price=2 1');
  });
});
