import type { CandleUpdate } from '@kandle/core';
import { type QuestDb, startQuestDb } from '@kandle/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createInfluxSink, type InfluxSink, type InfluxSinkOptions } from '../src/index';
import { candleSeries, T0, ticker, trade, update } from './support/fixtures';
import { createSinkTables, waitForCount } from './support/questdb-schema';

// Real-server proof of the write path: QuestDB accepts InfluxDB line protocol on /api/v2/write, the endpoint the
// influxdb3 client posts to, and answers SQL on /exec, so everything written is read back independently.
let qdb: QuestDb;
const sinks: InfluxSink[] = [];
const silent = { warn: () => {}, error: () => {} };

beforeAll(async () => {
  qdb = await startQuestDb();
  await createSinkTables(qdb);
});

afterAll(async () => {
  await Promise.all(sinks.map((s) => s.close()));
  await qdb?.stop({ removeData: true });
});

function openSink(options: InfluxSinkOptions = {}): InfluxSink {
  const sink = createInfluxSink({
    host: qdb.httpUrl,
    database: 'kandle',
    token: 'not-checked-by-questdb',
    flushIntervalMs: 50,
    logger: silent,
    ...options,
  });
  sinks.push(sink);
  return sink;
}

interface StoredCandle {
  symbol: string;
  interval: string;
  source: string;
  open: number;
  high: number;
  low: number;
  close: number;
  volume: number;
  count: number;
  start: number;
}

async function storedCandles(symbol: string): Promise<StoredCandle[]> {
  const { dataset } = await qdb.query(
    `SELECT symbol, interval, source, open, high, low, close, volume, count, timestamp FROM candles WHERE symbol = '${symbol}' ORDER BY interval, timestamp`,
  );
  return dataset.map(([s, i, src, open, high, low, close, volume, count, ts]) => ({
    symbol: s as string,
    interval: i as string,
    source: src as string,
    open: open as number,
    high: high as number,
    low: low as number,
    close: close as number,
    volume: volume as number,
    count: count as number,
    start: Date.parse(ts as string),
  }));
}

function expected(updates: readonly CandleUpdate[]): StoredCandle[] {
  return updates.map(({ candle: c }) => ({
    symbol: c.symbol,
    interval: c.interval,
    source: c.source,
    open: c.open,
    high: c.high,
    low: c.low,
    close: c.close,
    volume: c.volume,
    count: c.count,
    start: c.start,
  }));
}

const countOf = (symbol: string) => `SELECT count() FROM candles WHERE symbol = '${symbol}'`;

