// Consumer → sink on real servers: Kafka records become candles in QuestDB; while it is down, commits stop, nothing is lost.
import { isDeepStrictEqual } from 'node:util';
import {
  type Candle,
  connectSchemaRegistry,
  createCandleAggregator,
  createCandleConsumer,
  createCryptoProducer,
  createKafkaAdmin,
  generateSyntheticEvents,
  type KafkaAdmin,
  type MarketEvent,
} from '@kandle/core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { uniqueName, waitFor } from '../../../test/support/cluster';
import { createInfluxSink } from '../src/index';
import { type LineProtocolServer, startQuestDbServer } from './support/servers';
import { asStored, type StoredCandle, storedCandles } from './support/stored-candles';

const brokers = inject('kafkaBrokers');
const registryUrl = inject('schemaRegistryUrl');
const GRACE_MS = 5000;
const SYMBOLS = ['tSINKA', 'tSINKB'];

let admin: KafkaAdmin;
let server: LineProtocolServer;

beforeAll(async () => {
  admin = await createKafkaAdmin({ brokers });
  server = await startQuestDbServer();
  await server.prepare();
});

afterAll(async () => {
  await admin?.close();
  await server?.close();
});

/** What the consumer's updates add up to: every candle of the events, open ones included (their latest progress). */
function finalCandles(events: MarketEvent[]): Candle[] {
  const aggregator = createCandleAggregator({ intervals: ['1m'], gracePeriodMs: GRACE_MS });
  for (const e of events) e.kind === 'ticker' ? aggregator.addTicker(e.ticker) : aggregator.addTrade(e.trade);
  return aggregator.snapshot();
}

/** Committed offset per topic-partition of the group (-1 where nothing is committed yet). */
async function committed(groupId: string, topics: string[]): Promise<Map<string, number>> {
  const result = new Map<string, number>();
  for (const topic of topics)
    for (const { partition, offset } of await admin.committedOffsets(groupId, topic))
      result.set(`${topic}[${partition}]`, offset);
  return result;
}

const bySourceThenStart = (a: StoredCandle, b: StoredCandle) => a.source.localeCompare(b.source) || a.start - b.start;

const total = (offsets: Map<string, number>) => [...offsets.values()].reduce((sum, o) => sum + Math.max(0, o), 0);

describe('createCandleConsumer → createInfluxSink → QuestDB', () => {
  it('stops committing while the server is down, then stores every candle exactly once', async () => {
    const topics = { tickers: uniqueName('sink-tickers'), trades: uniqueName('sink-trades') };
    await admin.ensureTopic({ name: topics.tickers, partitions: 2 });
    await admin.ensureTopic({ name: topics.trades, partitions: 2 });
    const events = generateSyntheticEvents({
      count: 4000,
      startTime: Date.UTC(2026, 2, 1),
      seed: 11,
      ratePerSecond: 2,
      symbols: SYMBOLS,
    });
    const firstHalf = events.slice(0, 2000);
    const secondHalf = events.slice(2000);

    const registry = connectSchemaRegistry({ url: registryUrl });
    const producer = await createCryptoProducer({ connection: { brokers }, registry, topics });
    const sink = createInfluxSink({
      host: server.host,
      database: server.database,
      token: server.token,
      batchSize: 200,
      flushIntervalMs: 50,
      maxPendingPoints: 1000,
      retryBaseDelayMs: 50,
      retryMaxDelayMs: 500,
      logger: { warn: () => {}, error: () => {} },
    });
    const groupId = uniqueName('sink-group');
    let acknowledgedWhileDown = 0;
    let down = false;
    const consumer = await createCandleConsumer({
      connection: { brokers },
      registry,
      groupId,
      topics,
      intervals: ['1m'],
      gracePeriodMs: GRACE_MS,
      commitIntervalMs: 100,
      // The acknowledgement: offsets covering these updates are committed only once the sink says they are durable.
      onCandles: async (updates) => {
        await sink.write(updates);
        if (down) acknowledgedWhileDown++;
      },
    });
    const topicNames = [topics.tickers, topics.trades];
    try {
      await Promise.all(firstHalf.map((e) => producer.send(e)));
      // Commits advance while the server is up (closed 1-minute buckets release their records).
      await waitFor('first commits', async () => total(await committed(groupId, topicNames)) > 0);

      await server.stop();
      // A write already answered before the kill may still be acknowledged; after this, nothing may be.
      await new Promise((r) => setTimeout(r, 500));
      down = true;
      const atStop = await committed(groupId, topicNames);
      await Promise.all(secondHalf.map((e) => producer.send(e)));
      await waitFor('the sink to retry against the dead server', () => sink.stats().retries > 0, 20_000);
      await new Promise((r) => setTimeout(r, 3000));
      const whileDown = await committed(groupId, topicNames);
      expect(acknowledgedWhileDown).toBe(0);
      expect(whileDown).toEqual(atStop); // no commit ran ahead of what is stored
      expect(sink.stats().pendingPoints).toBeLessThanOrEqual(1000); // bounded: the consumer waits, it does not buffer

      down = false;
      await server.start();
      const expected = finalCandles(events);
      for (const symbol of SYMBOLS) {
        const want = asStored(expected.filter((c) => c.symbol === symbol)).sort(bySourceThenStart);
        await waitFor(`every ${symbol} candle stored with its final values`, async () =>
          isDeepStrictEqual((await storedCandles(server, symbol)).sort(bySourceThenStart), want),
        );
        // Exactly once: one row per candle, whatever was replayed or retried.
        const [row] = await server.query(`SELECT count(*) AS n FROM candles WHERE symbol = '${symbol}'`);
        expect(row?.n).toBe(want.length);
      }
      // Commits resume once writes are durable again.
      await waitFor('commits to resume', async () => total(await committed(groupId, topicNames)) > total(whileDown));
      expect(sink.stats().failedPoints).toBe(0);
    } finally {
      await producer.close();
      await consumer.close();
      await sink.close();
    }
  });
});
