// Tests of the raw tickers/trades copy (KANDLE_INFLUX_TICKERS/TRADES): every measurement the dashboard reads gets data.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateSyntheticEvents, type MarketEvent, saveRecording } from '@kandle/core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { uniqueName, waitFor } from '../../../test/support/cluster';
import {
  type LineProtocolServer,
  startQuestDbServer,
  waitForCount,
} from '../../../packages/influx-sink/test/support/servers';
import { loadConfig } from '../src/config';
import { type RunningPipeline, startPipeline } from '../src/pipeline';

let questdb: LineProtocolServer;
const dir = mkdtempSync(join(tmpdir(), 'kandle-raw-'));

/**
 * 20 minutes of market, one event every 400 ms. The stores keep one row per series and millisecond (InfluxDB 3 by
 * design, QuestDB by its DEDUP keys), so the events get distinct times: with the synthetic source's random times two
 * tickers of a symbol in one millisecond would count as one row, and the counts below could not be exact.
 */
function spacedEvents(symbols: string[]): MarketEvent[] {
  const start = Date.UTC(2026, 0, 1);
  return generateSyntheticEvents({ count: 3000, symbols, seed: 11 }).map((event, i) =>
    event.kind === 'ticker'
      ? { kind: 'ticker', ticker: { ...event.ticker, eventTime: start + i * 400 } }
      : { kind: 'trade', trade: { ...event.trade, time: start + i * 400 } },
  );
}

beforeAll(async () => {
  questdb = await startQuestDbServer();
  await questdb.prepare();
}, 120_000);

afterAll(async () => {
  await questdb?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Runs the main job on fresh topics (replaying 20 minutes as history, then live) against QuestDB. */
async function runJob(symbols: string, extra: Record<string, string> = {}): Promise<RunningPipeline> {
  const group = uniqueName('raw');
  // A recording of these symbols only: the rows of each run are told apart by symbol.
  const recording = join(dir, `${group}.ndjson`);
  await saveRecording(recording, spacedEvents(symbols.split(',')));
  const config = loadConfig({
    KAFKA_BROKERS: inject('kafkaBrokers'),
    SCHEMA_REGISTRY_URL: inject('schemaRegistryUrl'),
    KANDLE_SYMBOLS: symbols,
    KANDLE_SOURCE: 'replay',
    KANDLE_REPLAY_FILE: recording,
    KANDLE_INTERVALS: '1m',
    KANDLE_HISTORY: '20m',
    KANDLE_TICKERS_TOPIC: `${group}-tickers`,
    KANDLE_TRADES_TOPIC: `${group}-trades`,
    KANDLE_GROUP: group,
    KANDLE_PORT: '0',
    INFLUX_HOST: questdb.host,
    INFLUX_TOKEN: questdb.token,
    INFLUX_DATABASE: questdb.database,
    ...extra,
  });
  return startPipeline({
    ...config,
    kafkaBrokers: inject('kafkaBrokers'),
    schemaRegistryUrl: inject('schemaRegistryUrl'),
    log: () => {},
  });
}

/** Stops the feed once the backfill is through, flushes it to Kafka, and returns what the source emitted. */
async function stopFeed(pipeline: RunningPipeline): Promise<{ tickers: number; trades: number }> {
  await waitFor('the backfill to be produced', () => pipeline.producer.metrics().delivered > 100);
  await pipeline.source.stop();
  await pipeline.producer.flush();
  const { tickers, trades } = pipeline.source.stats();
  return { tickers, trades };
}

const count = (sql: string) => questdb.query(sql).then((rows) => Number(rows[0]?.n ?? 0));

describe('with INFLUX_HOST, the job writes tickers and trades as well as candles', () => {
  it('copies every ticker and trade (by default), so every measurement the dashboard reads has rows', async () => {
    const pipeline = await runJob('tBTCUSD,tETHUSD');
    try {
      const emitted = await stopFeed(pipeline);
      expect(emitted.tickers).toBeGreaterThan(0);
      expect(emitted.trades).toBeGreaterThan(0);
      const symbols = "symbol IN ('tBTCUSD', 'tETHUSD')";
      // Each ticker and each trade is one row (QuestDB deduplicates on the sink's series key, like InfluxDB 3).
      expect(
        await waitForCount(questdb, `SELECT count(*) n FROM tickers WHERE ${symbols}`, emitted.tickers, 60_000),
      ).toBe(emitted.tickers);
      expect(
        await waitForCount(questdb, `SELECT count(*) n FROM trades WHERE ${symbols}`, emitted.trades, 60_000),
      ).toBe(emitted.trades);
      // The seed's DATE_BIN panel reads close_price off tickers.
      expect(await count(`SELECT count(*) n FROM tickers WHERE ${symbols} AND close_price IS NULL`)).toBe(0);
      expect(pipeline.rawWriter?.stats()).toMatchObject({
        tickers: emitted.tickers,
        trades: emitted.trades,
        poison: 0,
      });

      // Every measurement a provisioned panel queries has this run's data.
      const board = readFileSync(new URL('../../../compose/grafana/dashboards/candles.json', import.meta.url), 'utf8');
      const measurements = new Set([...board.matchAll(/FROM \\"(\w+)\\"/g)].map((m) => m[1] as string));
      expect([...measurements].sort()).toEqual(['candles', 'tickers', 'trades']);
      for (const measurement of measurements)
        await waitFor(
          `rows in ${measurement}`,
          async () => (await count(`SELECT count(*) n FROM ${measurement} WHERE ${symbols}`)) > 0,
        );
    } finally {
      await pipeline.stop();
    }
  });

  it('leaves trades out with KANDLE_INFLUX_TRADES=false, and both with both flags false', async () => {
    const pipeline = await runJob('tSOLUSD', { KANDLE_INFLUX_TRADES: 'false' });
    try {
      const emitted = await stopFeed(pipeline);
      const sol = "symbol = 'tSOLUSD'";
      expect(await waitForCount(questdb, `SELECT count(*) n FROM tickers WHERE ${sol}`, emitted.tickers, 60_000)).toBe(
        emitted.tickers,
      );
      // The writer copied every ticker already; with trades on, their copy would run in the same writer alongside.
      await waitFor('tSOLUSD candles', async () => (await count(`SELECT count(*) n FROM candles WHERE ${sol}`)) > 0);
      expect(await count(`SELECT count(*) n FROM trades WHERE ${sol}`)).toBe(0);
      expect(pipeline.rawWriter?.stats().trades).toBe(0);
    } finally {
      await pipeline.stop();
    }
    const neither = await runJob('tXRPUSD', { KANDLE_INFLUX_TRADES: 'false', KANDLE_INFLUX_TICKERS: 'false' });
    expect(neither.rawWriter).toBeUndefined();
    await neither.stop();
  });
});
