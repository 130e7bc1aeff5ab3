import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SinkWriteError } from '../src/errors';
import {
  candleToPoint,
  type LinePoint,
  renderLine,
  SeriesCache,
  tickerToPoint,
  timestampText,
  tradeToPoint,
} from '../src/points';
import { T0, candle, ticker, trade } from './support/fixtures';

/** The identity the sink coalesces by: series and timestamp. */
const keyOf = (point: LinePoint) => `${point.series} ${point.timestamp}`;

describe('candleToPoint', () => {
  it('renders tags, OHLCV floats, an integer count and the candle start in ms', () => {
    const line = renderLine(candleToPoint(candle(), 'candles'));
    expect(line).toBe(
      `candles,interval=1m,source=trade,symbol=tBTCUSD close=42005.75,count=3i,high=42010.25,low=41990.125,open=42000.5,volume=1.5 ${T0}`,
    );
  });

  it('escapes commas, spaces and equals signs in measurement and tag values', () => {
    const line = renderLine(candleToPoint(candle({ symbol: 'a b,c=d' }), 'my candles,v2'));
    expect(line.startsWith('my\\ candles\\,v2,interval=1m,source=trade,symbol=a\\ b\\,c\\=d ')).toBe(true);
  });

  it('gives every update of one bucket the same key, and other buckets or series other keys', () => {
    const a = candleToPoint(candle({ close: 1 }), 'candles');
    const b = candleToPoint(candle({ close: 2, count: 9 }), 'candles');
    expect(keyOf(a)).toBe(keyOf(b));
    expect(renderLine(a)).not.toBe(renderLine(b));
    const keys = new Set([
      keyOf(a),
      keyOf(candleToPoint(candle({ start: T0 + 60_000 }), 'candles')),
      keyOf(candleToPoint(candle({ interval: '5m' }), 'candles')),
      keyOf(candleToPoint(candle({ source: 'ticker' }), 'candles')),
      keyOf(candleToPoint(candle({ symbol: 'tETHUSD' }), 'candles')),
      keyOf(candleToPoint(candle(), 'other')),
    ]);
    expect(keys.size).toBe(6);
  });

  it.each([
    ['a NaN price', { close: Number.NaN }, /close must be a finite number/],
    ['an infinite volume', { volume: Number.POSITIVE_INFINITY }, /volume must be a finite number/],
    ['an empty symbol', { symbol: '' }, /tag symbol must be a non-empty string/],
    ['a fractional start', { start: T0 + 0.5 }, /start must be a non-negative integer/],
    ['a negative count', { count: -1 }, /count must be a non-negative integer/],
  ])('refuses %s with a SinkWriteError', (_name, overrides, message) => {
    expect(() => candleToPoint(candle(overrides), 'candles')).toThrow(SinkWriteError);
    expect(() => candleToPoint(candle(overrides), 'candles')).toThrow(message);
  });
});

describe('SeriesCache', () => {
  it('renders the same lines as without it, handing out one string per series', () => {
    const cache = new SeriesCache();
    const first = candleToPoint(candle(), 'candles', cache);
    const again = candleToPoint(candle({ close: 1 }), 'candles', cache);
    expect(renderLine(first)).toBe(renderLine(candleToPoint(candle(), 'candles')));
    expect(again.series).toBe(first.series);
    const others = [
      candleToPoint(candle({ interval: '5m' }), 'candles', cache),
      candleToPoint(candle({ source: 'ticker' }), 'candles', cache),
      candleToPoint(candle({ symbol: 'a b,c=d' }), 'candles', cache),
      candleToPoint(candle(), 'other', cache),
    ];
    expect(others.map(renderLine)).toEqual([
      renderLine(candleToPoint(candle({ interval: '5m' }), 'candles')),
      renderLine(candleToPoint(candle({ source: 'ticker' }), 'candles')),
      renderLine(candleToPoint(candle({ symbol: 'a b,c=d' }), 'candles')),
      renderLine(candleToPoint(candle(), 'other')),
    ]);
    expect(new Set([first.series, ...others.map((point) => point.series)]).size).toBe(5);
    expect(renderLine(tickerToPoint(ticker(), 'tickers', cache))).toBe(renderLine(tickerToPoint(ticker(), 'tickers')));
  });
});

describe('timestampText', () => {
  it('writes every non-negative safe integer as String does, around the split at a million and near 2^53', () => {
    const edges = [0, 1, 999_999, 1_000_000, 2 ** 30 - 1, 2 ** 30, 2 ** 30 + 1, T0, T0 + 999_999];
    for (let k = 9_007_199_254; k > 9_007_199_000; k--) edges.push(k * 1e6 - 1, k * 1e6, k * 1e6 + 1);
    edges.push(Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER - 1);
    const safe = edges.filter((ms) => ms <= Number.MAX_SAFE_INTEGER);
    expect(safe.map(timestampText)).toEqual(safe.map(String));
    fc.assert(
      fc.property(fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), (ms) => timestampText(ms) === String(ms)),
    );
  });
});

describe('tickerToPoint', () => {
  it('writes every ticker field in snake_case plus close_price = lastPrice, at the event time', () => {
    const line = renderLine(tickerToPoint(ticker(), 'tickers'));
    expect(line).toBe(
      `tickers,symbol=tETHUSD ask=2200.3,ask_size=8.25,bid=2200.1,bid_size=12.5,close_price=2200.2,daily_change=-15.5,daily_change_relative=-0.007,high=2250,last_price=2200.2,low=2150,volume=1234.5 ${T0 + 1234}`,
    );
  });
});

describe('tradeToPoint', () => {
  it('tags the trade id so two trades in the same millisecond stay two points', () => {
    const a = tradeToPoint(trade({ id: 1 }), 'trades');
    const b = tradeToPoint(trade({ id: 2 }), 'trades');
    expect(renderLine(a)).toBe(`trades,symbol=tBTCUSD,trade_id=1 amount=-0.25,price=42001.5 ${T0 + 500}`);
    expect(keyOf(a)).not.toBe(keyOf(b));
  });

  it('refuses a non-integer trade id', () => {
    expect(() => tradeToPoint(trade({ id: 1.5 }), 'trades')).toThrow(/trade id must be an integer/);
  });
});
