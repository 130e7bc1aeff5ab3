// Tests for the candle aggregation step: OHLCV by event time, watermark closing, corrections, late drops, invalid input.
import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import { createCandleAggregator } from '../../src/candles';
import type { Candle, CandleAggregatorOptions, CandleInterval, CandleUpdate } from '../../src/candles';
import { ConfigError } from '../../src/errors';
import type { Ticker, Trade } from '../../src/schema/types.generated';

const T0 = Date.UTC(2024, 4, 1, 10, 0, 0); // 10:00:00Z, on every grid used here
const SECOND = 1_000;
const MINUTE = 60_000;

function ticker(symbol: string, eventTime: number, lastPrice: number): Ticker {
  return {
    symbol,
    bid: lastPrice,
    bidSize: 1,
    ask: lastPrice,
    askSize: 1,
    dailyChange: 0,
    dailyChangeRelative: 0,
    lastPrice,
    volume: 1234,
    high: lastPrice,
    low: lastPrice,
    eventTime,
  };
}

let nextTradeId = 1;
function trade(symbol: string, time: number, price: number, amount: number): Trade {
  return { id: nextTradeId++, symbol, time, price, amount };
}

const key = (c: Candle): string => `${c.symbol}|${c.source}|${c.interval}|${c.start}`;
const byKey = (a: Candle, b: Candle): number => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0);

/** What an upserting sink ends up holding: the last emitted candle per bucket. */
function upserted(updates: readonly CandleUpdate[]): Candle[] {
  const latest = new Map<string, Candle>();
  for (const u of updates) latest.set(key(u.candle), u.candle);
  return [...latest.values()].sort(byKey);
}

const kinds = (updates: readonly CandleUpdate[]): string[] => updates.map((u) => `${u.kind}@${u.candle.start - T0}`);

