// Tests / synthetic source: seeded determinism, realistic and internally consistent tickers and trades.
import { describe, expect, it } from 'vitest';
import { KandleError } from '../../src/errors';
import type { Ticker, Trade } from '../../src/schema/types.generated';
import { parseMarketEvent } from '../../src/sources/replay';
import type { MarketEvent } from '../../src/sources/source';
import {
  createSyntheticSource,
  DEFAULT_START_PRICES,
  generateSyntheticEvents,
  TOP_SYMBOLS,
} from '../../src/sources/synthetic';

const tickersOf = (events: MarketEvent[]): Ticker[] => events.flatMap((e) => (e.kind === 'ticker' ? [e.ticker] : []));
const tradesOf = (events: MarketEvent[]): Trade[] => events.flatMap((e) => (e.kind === 'trade' ? [e.trade] : []));

describe('generateSyntheticEvents', () => {
  it('is deterministic for a seed and differs between seeds', () => {
    const a = generateSyntheticEvents({ count: 500, seed: 42 });
    const b = generateSyntheticEvents({ count: 500, seed: 42 });
    const c = generateSyntheticEvents({ count: 500, seed: 43 });
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
  });

  it('covers every default symbol with tickers and trades that satisfy the schema contract', () => {
    const events = generateSyntheticEvents({ count: 4000, seed: 1 });
    expect(new Set(events.map((e) => (e.kind === 'ticker' ? e.ticker.symbol : e.trade.symbol)))).toEqual(
      new Set(TOP_SYMBOLS),
    );
    const invalid = events.filter((event) => {
      try {
        parseMarketEvent(event);
        return false;
      } catch {
        return true;
      }
    });
    expect(invalid).toEqual([]);
    const share = tickersOf(events).length / events.length;
    expect(share).toBeGreaterThan(0.2);
    expect(share).toBeLessThan(0.3);
  });

  it('keeps tickers consistent: 0 < bid ≤ last ≤ ask, low ≤ last ≤ high, change = last − open', () => {
    for (const t of tickersOf(generateSyntheticEvents({ count: 4000, seed: 9 }))) {
      expect(t.bid).toBeGreaterThan(0);
      expect(t.bid).toBeLessThanOrEqual(t.lastPrice);
      expect(t.ask).toBeGreaterThan(t.bid);
      expect(t.ask).toBeGreaterThanOrEqual(t.lastPrice);
      expect(t.low).toBeLessThanOrEqual(t.lastPrice);
      expect(t.high).toBeGreaterThanOrEqual(t.lastPrice);
      const open = t.lastPrice - t.dailyChange;
      expect(t.dailyChangeRelative).toBeCloseTo(t.dailyChange / open, 3);
      expect(t.volume).toBeGreaterThan(0);
    }
  });

  it('gives trades increasing ids per symbol, random sides and non-decreasing times', () => {
    const events = generateSyntheticEvents({ count: 3000, seed: 5, startTime: 1_000_000 });
    const lastId = new Map<string, number>();
    for (const trade of tradesOf(events)) {
      expect(trade.id).toBeGreaterThan(lastId.get(trade.symbol) ?? 0);
      lastId.set(trade.symbol, trade.id);
      expect(trade.price).toBeGreaterThan(0);
      expect(trade.amount).not.toBe(0);
    }
    const sells = tradesOf(events).filter((t) => t.amount < 0).length / tradesOf(events).length;
    expect(sells).toBeGreaterThan(0.4);
    expect(sells).toBeLessThan(0.6);
    const times = events.map((e) => (e.kind === 'ticker' ? e.ticker.eventTime : e.trade.time));
    expect(times[0]).toBeGreaterThanOrEqual(1_000_000);
    for (let i = 1; i < times.length; i += 1) expect(times[i]).toBeGreaterThanOrEqual(times[i - 1] as number);
  });

  it('honours ratePerSecond on average (Poisson arrivals)', () => {
    const events = generateSyntheticEvents({ count: 5000, seed: 3, ratePerSecond: 100, startTime: 0 });
    const last = events.at(-1) as MarketEvent;
    const spanMs = last.kind === 'ticker' ? last.ticker.eventTime : last.trade.time;
    expect(5000 / (spanMs / 1000)).toBeGreaterThan(90);
    expect(5000 / (spanMs / 1000)).toBeLessThan(110);
  });

  it('starts near the realistic start prices and moves like a random walk, not a trend', () => {
    const events = generateSyntheticEvents({
      count: 20_000,
      seed: 11,
      symbols: ['tBTCUSD'],
      ratePerSecond: 10,
      volatility: 0.8,
    });
    const prices = tradesOf(events).map((t) => t.price);
    const start = DEFAULT_START_PRICES.tBTCUSD as number;
    expect(Math.abs((prices[0] as number) / start - 1)).toBeLessThan(0.001);
    // 2000 s at 80 %/year volatility: σ ≈ 0.8 · √(2000 / 31.6e6) ≈ 0.2 %; 5 % would be a 25σ move.
    expect(Math.abs((prices.at(-1) as number) / start - 1)).toBeLessThan(0.05);
    expect(new Set(prices).size).toBeGreaterThan(100);
  });

  it('uses custom start prices and rejects bad options with CONFIG_INVALID', () => {
    const [first] = tradesOf(
      generateSyntheticEvents({
        count: 50,
        seed: 2,
        symbols: ['tFOOUSD'],
        startPrices: { tFOOUSD: 12.5 },
        tickerShare: 0,
      }),
    );
    expect(first?.price).toBeCloseTo(12.5, 1);
    for (const bad of [
      { ratePerSecond: 0 },
      { symbols: [] },
      { symbols: ['BTCUSD'] },
      { volatility: -1 },
      { tickerShare: 2 },
      { startPrices: { tBTCUSD: -5 } },
    ]) {
      expect(() => generateSyntheticEvents({ count: 1, ...bad })).toThrow(KandleError);
    }
  });
});

