import type { CandleUpdate } from '@kandle/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createInfluxSink, type InfluxSink, type InfluxSinkOptions } from '../src/index';
import { candleSeries, T0, ticker, trade, update } from './support/fixtures';
import { chooseServers, type LineProtocolServer, waitForCount } from './support/servers';
import { asStored, type StoredCandle, storedCandles as storedOf } from './support/stored-candles';

// Real-server proof of the write path, once per server: QuestDB (always) accepts InfluxDB line protocol on
// /api/v2/write, the endpoint the influxdb3 client posts to, and answers SQL on /exec; InfluxDB 3 Core (in Docker via
// testcontainers, when an engine is reachable) is the real target. Everything written is read back independently.
const choices = await chooseServers();

const expected = (updates: readonly CandleUpdate[]): StoredCandle[] => asStored(updates.map((u) => u.candle));

// A loop rather than describe.each: each server's block is skipped (or not) on its own.
for (const choice of choices) {
  describe.skipIf(!choice.enabled)(`influx sink → ${choice.title}`, () => {
    let server: LineProtocolServer;
    const sinks: InfluxSink[] = [];
    const silent = { warn: () => {}, error: () => {} };

    beforeAll(async () => {
      server = await choice.start();
      await server.prepare();
    });

    afterAll(async () => {
      await Promise.all(sinks.map((s) => s.close()));
      await server?.close();
    });

    function openSink(options: InfluxSinkOptions = {}): InfluxSink {
      const sink = createInfluxSink({
        host: server.host,
        database: server.database,
        token: server.token,
        flushIntervalMs: 50,
        logger: silent,
        ...options,
      });
      sinks.push(sink);
      return sink;
    }

    const storedCandles = (symbol: string) => storedOf(server, symbol);

    const countOf = (symbol: string) => `SELECT count(*) AS n FROM candles WHERE symbol = '${symbol}'`;

    it('stores candles that read back equal, field for field', async () => {
      const sink = openSink();
      const updates = candleSeries(300, 'tROUNDTRIP');
      await sink.write(updates);
      expect(await waitForCount(server, countOf('tROUNDTRIP'), 300)).toBe(300);
      expect(await storedCandles('tROUNDTRIP')).toEqual(expected(updates));
    });

    it('replays duplicate nothing and later updates of a candle overwrite earlier ones', async () => {
      const sink = openSink({ batchSize: 7 });
      const final = candleSeries(40, 'tREPLAY');
      const progress = final.map((u) => update({ ...u.candle, close: u.candle.close - 1, count: 1 }));
      await sink.write(progress);
      await sink.write(final);
      await sink.write(final); // a consumer replaying from an older offset
      expect(await waitForCount(server, countOf('tREPLAY'), 40)).toBe(40);
      // The server may still be applying the last write (QuestDB: WAL apply): wait until the final values are visible.
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
      expect(await waitForCount(server, `SELECT count(*) AS n FROM tickers WHERE symbol = 'tTICK'`, 2)).toBe(2);
      expect(await waitForCount(server, `SELECT count(*) AS n FROM trades WHERE symbol = 'tTRADE'`, 2)).toBe(2);
      const tickers = await server.query(
        `SELECT close_price, last_price FROM tickers WHERE symbol = 'tTICK' ORDER BY ${server.timeColumn}`,
      );
      expect(tickers).toEqual([
        { close_price: 1.25, last_price: 1.25 },
        { close_price: 2200.2, last_price: 2200.2 },
      ]);
      const trades = await server.query(`SELECT trade_id, price FROM trades WHERE symbol = 'tTRADE' ORDER BY trade_id`);
      expect(trades).toEqual([
        { trade_id: '1', price: 42001.5 },
        { trade_id: '2', price: 5 },
      ]);
    });

    it('fails only the line the server refuses, without retrying it, and stores the rest of the batch', async () => {
      // `open` is a BOOLEAN here but a float in candle lines: the server refuses such a line with a 400 that names it.
      await server.createRefusingMeasurement('refusals');
      const sink = openSink({ measurements: { candles: 'refusals' } });
      // Both land in one batch: the refused candle line first, then a ticker line that is fine.
      const refused = sink.write([update({ symbol: 'tREFUSED' })]);
      const accepted = sink.writeTickers([ticker({ symbol: 'tACCEPTED' })]);
      await expect(refused).rejects.toThrow(/refusals,interval=1m,source=trade,symbol=tREFUSED/);
      await expect(accepted).resolves.toBeUndefined();
      expect(sink.stats()).toMatchObject({ retries: 0, failedPoints: 1, pointsWritten: 1 });
      expect(await waitForCount(server, `SELECT count(*) AS n FROM tickers WHERE symbol = 'tACCEPTED'`, 1)).toBe(1);
      expect(await server.query(`SELECT count(*) AS n FROM refusals WHERE symbol = 'tREFUSED'`)).toEqual([{ n: 0 }]);
    });

    it('survives a server crash mid-stream: every acknowledged candle is stored, each exactly once', async () => {
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
      await server.stop();
      // Acks already on their way when the server died may still land; after that nothing may be acknowledged.
      await new Promise((r) => setTimeout(r, 200));
      down = true;
      await expect.poll(() => sink.stats().retries, { timeout: 10_000 }).toBeGreaterThan(0);
      await new Promise((r) => setTimeout(r, 2000));
      expect(acknowledgedWhileDown).toBe(0);
      expect(acknowledged.length).toBeLessThan(batches.length); // the crash really was mid-stream
      expect(sink.stats().pendingPoints).toBeGreaterThan(0);
      expect(sink.stats().pendingPoints).toBeLessThanOrEqual(400);
      down = false;
      await server.start();
      await producer;
      await sink.flush();

      expect(acknowledged.length).toBe(batches.length);
      expect(sink.stats().failedPoints).toBe(0);
      expect(await waitForCount(server, countOf('tFAULT'), 3000)).toBe(3000);
      const distinct = await server.query(
        `SELECT count(DISTINCT ${server.timeColumn}) AS n FROM candles WHERE symbol = 'tFAULT'`,
      );
      expect(distinct).toEqual([{ n: 3000 }]);
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
        `[influx-sink] ${points} candle points acknowledged by ${server.name} in ${seconds.toFixed(2)} s: ${rate} points/s\n`,
      );
      expect(sink.stats()).toMatchObject({ pointsWritten: points, failedPoints: 0 });
      expect(
        await waitForCount(server, `SELECT count(*) AS n FROM candles WHERE symbol LIKE 'tTHRU%'`, points, 60_000),
      ).toBe(points);
      expect(rate).toBeGreaterThan(5000);
    });
  });
}