describe('createCandleAggregator: OHLCV by event time', () => {
  it('orders open/close by event time, not arrival, within the grace period', () => {
    const agg = createCandleAggregator({ intervals: ['1m'], gracePeriodMs: 5 * SECOND });
    const updates = [
      ...agg.addTicker(ticker('tBTCUSD', T0 + 10 * SECOND, 100)),
      ...agg.addTicker(ticker('tBTCUSD', T0 + 30 * SECOND, 105)),
      ...agg.addTicker(ticker('tBTCUSD', T0 + 27 * SECOND, 90)),
      ...agg.addTicker(ticker('tBTCUSD', T0 + 26 * SECOND, 101)),
    ];
    expect(updates.map((u) => u.kind)).toEqual(['progress', 'progress', 'progress', 'progress']);
    expect(updates.at(-1)?.candle).toEqual({
      symbol: 'tBTCUSD',
      interval: '1m',
      source: 'ticker',
      start: T0,
      end: T0 + MINUTE,
      open: 100,
      high: 105,
      low: 90,
      close: 105,
      volume: 0,
      count: 4,
    });
    // An earlier record arriving last still becomes the open.
    const [late] = agg.addTicker(ticker('tBTCUSD', T0 + 1 * SECOND, 99));
    expect(late?.candle.open).toBe(99);
    expect(late?.candle.close).toBe(105);
  });

  it('breaks event-time ties by arrival: first arrival opens, last arrival closes', () => {
    const agg = createCandleAggregator();
    agg.addTicker(ticker('tBTCUSD', T0 + 5 * SECOND, 10));
    agg.addTicker(ticker('tBTCUSD', T0 + 5 * SECOND, 11));
    agg.addTicker(ticker('tBTCUSD', T0 + 40 * SECOND, 20));
    const [u] = agg.addTicker(ticker('tBTCUSD', T0 + 40 * SECOND, 21));
    expect(u?.candle).toMatchObject({ open: 10, close: 21, high: 21, low: 10, count: 4 });
  });

  it('gives trades a volume of sum |amount| and tickers none, in separate series', () => {
    const agg = createCandleAggregator();
    agg.addTrade(trade('tBTCUSD', T0 + 1 * SECOND, 100, 0.5));
    agg.addTrade(trade('tBTCUSD', T0 + 2 * SECOND, 101, -0.25));
    agg.addTicker(ticker('tBTCUSD', T0 + 3 * SECOND, 102));
    const [tradeCandle, tickerCandle] = agg.snapshot('tBTCUSD').sort((a, b) => (a.source < b.source ? 1 : -1));
    expect(tradeCandle).toMatchObject({ source: 'trade', open: 100, close: 101, volume: 0.75, count: 2 });
    expect(tickerCandle).toMatchObject({ source: 'ticker', open: 102, close: 102, volume: 0, count: 1 });
  });

  it('keeps a watermark per (symbol, source): one stream running ahead closes nothing elsewhere', () => {
    const agg = createCandleAggregator({ gracePeriodMs: 0 });
    agg.addTicker(ticker('tETHUSD', T0 + 10 * SECOND, 3000));
    agg.addTrade(trade('tETHUSD', T0 + 10 * SECOND, 3000, 1));
    const btc = agg.addTicker(ticker('tBTCUSD', T0 + 10 * MINUTE, 60000));
    expect(btc.map((u) => u.kind)).toEqual(['progress']);
    expect(agg.stats().openBuckets).toBe(3);
    // ETH tickers advance: only the ETH ticker bucket closes, the ETH trade bucket stays open.
    const eth = agg.addTicker(ticker('tETHUSD', T0 + 2 * MINUTE, 3010));
    expect(eth.map((u) => `${u.kind}:${u.candle.symbol}:${u.candle.source}`)).toEqual([
      'closed:tETHUSD:ticker',
      'progress:tETHUSD:ticker',
    ]);
  });

  it('builds several intervals at once, each consistent with the finer one', () => {
    const agg = createCandleAggregator({ intervals: ['1m', '5m'], gracePeriodMs: 0 });
    const prices = [5, 9, 1, 7, 3, 8, 2, 6, 4, 10];
    const updates = prices.flatMap((p, i) => agg.addTrade(trade('tBTCUSD', T0 + i * 30 * SECOND, p, i + 1)));
    updates.push(...agg.flush());
    const oneMinute = upserted(updates).filter((c) => c.interval === '1m');
    const [fiveMinute] = upserted(updates).filter((c) => c.interval === '5m');
    expect(oneMinute).toHaveLength(5);
    expect(fiveMinute).toEqual({
      symbol: 'tBTCUSD',
      interval: '5m',
      source: 'trade',
      start: T0,
      end: T0 + 5 * MINUTE,
      open: oneMinute[0]?.open,
      high: Math.max(...oneMinute.map((c) => c.high)),
      low: Math.min(...oneMinute.map((c) => c.low)),
      close: oneMinute.at(-1)?.close,
      volume: oneMinute.reduce((sum, c) => sum + c.volume, 0),
      count: prices.length,
    });
  });

  it('keeps symbols apart', () => {
    const agg = createCandleAggregator();
    agg.addTicker(ticker('tBTCUSD', T0, 60000));
    agg.addTicker(ticker('tETHUSD', T0 + SECOND, 3000));
    agg.addTicker(ticker('tBTCUSD', T0 + 2 * SECOND, 61000));
    expect(agg.snapshot('tBTCUSD')).toEqual([expect.objectContaining({ open: 60000, close: 61000, count: 2 })]);
    expect(agg.snapshot('tETHUSD')).toEqual([expect.objectContaining({ open: 3000, close: 3000, count: 1 })]);
    expect(agg.snapshot('tXRPUSD')).toEqual([]);
  });
});