describe('createSyntheticSource', () => {
  it('emits live events with wall-clock times and ends after maxEvents', async () => {
    const source = createSyntheticSource({ seed: 4, ratePerSecond: 2000, maxEvents: 100 });
    const events: MarketEvent[] = [];
    source.onEvent((event) => events.push(event));
    const before = Date.now();
    const ended = new Promise<void>((resolve) => source.onStatus((status) => status === 'ended' && resolve()));
    await source.start();
    await ended;
    expect(events).toHaveLength(100);
    const stats = source.stats();
    expect(stats.tickers + stats.trades).toBe(100);
    expect(stats.messages).toBe(100);
    const times = events.map((e) => (e.kind === 'ticker' ? e.ticker.eventTime : e.trade.time));
    expect(Math.min(...times)).toBeGreaterThanOrEqual(before);
    expect(Math.max(...times)).toBeLessThanOrEqual(Date.now());
  });

  it('can be consumed with for-await and stops cleanly', async () => {
    const source = createSyntheticSource({ seed: 4, ratePerSecond: 1000 });
    await source.start();
    let seen = 0;
    for await (const event of source) {
      expect(['ticker', 'trade']).toContain(event.kind);
      seen += 1;
      if (seen === 20) await source.stop();
    }
    expect(seen).toBeGreaterThanOrEqual(20);
    expect(source.status).toBe('stopped');
  });

  it('backfills history in event-time order before going live, pausing between batches, then follows the clock', async () => {
    const durationMs = 60 * 60_000;
    let pauses = 0;
    const source = createSyntheticSource({
      seed: 9,
      ratePerSecond: 200,
      history: { durationMs, ratePerSecond: 2, batchSize: 500, pause: () => void pauses++ },
    });
    const times: number[] = [];
    source.onEvent((event) => times.push(event.kind === 'ticker' ? event.ticker.eventTime : event.trade.time));
    const startedAt = Date.now();
    await source.start();
    const history = await source.backfilled();
    // An hour at 2 events/s is about 7 200 events (Poisson, so not exactly).
    expect(history).toBeGreaterThan(6_500);
    expect(history).toBeLessThan(8_000);
    expect(pauses).toBe(Math.floor(history / 500));
    expect(times[0]).toBeGreaterThanOrEqual(startedAt - durationMs);
    expect(times[0]).toBeLessThan(startedAt - durationMs + 60_000);
    expect(times[history - 1]).toBeLessThanOrEqual(startedAt);
    // Live events follow, after the history and never before it (no watermark downstream sees them as late).
    await new Promise<void>((resolve) => {
      const off = source.onEvent(() => {
        if (times.length <= history + 20) return;
        off();
        resolve();
      });
    });
    await source.stop();
    for (let i = 1; i < times.length; i++) expect(times[i]).toBeGreaterThanOrEqual(times[i - 1] as number);
    expect(times.at(-1)).toBeGreaterThan(startedAt - 1000);
  });

  it('rejects a bad history with CONFIG_INVALID', () => {
    expect(() => createSyntheticSource({ history: { durationMs: -1 } })).toThrow(KandleError);
    expect(() => createSyntheticSource({ history: { durationMs: 1000, batchSize: 0 } })).toThrow(/batchSize/);
    expect(() => createSyntheticSource({ history: { durationMs: 1000, ratePerSecond: 0 } })).toThrow(/ratePerSecond/);
  });
});
