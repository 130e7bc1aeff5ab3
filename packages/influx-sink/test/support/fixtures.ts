// Test fixtures: candles, tickers and trades with realistic values for the sink tests.
import type { Candle, CandleUpdate, Ticker, Trade } from '@kandle/core';

const MINUTE = 60_000;
/** 2024-01-01T00:00:00Z, a bucket boundary for every interval the tests use. */
export const T0 = Date.UTC(2024, 0, 1);

export function candle(overrides: Partial<Candle> = {}): Candle {
  const start = overrides.start ?? T0;
  return {
    symbol: 'tBTCUSD',
    interval: '1m',
    source: 'trade',
    start,
    end: start + MINUTE,
    open: 42000.5,
    high: 42010.25,
    low: 41990.125,
    close: 42005.75,
    volume: 1.5,
    count: 3,
    ...overrides,
  };
}

export function update(overrides: Partial<Candle> = {}, kind: CandleUpdate['kind'] = 'progress'): CandleUpdate {
  return { kind, candle: candle(overrides) };
}

/** `count` consecutive 1m candles of `symbol`, with prices that differ per candle so read-back checks mean something. */
export function candleSeries(count: number, symbol = 'tBTCUSD', firstStart = T0): CandleUpdate[] {
  return Array.from({ length: count }, (_, i) => {
    const base = 40000 + i * 1.25;
    return update(
      {
        symbol,
        start: firstStart + i * MINUTE,
        open: base,
        high: base + 10.5,
        low: base - 3.25,
        close: base + 2.5,
        volume: (i % 7) + 0.5,
        count: (i % 11) + 1,
      },
      'closed',
    );
  });
}

export function ticker(overrides: Partial<Ticker> = {}): Ticker {
  return {
    symbol: 'tETHUSD',
    bid: 2200.1,
    bidSize: 12.5,
    ask: 2200.3,
    askSize: 8.25,
    dailyChange: -15.5,
    dailyChangeRelative: -0.007,
    lastPrice: 2200.2,
    volume: 1234.5,
    high: 2250,
    low: 2150,
    eventTime: T0 + 1234,
    ...overrides,
  };
}

export function trade(overrides: Partial<Trade> = {}): Trade {
  return { id: 1_400_000_001, symbol: 'tBTCUSD', time: T0 + 500, amount: -0.25, price: 42001.5, ...overrides };
}