describe('createCandleAggregator: closing, corrections and late data', () => {
  it('closes a bucket once its end is at or before newest event time − grace, exactly once', () => {
    const agg = createCandleAggregator({ gracePeriodMs: 5 * SECOND });
    agg.addTicker(ticker('tBTCUSD', T0 + 30 * SECOND, 100));
    // Watermark 10:00:59.999 is still before the first bucket's end (10:01:00): it stays open.
    expect(kinds(agg.addTicker(ticker('tBTCUSD', T0 + MINUTE + 4_999, 101)))).toEqual([`progress@${MINUTE}`]);
    // Watermark reaches 10:01:00 = end of the first bucket: it closes.
    expect(kinds(agg.addTicker(ticker('tBTCUSD', T0 + MINUTE + 5 * SECOND, 102)))).toEqual([
      'closed@0',
      `progress@${MINUTE}`,
    ]);
    expect(kinds(agg.addTicker(ticker('tBTCUSD', T0 + MINUTE + 6 * SECOND, 103)))).toEqual([`progress@${MINUTE}`]);
    expect(agg.stats()).toMatchObject({ records: 4, progress: 4, closed: 1, corrections: 0, droppedLate: 0 });
  });

  it('reproduces the worked example of docs/candles.md', () => {
    const agg = createCandleAggregator({ intervals: ['1m'], gracePeriodMs: 5 * SECOND });
    const at = (m: number, s: number): number => T0 + m * MINUTE + s * SECOND;
    const step = (m: number, s: number, price: number): string[] =>
      agg
        .addTicker(ticker('tBTCUSD', at(m, s), price))
        .map(
          ({ kind, candle: c }) =>
            `${kind} ${(c.start - T0) / MINUTE} ${c.open} ${c.high} ${c.low} ${c.close} ${c.count}`,
        );
    expect(step(0, 10, 100)).toEqual(['progress 0 100 100 100 100 1']);
    expect(step(0, 30, 105)).toEqual(['progress 0 100 105 100 105 2']);
    expect(step(0, 27, 90)).toEqual(['progress 0 100 105 90 105 3']);
    expect(step(1, 4, 107)).toEqual(['progress 1 107 107 107 107 1']);
    expect(step(0, 59, 95)).toEqual(['progress 0 100 105 90 95 4']);
    expect(step(1, 5, 108)).toEqual(['closed 0 100 105 90 95 4', 'progress 1 107 108 107 108 2']);
    expect(step(0, 40, 120)).toEqual(['correction 0 100 120 90 95 5']);
  });

  it('accepts a record between watermark and bucket end into the still-open bucket', () => {
    const agg = createCandleAggregator({ gracePeriodMs: 5 * SECOND });
    agg.addTicker(ticker('tBTCUSD', T0 + MINUTE + 4 * SECOND, 100));
    // 10:00:59 is exactly the watermark, but its bucket ends at 10:01:00, after it: still open.
    expect(kinds(agg.addTicker(ticker('tBTCUSD', T0 + 59 * SECOND, 90)))).toEqual(['progress@0']);
  });

  it('corrects remembered closed buckets, drops and reports records for forgotten ones', () => {
    const onLate = vi.fn();
    const agg = createCandleAggregator({ gracePeriodMs: 5 * SECOND, retainClosedBuckets: 2, onLate });
    for (let m = 0; m <= 4; m++) agg.addTicker(ticker('tBTCUSD', T0 + m * MINUTE + 30 * SECOND, 100 + m));
    // Buckets 0..3 are closed; only 2 and 3 are remembered.
    expect(agg.snapshot().map((c) => (c.start - T0) / MINUTE)).toEqual([2, 3, 4]);

    const correction = agg.addTicker(ticker('tBTCUSD', T0 + 3 * MINUTE + 50 * SECOND, 150));
    expect(correction).toEqual([
      {
        kind: 'correction',
        candle: expect.objectContaining({
          start: T0 + 3 * MINUTE,
          open: 103,
          high: 150,
          low: 103,
          close: 150,
          count: 2,
        }),
      },
    ]);

    const lateRecord = ticker('tBTCUSD', T0 + 1 * MINUTE + 10 * SECOND, 1);
    expect(agg.addTicker(lateRecord)).toEqual([]);
    expect(onLate).toHaveBeenCalledWith(lateRecord, {
      symbol: 'tBTCUSD',
      source: 'ticker',
      interval: '1m',
      bucketStart: T0 + MINUTE,
      watermark: T0 + 4 * MINUTE + 25 * SECOND,
    });
    expect(agg.stats()).toMatchObject({ closed: 4, corrections: 1, droppedLate: 1 });
    // The forgotten bucket is not resurrected with partial data.
    expect(agg.snapshot().some((c) => c.start === T0 + MINUTE)).toBe(false);
  });

  it('emits a late record for a bucket that never had data as closed, then corrects it', () => {
    const agg = createCandleAggregator({ gracePeriodMs: 0 });
    agg.addTicker(ticker('tBTCUSD', T0, 100));
    agg.addTicker(ticker('tBTCUSD', T0 + 5 * MINUTE, 105));
    expect(kinds(agg.addTicker(ticker('tBTCUSD', T0 + 2 * MINUTE, 102)))).toEqual([`closed@${2 * MINUTE}`]);
    const [again] = agg.addTicker(ticker('tBTCUSD', T0 + 2 * MINUTE + SECOND, 103));
    expect(again).toEqual({ kind: 'correction', candle: expect.objectContaining({ open: 102, close: 103, count: 2 }) });
    expect(agg.snapshot().map((c) => (c.start - T0) / MINUTE)).toEqual([0, 2, 5]);
  });

  it('drops everything late when no closed buckets are remembered', () => {
    const agg = createCandleAggregator({ gracePeriodMs: 0, retainClosedBuckets: 0 });
    agg.addTicker(ticker('tBTCUSD', T0, 100));
    expect(kinds(agg.addTicker(ticker('tBTCUSD', T0 + MINUTE, 101)))).toEqual(['closed@0', `progress@${MINUTE}`]);
    expect(agg.addTicker(ticker('tBTCUSD', T0 + 1, 99))).toEqual([]);
    expect(agg.stats().droppedLate).toBe(1);
  });

  it('flush closes every open bucket; later records for them are corrections', () => {
    const agg = createCandleAggregator({ intervals: ['1m', '1h'] });
    agg.addTicker(ticker('tBTCUSD', T0, 100));
    agg.addTrade(trade('tETHUSD', T0 + 10 * SECOND, 3000, 2));
    const flushed = agg.flush();
    expect(flushed.map((u) => `${u.kind}:${u.candle.symbol}:${u.candle.interval}`).sort()).toEqual([
      'closed:tBTCUSD:1h',
      'closed:tBTCUSD:1m',
      'closed:tETHUSD:1h',
      'closed:tETHUSD:1m',
    ]);
    expect(agg.stats().openBuckets).toBe(0);
    expect(agg.flush()).toEqual([]);
    expect(agg.addTicker(ticker('tBTCUSD', T0 + SECOND, 101)).map((u) => u.kind)).toEqual(['correction', 'correction']);
  });

  it('closes the open bucket with the oldest end when maxOpenBuckets is exceeded', () => {
    const agg = createCandleAggregator({ maxOpenBuckets: 2 });
    agg.addTicker(ticker('tBTCUSD', T0 + 2 * SECOND, 1));
    agg.addTicker(ticker('tETHUSD', T0 + MINUTE, 2));
    const updates = agg.addTicker(ticker('tSOLUSD', T0 + MINUTE, 3));
    expect(updates.map((u) => `${u.kind}:${u.candle.symbol}`)).toEqual(['progress:tSOLUSD', 'closed:tBTCUSD']);
    expect(agg.stats().openBuckets).toBe(2);
    expect(agg.addTicker(ticker('tBTCUSD', T0 + 3 * SECOND, 4)).map((u) => u.kind)).toEqual(['correction']);
  });

  it('with emitProgress off, returns only closed candles and corrections', () => {
    const agg = createCandleAggregator({ emitProgress: false, gracePeriodMs: 0 });
    expect(agg.addTicker(ticker('tBTCUSD', T0, 1))).toEqual([]);
    expect(kinds(agg.addTicker(ticker('tBTCUSD', T0 + MINUTE, 2)))).toEqual(['closed@0']);
    expect(kinds(agg.addTicker(ticker('tBTCUSD', T0 + 1, 3)))).toEqual(['correction@0']);
    expect(agg.stats().progress).toBe(0);
  });

  it("with emitProgress 'coalesced', reports opened candles at once and changes once per takeProgress", () => {
    const agg = createCandleAggregator({ emitProgress: 'coalesced', gracePeriodMs: 0 });
    expect(kinds(agg.addTicker(ticker('tBTCUSD', T0, 1)))).toEqual(['progress@0']);
    expect(agg.addTicker(ticker('tBTCUSD', T0 + 1, 5))).toEqual([]);
    expect(agg.addTicker(ticker('tBTCUSD', T0 + 2, 3))).toEqual([]);
    const [changed, ...rest] = agg.takeProgress();
    expect(rest).toEqual([]);
    expect(changed).toMatchObject({ kind: 'progress', candle: { open: 1, high: 5, low: 1, close: 3, count: 3 } });
    expect(agg.takeProgress()).toEqual([]);
    // Changed, then closed before the take: the 'closed' update carries it, takeProgress does not repeat it.
    agg.addTicker(ticker('tBTCUSD', T0 + 3, 4));
    expect(kinds(agg.addTicker(ticker('tBTCUSD', T0 + MINUTE, 2)))).toEqual(['closed@0', 'progress@60000']);
    expect(agg.takeProgress()).toEqual([]);
    expect(agg.stats().progress).toBe(3);
  });

  it('refuses an emitProgress that is not true, false or coalesced', () => {
    expect(() => createCandleAggregator({ emitProgress: 'yes' as unknown as boolean })).toThrow(ConfigError);
  });

  it('lets an onLate callback feed the aggregator again without mixing up results', () => {
    const agg = createCandleAggregator({
      gracePeriodMs: 0,
      retainClosedBuckets: 0,
      onLate: (record) => {
        expect(kinds(agg.addTicker(ticker('tETHUSD', T0, (record as Ticker).lastPrice)))).toEqual(['progress@0']);
      },
    });
    agg.addTicker(ticker('tBTCUSD', T0, 1));
    agg.addTicker(ticker('tBTCUSD', T0 + MINUTE, 2));
    const results = [
      ...agg.addTicker(ticker('tBTCUSD', T0 + 1, 3)),
      ...agg.addTicker(ticker('tBTCUSD', T0 + MINUTE + 1, 4)),
    ];
    expect(results.map((u) => `${u.kind}:${u.candle.symbol}`)).toEqual(['progress:tBTCUSD']);
    expect(agg.snapshot('tETHUSD')).toEqual([expect.objectContaining({ count: 1, close: 3 })]);
  });
});