describe('influx sink → QuestDB', () => {
  it('stores candles that read back equal, field for field', async () => {
    const sink = openSink();
    const updates = candleSeries(300, 'tROUNDTRIP');
    await sink.write(updates);
    expect(await waitForCount(qdb, countOf('tROUNDTRIP'), 300)).toBe(300);
    expect(await storedCandles('tROUNDTRIP')).toEqual(expected(updates));
  });

  it('replays duplicate nothing and later updates of a candle overwrite earlier ones', async () => {
    const sink = openSink({ batchSize: 7 });
    const final = candleSeries(40, 'tREPLAY');
    const progress = final.map((u) => update({ ...u.candle, close: u.candle.close - 1, count: 1 }));
    await sink.write(progress);
    await sink.write(final);
    await sink.write(final); // a consumer replaying from an older offset
    expect(await waitForCount(qdb, countOf('tREPLAY'), 40)).toBe(40);
    // A WAL apply might still be catching up on the last transaction: wait until the final values are visible.
    await expect.poll(() => storedCandles('tREPLAY'), { timeout: 10_000 }).toEqual(expected(final));
  });

  it('stores tickers (with close_price) and trades sharing a millisecond as distinct rows', async () => {
    const sink = openSink();
    await Promise.all([
      sink.writeTickers([
        ticker({ symbol: 'tTICK', lastPrice: 1.25 }),
        ticker({ symbol: 'tTICK', eventTime: T0 + 2000 }),
      ]),
      sink.writeTrades([trade({ symbol: 'tTRADE', id: 1 }), trade({ symbol: 'tTRADE', id: 2, price: 5 })]),
    ]);
    expect(await waitForCount(qdb, `SELECT count() FROM tickers WHERE symbol = 'tTICK'`, 2)).toBe(2);
    expect(await waitForCount(qdb, `SELECT count() FROM trades WHERE symbol = 'tTRADE'`, 2)).toBe(2);
    const { dataset } = await qdb.query(
      `SELECT close_price, last_price FROM tickers WHERE symbol = 'tTICK' ORDER BY timestamp`,
    );
    expect(dataset).toEqual([
      [1.25, 1.25],
      [2200.2, 2200.2],
    ]);
    const trades = await qdb.query(`SELECT trade_id, price FROM trades WHERE symbol = 'tTRADE' ORDER BY trade_id`);
    expect(trades.dataset).toEqual([
      ['1', 42001.5],
      ['2', 5],
    ]);
  });

  it('fails only the line QuestDB refuses, without retrying it, and stores the rest of the batch', async () => {
    // `open` is a BOOLEAN here but a float in candle lines: QuestDB refuses such a line with a 400 that names it.
    await qdb.query(
      'CREATE TABLE IF NOT EXISTS refusals (symbol SYMBOL, open BOOLEAN, timestamp TIMESTAMP) TIMESTAMP(timestamp) PARTITION BY DAY WAL',
    );
    const sink = openSink({ measurements: { candles: 'refusals' } });
    // Both land in one batch: the refused candle line first, then a ticker line that is fine.
    const refused = sink.write([update({ symbol: 'tREFUSED' })]);
    const accepted = sink.writeTickers([ticker({ symbol: 'tACCEPTED' })]);
    await expect(refused).rejects.toThrow(/refusals,interval=1m,source=trade,symbol=tREFUSED/);
    await expect(accepted).resolves.toBeUndefined();
    expect(sink.stats()).toMatchObject({ retries: 0, failedPoints: 1, pointsWritten: 1 });
    expect(await waitForCount(qdb, `SELECT count() FROM tickers WHERE symbol = 'tACCEPTED'`, 1)).toBe(1);
    expect((await qdb.query('SELECT count() FROM refusals')).dataset[0]?.[0]).toBe(0);
  });

  it('survives a QuestDB crash mid-stream: every acknowledged candle is stored, each exactly once', async () => {
    const sink = openSink({ batchSize: 100, maxPendingPoints: 400, retryBaseDelayMs: 50, retryMaxDelayMs: 500 });
    const batches = Array.from({ length: 60 }, (_, b) => candleSeries(50, 'tFAULT', T0 + b * 50 * 60_000));
    const acknowledged: CandleUpdate[][] = [];
    let acknowledgedWhileDown = 0;
    let down = false;

    // Like a consumer with a few partitions in flight: up to 4 un-acked writes at a time.
    const producer = (async () => {
      const inFlight: Promise<void>[] = [];
      for (const batch of batches) {
        inFlight.push(
          sink.write(batch).then(() => {
            acknowledged.push(batch);
            if (down) acknowledgedWhileDown++;
          }),
        );
        if (inFlight.length >= 4) await inFlight.shift();
        await new Promise((r) => setTimeout(r, 40));
      }
      await Promise.all(inFlight);
    })();

    await expect.poll(() => acknowledged.length, { timeout: 20_000 }).toBeGreaterThanOrEqual(5);
    await qdb.stop({ signal: 'SIGKILL' });
    // Acks already on their way when the JVM died may still land; after that nothing may be acknowledged.
    await new Promise((r) => setTimeout(r, 200));
    down = true;
    await expect.poll(() => sink.stats().retries, { timeout: 10_000 }).toBeGreaterThan(0);
    await new Promise((r) => setTimeout(r, 2000));
    expect(acknowledgedWhileDown).toBe(0);
    expect(acknowledged.length).toBeLessThan(batches.length); // the crash really was mid-stream
    expect(sink.stats().pendingPoints).toBeGreaterThan(0);
    expect(sink.stats().pendingPoints).toBeLessThanOrEqual(400);
    down = false;
    await qdb.start();
    await producer;
    await sink.flush();

    expect(acknowledged.length).toBe(batches.length);
    expect(sink.stats().failedPoints).toBe(0);
    expect(await waitForCount(qdb, countOf('tFAULT'), 3000)).toBe(3000);
    const distinct = await qdb.query(`SELECT count_distinct(timestamp) FROM candles WHERE symbol = 'tFAULT'`);
    expect(distinct.dataset[0]?.[0]).toBe(3000);
    expect(await storedCandles('tFAULT')).toEqual(expected(batches.flat()));
  });

  it('measures write throughput', async () => {
    const sink = openSink({ batchSize: 5000, maxPendingPoints: 50_000 });
    const points = 100_000;
    const updates = Array.from({ length: points / 1000 }, (_, i) => candleSeries(1000, `tTHRU${i}`));
    const started = performance.now();
    await Promise.all(updates.map((chunk) => sink.write(chunk)));
    const seconds = (performance.now() - started) / 1000;
    const rate = Math.round(points / seconds);
    process.stderr.write(
      `[influx-sink] ${points} candle points acknowledged by QuestDB in ${seconds.toFixed(2)} s: ${rate} points/s\n`,
    );
    expect(sink.stats()).toMatchObject({ pointsWritten: points, failedPoints: 0 });
    expect(await waitForCount(qdb, `SELECT count() FROM candles WHERE symbol LIKE 'tTHRU%'`, points, 60_000)).toBe(
      points,
    );
    expect(rate).toBeGreaterThan(5000);
  });
});
