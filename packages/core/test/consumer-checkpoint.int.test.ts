// Consumer checkpoints on the real cluster: open candles live in a changelog, so commits follow processing and a restart resumes exactly.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  type Candle,
  type CandleUpdate,
  createCandleAggregator,
  createCandleConsumer,
  createCryptoProducer,
  createKafkaAdmin,
  generateSyntheticEvents,
  type KafkaAdmin,
  type MarketEvent,
} from '../src/index';
import { uniqueName, waitFor } from '../../../test/support/cluster';
import { bucketKey } from './support/members';

const brokers = inject('kafkaBrokers');
const registryUrl = inject('schemaRegistryUrl');
const INTERVALS: ['1m', '1h'] = ['1m', '1h'];
let admin: KafkaAdmin;

beforeAll(async () => {
  admin = await createKafkaAdmin({ brokers });
});
afterAll(async () => {
  await admin.close();
});

/** 90 minutes of event time for two symbols, tickers and trades. */
function ninetyMinutes(): MarketEvent[] {
  return generateSyntheticEvents({
    count: 5400,
    startTime: Date.UTC(2026, 0, 1, 10, 10),
    seed: 23,
    ratePerSecond: 1,
    symbols: ['tBTCUSD', 'tETHUSD'],
  });
}

const timeOf = (e: MarketEvent) => (e.kind === 'ticker' ? e.ticker.eventTime : e.trade.time);

async function freshTopics() {
  const topics = { tickers: uniqueName('cp-tickers'), trades: uniqueName('cp-trades') };
  await admin.ensureTopic({ name: topics.tickers, partitions: 2 });
  await admin.ensureTopic({ name: topics.trades, partitions: 2 });
  return topics;
}

async function produce(topics: { tickers: string; trades: string }, events: MarketEvent[]): Promise<void> {
  const producer = await createCryptoProducer({ connection: { brokers }, registry: { url: registryUrl }, topics });
  for (const e of events) void producer.send(e);
  await producer.flush();
  await producer.close();
}

/** Committed and end offsets summed over both topics. */
async function positions(groupId: string, topics: { tickers: string; trades: string }) {
  const lag = [...(await admin.groupLag(groupId, topics.tickers)), ...(await admin.groupLag(groupId, topics.trades))];
  return {
    committed: lag.reduce((n, p) => n + (p.committed ?? 0), 0),
    end: lag.reduce((n, p) => n + p.end, 0),
  };
}

/** Every candle of an uninterrupted aggregation: closed ones and the still-open tail. */
function reference(events: MarketEvent[]): Map<string, Candle> {
  const agg = createCandleAggregator({ intervals: INTERVALS, gracePeriodMs: 5000, retainClosedBuckets: 10_000 });
  for (const e of events) e.kind === 'ticker' ? agg.addTicker(e.ticker) : agg.addTrade(e.trade);
  return new Map(agg.snapshot().map((c) => [bucketKey(c), c]));
}

describe('createCandleConsumer checkpoints open candles to a changelog', () => {
  it('with 1m and 1h candles over 90 minutes, commits within 2% of the end once the last record is handled', async () => {
    const topics = await freshTopics();
    const events = ninetyMinutes();
    expect(timeOf(events.at(-1) as MarketEvent) - timeOf(events[0] as MarketEvent)).toBeGreaterThan(85 * 60_000);
    await produce(topics, events);
    const groupId = uniqueName('lag');
    const consumer = await createCandleConsumer({
      connection: { brokers },
      registry: { url: registryUrl },
      groupId,
      topics,
      intervals: INTERVALS,
      commitIntervalMs: 200,
      onCandles: () => {},
    });
    await waitFor('every record handled', () => consumer.stats().records >= events.length, 90_000);
    // The commit after the last batch; bounded by a timeout, the figure is what is asserted.
    await waitFor(
      'commits to reach 98% of the end',
      async () => {
        const p = await positions(groupId, topics);
        return p.committed >= 0.98 * p.end;
      },
      30_000,
    ).catch(() => undefined);
    const p = await positions(groupId, topics);
    process.stderr.write(
      `[checkpoint] committed ${p.committed} of ${p.end} (lag ${(1 - p.committed / p.end) * 100}%)\n`,
    );
    expect(p.end).toBe(events.length);
    expect(p.committed / p.end).toBeGreaterThanOrEqual(0.98);
    // The 1h candles are still open: nothing was lost by committing past their records.
    expect(consumer.candles(undefined, '1h').length).toBeGreaterThan(0);
    await consumer.close();
  });

  it('a restarted member restores open candles and its next candles equal an uninterrupted run', async () => {
    const topics = await freshTopics();
    const events = ninetyMinutes();
    const cut = Math.floor(events.length * 0.6);
    await produce(topics, events.slice(0, cut));
    const groupId = uniqueName('restart');
    const member = (onCandles: (updates: CandleUpdate[]) => void) =>
      createCandleConsumer({
        connection: { brokers },
        registry: { url: registryUrl },
        groupId,
        topics,
        intervals: INTERVALS,
        commitIntervalMs: 200,
        onCandles,
      });
    const first = await member(() => {});
    await waitFor('the first member to handle its records', () => first.stats().records >= cut, 90_000);
    await first.close();

    await produce(topics, events.slice(cut));
    const emitted = new Map<string, Candle>();
    const second = await member((updates) => {
      for (const u of updates) emitted.set(bucketKey(u.candle), u.candle);
    });
    await waitFor('the second member to handle the rest', () => second.stats().records >= events.length - cut, 90_000);
    // It resumed where the first stopped: nothing before the restart was read again.
    expect(second.stats().records).toBe(events.length - cut);
    const expected = reference(events);
    const wrong = [...emitted].filter(([key, c]) => JSON.stringify(expected.get(key)) !== JSON.stringify(c));
    expect(wrong).toEqual([]);
    // The 1h candle open across the restart holds the records of both members.
    const hour = second.candles('tBTCUSD', '1h').at(-1) as Candle;
    expect(hour.start).toBeLessThan(timeOf(events[cut] as MarketEvent));
    expect(hour).toEqual(expected.get(bucketKey(hour)));
    await second.close();
  });
});