describe('createCandleAggregator: invalid input and options', () => {
  const invalidTickers: Array<[string, unknown]> = [
    ['NaN price', ticker('tBTCUSD', T0, Number.NaN)],
    ['infinite price', ticker('tBTCUSD', T0, Number.POSITIVE_INFINITY)],
    ['negative price', ticker('tBTCUSD', T0, -1)],
    ['NaN time', ticker('tBTCUSD', Number.NaN, 1)],
    ['infinite time', ticker('tBTCUSD', Number.NEGATIVE_INFINITY, 1)],
    ['empty symbol', ticker('', T0, 1)],
    ['missing symbol', { ...ticker('x', T0, 1), symbol: undefined }],
    ['string price', { ...ticker('tBTCUSD', T0, 1), lastPrice: '1' }],
    ['null record', null],
  ];

  it.each(invalidTickers)('skips a ticker with %s, counts it and reports it, without throwing', (_, bad) => {
    const onInvalid = vi.fn();
    const agg = createCandleAggregator({ onInvalid });
    agg.addTicker(ticker('tBTCUSD', T0, 100));
    expect(agg.addTicker(bad as Ticker)).toEqual([]);
    expect(onInvalid).toHaveBeenCalledExactlyOnceWith(bad, expect.any(String));
    expect(agg.stats()).toMatchObject({ records: 2, invalid: 1, progress: 1 });
    // Valid data before and after is intact.
    agg.addTicker(ticker('tBTCUSD', T0 + SECOND, 101));
    expect(agg.snapshot()).toEqual([expect.objectContaining({ open: 100, close: 101, count: 2 })]);
  });

  it('skips trades with a non-finite amount or bad price, and accepts a zero price', () => {
    const reasons: string[] = [];
    const agg = createCandleAggregator({ onInvalid: (_, reason) => reasons.push(reason) });
    agg.addTrade(trade('tBTCUSD', T0, 100, Number.NaN));
    agg.addTrade(trade('tBTCUSD', T0, -5, 1));
    agg.addTrade(trade('tBTCUSD', T0, 0, 1));
    expect(reasons).toEqual(['amount must be a finite number', 'price must be a finite number >= 0']);
    expect(agg.snapshot()).toEqual([expect.objectContaining({ open: 0, volume: 1 })]);
  });

  it.each([
    { intervals: [] },
    { intervals: ['1w' as CandleInterval] },
    { intervals: ['1m', '1m'] as CandleInterval[] },
    { gracePeriodMs: -1 },
    { gracePeriodMs: Number.NaN },
    { retainClosedBuckets: 1.5 },
    { retainClosedBuckets: -1 },
    { maxOpenBuckets: 0 },
  ] as CandleAggregatorOptions[])('rejects options %j with ConfigError', (options) => {
    expect(() => createCandleAggregator(options)).toThrow(ConfigError);
  });

  it('sorts snapshots by start, then symbol, source and interval width, and filters them', () => {
    const agg = createCandleAggregator({ intervals: ['5m', '1m'] });
    agg.addTicker(ticker('tETHUSD', T0 + MINUTE, 2));
    agg.addTrade(trade('tBTCUSD', T0 + 2 * SECOND, 1, 1));
    agg.addTicker(ticker('tBTCUSD', T0 + SECOND, 1));
    const order = agg.snapshot().map((c) => `${(c.start - T0) / MINUTE}:${c.symbol}:${c.source}:${c.interval}`);
    expect(order).toEqual([
      '0:tBTCUSD:ticker:1m',
      '0:tBTCUSD:ticker:5m',
      '0:tBTCUSD:trade:1m',
      '0:tBTCUSD:trade:5m',
      '0:tETHUSD:ticker:5m',
      '1:tETHUSD:ticker:1m',
    ]);
    expect(agg.snapshot(undefined, '5m')).toHaveLength(3);
    expect(agg.snapshot('tETHUSD', '1m')).toHaveLength(1);
  });
});

// ---------------------------------------------------------------------------------------------
// Properties: arrival order within the rules never changes the candles, and the candles equal
// an independent GROUP BY DATE_BIN / ORDER BY time computation.

type MarketRecord = { kind: 'ticker'; record: Ticker } | { kind: 'trade'; record: Trade };

const feed = (agg: ReturnType<typeof createCandleAggregator>, records: readonly MarketRecord[]): CandleUpdate[] => {
  const updates: CandleUpdate[] = [];
  for (const r of records) updates.push(...(r.kind === 'ticker' ? agg.addTicker(r.record) : agg.addTrade(r.record)));
  updates.push(...agg.flush());
  return updates;
};

const recordTime = (r: MarketRecord): number => (r.kind === 'ticker' ? r.record.eventTime : r.record.time);

// Amounts are multiples of 1/8 so volume sums are exact in any order.
const feedOnly = (agg: ReturnType<typeof createCandleAggregator>, records: readonly MarketRecord[]): void => {
  for (const r of records) r.kind === 'ticker' ? agg.addTicker(r.record) : agg.addTrade(r.record);
};

const recordArb = (time: fc.Arbitrary<number>): fc.Arbitrary<MarketRecord> =>
  fc
    .record({
      symbol: fc.constantFrom('tBTCUSD', 'tETHUSD'),
      kind: fc.constantFrom('ticker' as const, 'trade' as const),
      time,
      price: fc.double({ min: 0, max: 1e6, noNaN: true }),
      eighths: fc.integer({ min: -800, max: 800 }),
    })
    .map(({ symbol, kind, time: t, price, eighths }) =>
      kind === 'ticker'
        ? { kind, record: ticker(symbol, t, price) }
        : { kind, record: trade(symbol, t, price, eighths / 8) },
    );

/** The Grafana query's semantics, written naively: group by DATE_BIN, order by time (stable). */
function referenceCandles(records: readonly MarketRecord[], intervals: readonly [CandleInterval, number][]): Candle[] {
  const groups = new Map<
    string,
    { c: Omit<Candle, 'open' | 'close' | 'high' | 'low' | 'volume' | 'count'>; rs: MarketRecord[] }
  >();
  for (const r of records) {
    for (const [interval, ms] of intervals) {
      const t = recordTime(r);
      const start = Math.floor(t / ms) * ms;
      const c = { symbol: r.record.symbol, interval, source: r.kind, start, end: start + ms };
      const k = `${c.symbol}|${c.source}|${c.interval}|${c.start}`;
      const g = groups.get(k) ?? { c, rs: [] };
      g.rs.push(r);
      groups.set(k, g);
    }
  }
  const price = (r: MarketRecord): number => (r.kind === 'ticker' ? r.record.lastPrice : r.record.price);
  return [...groups.values()]
    .map(({ c, rs }) => {
      const sorted = [...rs].sort((a, b) => recordTime(a) - recordTime(b));
      return {
        ...c,
        open: price(sorted[0] as MarketRecord),
        high: Math.max(...rs.map(price)),
        low: Math.min(...rs.map(price)),
        close: price(sorted.at(-1) as MarketRecord),
        volume: rs.reduce((sum, r) => sum + (r.kind === 'trade' ? Math.abs(r.record.amount) : 0), 0),
        count: rs.length,
      };
    })
    .sort(byKey);
}

describe('createCandleAggregator: properties', () => {
  const grace = 5 * SECOND;
  const intervals: CandleInterval[] = ['1m', '5m', '7s'];

  it('gives the same candles for any arrival order that stays within the grace period', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.integer({ min: -20 * MINUTE, max: 20 * MINUTE }), { minLength: 1, maxLength: 120 }),
        fc.array(fc.integer({ min: 0, max: grace }), { minLength: 120, maxLength: 120 }),
        fc.array(
          fc.tuple(fc.constantFrom('tBTCUSD', 'tETHUSD'), fc.boolean(), fc.double({ min: 1, max: 1e5, noNaN: true })),
          {
            minLength: 120,
            maxLength: 120,
          },
        ),
        fc.constantFrom(0, T0),
        (offsets, delays, shapes, base) => {
          const records: MarketRecord[] = offsets.map((offset, i) => {
            const [symbol, isTicker, price] = shapes[i] as [string, boolean, number];
            return isTicker
              ? { kind: 'ticker', record: ticker(symbol, base + offset, price) }
              : { kind: 'trade', record: trade(symbol, base + offset, price, (i % 9) - 4) };
          });
          const sorted = [...records].sort((a, b) => recordTime(a) - recordTime(b));
          // Arrival by time + a delay of at most the grace period never makes a record late.
          const arrival = records
            .map((r, i) => ({ r, at: recordTime(r) + (delays[i] as number) }))
            .sort((a, b) => a.at - b.at)
            .map(({ r }) => r);

          const inOrder = createCandleAggregator({ intervals, gracePeriodMs: grace });
          const shuffled = createCandleAggregator({ intervals, gracePeriodMs: grace });
          const expected = upserted(feed(inOrder, sorted));
          const updates = feed(shuffled, arrival);
          expect(upserted(updates)).toEqual(expected);
          expect(shuffled.stats()).toMatchObject({ corrections: 0, droppedLate: 0 });
          // Every bucket is emitted as closed exactly once.
          expect(updates.filter((u) => u.kind === 'closed')).toHaveLength(expected.length);
        },
      ),
      { numRuns: 150 },
    );
  });

  it('coalesced progress taken at any batch boundaries equals the latest per-record update of each candle', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.tuple(
            fc.integer({ min: -3 * MINUTE, max: 3 * MINUTE }),
            fc.constantFrom('tBTCUSD', 'tETHUSD'),
            fc.boolean(),
            fc.double({ min: 1, max: 1e5, noNaN: true }),
            fc.boolean(),
          ),
          { minLength: 1, maxLength: 150 },
        ),
        (rows) => {
          const perRecord = createCandleAggregator({ intervals, gracePeriodMs: grace });
          const coalesced = createCandleAggregator({ intervals, gracePeriodMs: grace, emitProgress: 'coalesced' });
          let batchExpected = new Map<string, CandleUpdate>();
          let batchActual = new Map<string, CandleUpdate>();
          const keepLatest = (batch: Map<string, CandleUpdate>, u: CandleUpdate) => {
            const previous = batch.get(key(u.candle));
            if (previous?.kind !== 'closed' || u.kind === 'correction') batch.set(key(u.candle), u);
          };
          rows.forEach(([offset, symbol, isTicker, price, endsBatch], i) => {
            const add = (agg: ReturnType<typeof createCandleAggregator>) =>
              isTicker
                ? agg.addTicker(ticker(symbol, T0 + offset, price))
                : agg.addTrade({ id: i, symbol, time: T0 + offset, price, amount: (i % 9) - 4 });
            for (const u of add(perRecord)) keepLatest(batchExpected, u);
            for (const u of add(coalesced)) keepLatest(batchActual, u);
            if (endsBatch || i === rows.length - 1) {
              for (const u of coalesced.takeProgress()) keepLatest(batchActual, u);
              const sorted = (m: Map<string, CandleUpdate>) =>
                [...m.values()].sort((a, b) => byKey(a.candle, b.candle));
              expect(sorted(batchActual)).toEqual(sorted(batchExpected));
              batchExpected = new Map();
              batchActual = new Map();
            }
          });
          expect(coalesced.flush()).toEqual(perRecord.flush());
        },
      ),
      { numRuns: 200 },
    );
  });

  it('restored from a checkpoint at any record, emits what the uninterrupted aggregator emits', () => {
    fc.assert(
      fc.property(
        fc.array(recordArb(fc.integer({ min: T0 - 10 * MINUTE, max: T0 + 10 * MINUTE })), {
          minLength: 1,
          maxLength: 150,
        }),
        fc.nat(),
        (records, at) => {
          // Arrival in time order within the grace period: no corrections, which need closed buckets a checkpoint omits.
          const sorted = [...records].sort((a, b) => recordTime(a) - recordTime(b));
          const cut = at % (sorted.length + 1);
          const options = { intervals, gracePeriodMs: grace };
          const uninterrupted = createCandleAggregator(options);
          feedOnly(uninterrupted, sorted.slice(0, cut));
          const checkpoint = {
            open: uninterrupted
              .snapshot()
              .flatMap((c) => uninterrupted.openCandle(c.symbol, c.source, c.interval, c.start) ?? []),
            clocks: uninterrupted.clocks(),
          };
          const restored = createCandleAggregator(options);
          restored.restore(JSON.parse(JSON.stringify(checkpoint)));
          expect(restored.stats().openBuckets).toBe(uninterrupted.stats().openBuckets);
          // Same updates; flush() may list series in another order (a restored aggregator creates them clock-first).
          const inOrder = (updates: CandleUpdate[]) =>
            updates.map((u) => `${u.kind} ${JSON.stringify(u.candle)}`).sort();
          expect(inOrder(feed(restored, sorted.slice(cut)))).toEqual(inOrder(feed(uninterrupted, sorted.slice(cut))));
        },
      ),
      { numRuns: 200 },
    );
  });

  it('after a restore, drops a record for a bucket closed before the checkpoint instead of re-emitting it', () => {
    const original = createCandleAggregator({ intervals: ['1m'], gracePeriodMs: 0 });
    original.addTrade(trade('tBTCUSD', T0 + 10 * SECOND, 100, 1));
    original.addTrade(trade('tBTCUSD', T0 + MINUTE + SECOND, 101, 1)); // closes 10:00
    const restored = createCandleAggregator({ intervals: ['1m'], gracePeriodMs: 0 });
    const open = original.openCandle('tBTCUSD', 'trade', '1m', T0 + MINUTE);
    expect(original.openCandle('tBTCUSD', 'trade', '1m', T0)).toBeUndefined();
    restored.restore({ open: open ? [open] : [], clocks: original.clocks() });
    expect(restored.addTrade(trade('tBTCUSD', T0 + 20 * SECOND, 90, 1))).toEqual([]);
    expect(restored.stats().droppedLate).toBe(1);
    expect(() => restored.restore({ open: [], clocks: [] })).toThrow(ConfigError);
  });

  it('gives the same final candles for any arrival order when nothing is forgotten', () => {
    fc.assert(
      fc.property(
        fc.array(recordArb(fc.integer({ min: T0 - 10 * MINUTE, max: T0 + 10 * MINUTE })), {
          minLength: 1,
          maxLength: 150,
        }),
        fc.integer({ min: 0, max: 30 * SECOND }),
        (records, gracePeriodMs) => {
          // Distinct times, so "first/last arrival" tie-breaking cannot differ between the runs.
          const unique = [...new Map(records.map((r) => [recordTime(r), r])).values()];
          const sorted = [...unique].sort((a, b) => recordTime(a) - recordTime(b));
          const options = { intervals, gracePeriodMs, retainClosedBuckets: 10_000 };
          const shuffledAgg = createCandleAggregator(options);
          expect(upserted(feed(shuffledAgg, unique))).toEqual(upserted(feed(createCandleAggregator(options), sorted)));
          expect(shuffledAgg.stats().droppedLate).toBe(0);
        },
      ),
      { numRuns: 150 },
    );
  });

  it('matches a naive GROUP BY DATE_BIN computation on random data, ties and negative times included', () => {
    const withMs = intervals.map((i): [CandleInterval, number] => [
      i,
      { '1m': 60_000, '5m': 300_000, '7s': 7_000 }[i as string] as number,
    ]);
    fc.assert(
      fc.property(
        fc.constantFrom(0, T0),
        fc.array(
          fc.integer({ min: -15 * MINUTE, max: 15 * MINUTE }).chain((offset) => fc.constant(offset)),
          {
            minLength: 1,
            maxLength: 200,
          },
        ),
        fc.infiniteStream(recordArb(fc.constant(0))),
        fc.integer({ min: 0, max: 20 * SECOND }),
        (base, offsets, shapes, gracePeriodMs) => {
          // Coarse offsets (multiples of 250 ms) make equal event times common.
          const records = offsets.map((offset) => {
            const r = shapes.next().value as MarketRecord;
            const t = base + Math.round(offset / 250) * 250;
            return r.kind === 'ticker'
              ? ({ kind: 'ticker', record: { ...r.record, eventTime: t } } as const)
              : ({ kind: 'trade', record: { ...r.record, time: t } } as const);
          });
          const agg = createCandleAggregator({ intervals, gracePeriodMs, retainClosedBuckets: 10_000 });
          const updates = feed(agg, records);
          expect(upserted(updates)).toEqual(referenceCandles(records, withMs));
          expect([...agg.snapshot()].sort(byKey)).toEqual(referenceCandles(records, withMs));
        },
      ),
      { numRuns: 150 },
    );
  });
});
