// Consumer proof on the real cluster: candles equal a direct aggregation, poison records go to the DLQ, commits wait for the ack.
import { KafkaJS } from '@confluentinc/kafka-javascript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import {
  type Candle,
  type CandleUpdate,
  type ConsumerMetrics,
  connectSchemaRegistry,
  createCandleAggregator,
  createCandleConsumer,
  createCryptoProducer,
  createKafkaAdmin,
  generateSyntheticEvents,
  type KafkaAdmin,
  type KandleError,
  type MarketEvent,
  type ProducerMetrics,
  UnknownTopicError,
} from '../src/index';
import { uniqueName, waitFor } from '../../../test/support/cluster';

const brokers = inject('kafkaBrokers');
const registryUrl = inject('schemaRegistryUrl');
let admin: KafkaAdmin;

beforeAll(async () => {
  admin = await createKafkaAdmin({ brokers });
});
afterAll(async () => {
  await admin.close();
});

async function freshTopics() {
  const topics = { tickers: uniqueName('tickers'), trades: uniqueName('trades') };
  await admin.ensureTopic({ name: topics.tickers, partitions: 2 });
  await admin.ensureTopic({ name: topics.trades, partitions: 2 });
  return topics;
}

function expectedCandles(events: MarketEvent[], intervals: ['1m', '5m']): Candle[] {
  const agg = createCandleAggregator({ intervals, gracePeriodMs: 5000 });
  for (const e of events) e.kind === 'ticker' ? agg.addTicker(e.ticker) : agg.addTrade(e.trade);
  agg.flush();
  return agg.snapshot();
}

const eventTime = (e: MarketEvent) => (e.kind === 'ticker' ? e.ticker.eventTime : e.trade.time);

const sortCandles = (c: Candle[]) =>
  [...c].sort(
    (a, b) =>
      a.symbol.localeCompare(b.symbol) ||
      a.source.localeCompare(b.source) ||
      a.interval.localeCompare(b.interval) ||
      a.start - b.start,
  );

describe('createCandleConsumer', () => {
  it('builds the same closed candles as aggregating the records directly, and dead-letters poison', async () => {
    const topics = await freshTopics();
    const dlq = uniqueName('dlq');
    const events = generateSyntheticEvents({
      count: 1500,
      startTime: Date.UTC(2026, 0, 1),
      seed: 7,
      ratePerSecond: 1,
      symbols: ['tBTCUSD', 'tETHUSD', 'tSOLUSD'],
    });
    const producer = await createCryptoProducer({ connection: { brokers }, registry: { url: registryUrl }, topics });
    for (const e of events) void producer.send(e);
    await producer.flush();
    // Poison: raw bytes that are not Confluent Avro, and a frame with an unknown schema id.
    const kafka = new KafkaJS.Kafka({ kafkaJS: { brokers: brokers.split(','), logLevel: KafkaJS.logLevel.NOTHING } });
    const raw = kafka.producer();
    await raw.connect();
    await raw.send({
      topic: topics.tickers,
      messages: [
        { key: 'tBTCUSD', value: 'not avro at all' },
        { key: 'tBTCUSD', value: Buffer.from([0, 0, 0, 0x7f, 0xff, 1, 2]) },
      ],
    });
    await raw.disconnect();
    await producer.close();

    const closed = new Map<string, Candle>();
    const poison: string[] = [];
    const consumer = await createCandleConsumer({
      connection: { brokers },
      registry: connectSchemaRegistry({ url: registryUrl }),
      groupId: uniqueName('candles'),
      topics,
      intervals: ['1m', '5m'],
      deadLetterTopic: dlq,
      onPoisonRecord: (p) => poison.push(p.reason),
      onCandles: (updates: CandleUpdate[]) => {
        for (const u of updates) {
          const c = u.candle;
          if (u.kind !== 'progress') closed.set(`${c.symbol}|${c.source}|${c.interval}|${c.start}`, c);
        }
      },
    });
    await waitFor(
      'all records consumed and poison dead-lettered',
      () => consumer.stats().records >= events.length + 2 && consumer.stats().poison >= 2,
      90_000,
    );
    // Everything that closed must equal the reference; the still-open tail is compared through candles().
    const reference = new Map(
      expectedCandles(events, ['1m', '5m']).map((c) => [`${c.symbol}|${c.source}|${c.interval}|${c.start}`, c]),
    );
    expect(closed.size).toBeGreaterThan(20);
    for (const [key, candle] of closed) expect(candle).toEqual(reference.get(key));
    const open = consumer.candles().filter((c) => !closed.has(`${c.symbol}|${c.source}|${c.interval}|${c.start}`));
    for (const c of open) expect(c).toEqual(reference.get(`${c.symbol}|${c.source}|${c.interval}|${c.start}`));
    expect(sortCandles([...closed.values(), ...open]).length).toBe(reference.size);
    expect(poison.sort()).toEqual(['not-avro', 'unknown-schema-id']);
    expect(consumer.stats().poison).toBe(2);
    await consumer.close();

    // The dead-letter records keep the original bytes and say where they came from.
    const reader = kafka.consumer({ kafkaJS: { groupId: uniqueName('dlq-reader'), fromBeginning: true } });
    await reader.connect();
    await reader.subscribe({ topics: [dlq] });
    const dead: Array<{ value: string; headers: Record<string, string> }> = [];
    void reader.run({
      eachMessage: async ({ message }) => {
        const headers = Object.fromEntries(Object.entries(message.headers ?? {}).map(([k, v]) => [k, String(v)]));
        dead.push({ value: String(message.value), headers });
      },
    });
    await waitFor('2 dead letters', () => dead.length >= 2, 60_000);
    await reader.disconnect();
    const notAvro = dead.find((d) => d.headers['kandle.reason'] === 'not-avro');
    expect(notAvro?.value).toBe('not avro at all');
    expect(notAvro?.headers['kandle.source.topic']).toBe(topics.tickers);
    expect(Number(notAvro?.headers['kandle.source.offset'])).toBeGreaterThanOrEqual(0);
  });

  it('commits offsets only after the handler acknowledged the batch', async () => {
    const topics = await freshTopics();
    const groupId = uniqueName('ack');
    const producer = await createCryptoProducer({ connection: { brokers }, registry: { url: registryUrl }, topics });
    const events = generateSyntheticEvents({
      count: 200,
      startTime: Date.UTC(2026, 0, 1),
      seed: 3,
      symbols: ['tBTCUSD'],
    });
    for (const e of events) void producer.send(e);
    await producer.flush();
    await producer.close();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let calls = 0;
    const consumer = await createCandleConsumer({
      connection: { brokers },
      registry: { url: registryUrl },
      groupId,
      topics,
      commitIntervalMs: 0,
      onCandles: async () => {
        calls++;
        await gate;
      },
    });
    await waitFor('handler called', () => calls > 0, 60_000);
    await new Promise((r) => setTimeout(r, 2000));
    const before = [
      ...(await admin.groupLag(groupId, topics.tickers)),
      ...(await admin.groupLag(groupId, topics.trades)),
    ];
    expect(before.every((p) => p.committed === null)).toBe(true);
    release();
    await waitFor(
      'offsets committed',
      async () => (await admin.groupLag(groupId, topics.trades)).some((p) => p.committed !== null),
      60_000,
    );
    await consumer.close();
  });

  it('offers the same updates again when the handler fails, and skips nothing', async () => {
    const topics = await freshTopics();
    const events = generateSyntheticEvents({
      count: 600,
      startTime: Date.UTC(2026, 0, 1),
      seed: 9,
      ratePerSecond: 1,
      symbols: ['tBTCUSD', 'tETHUSD'],
    });
    const producer = await createCryptoProducer({ connection: { brokers }, registry: { url: registryUrl }, topics });
    for (const e of events) void producer.send(e);
    await producer.flush();
    await producer.close();
    const closed = new Map<string, Candle>();
    let failures = 0;
    const warned: KandleError[] = [];
    const logged: Array<Record<string, unknown>> = [];
    const ignore = () => undefined;
    const consumer = await createCandleConsumer({
      connection: { brokers },
      registry: { url: registryUrl },
      groupId: uniqueName('retry'),
      topics,
      intervals: ['1m'],
      // Both the logger and the deprecated onWarning: each must see every warning, as the same error object.
      logger: { debug: ignore, info: ignore, error: ignore, warn: (obj) => logged.push(obj) },
      onWarning: (e) => warned.push(e),
      onCandles: (updates) => {
        // The sink is down for the first three deliveries.
        if (failures < 3) {
          failures++;
          throw new Error('sink unavailable');
        }
        for (const u of updates)
          if (u.kind !== 'progress')
            closed.set(`${u.candle.symbol}|${u.candle.source}|${u.candle.interval}|${u.candle.start}`, u.candle);
      },
    });
    const reference = createCandleAggregator({ intervals: ['1m'], gracePeriodMs: 5000, retainClosedBuckets: 10_000 });
    for (const e of events) e.kind === 'ticker' ? reference.addTicker(e.ticker) : reference.addTrade(e.trade);
    const expectedClosed = reference.snapshot().filter((c) => c.end + 5000 <= Math.max(...events.map(eventTime)));
    await waitFor(
      'every closed candle delivered',
      () => expectedClosed.every((c) => closed.has(`${c.symbol}|${c.source}|${c.interval}|${c.start}`)),
      60_000,
    ).catch(() => undefined);
    await consumer.close();
    expect(failures).toBe(3);
    const handlerFailures = warned.filter((w) => w.code === 'HANDLER_FAILED');
    expect(handlerFailures).toHaveLength(3);
    expect(handlerFailures.every((w) => w.retriable)).toBe(true);
    expect(logged.map((entry) => entry.err)).toEqual(warned);
    logged.forEach((entry, i) => {
      expect(entry.err).toBe(warned[i]);
      expect(entry).toMatchObject({ code: warned[i]?.code, retriable: warned[i]?.retriable });
    });
    expect(expectedClosed.length).toBeGreaterThan(10);
    for (const c of expectedClosed) expect(closed.get(`${c.symbol}|${c.source}|${c.interval}|${c.start}`)).toEqual(c);
  });

  it('surfaces librdkafka statistics as typed producer and consumer metrics', async () => {
    const topics = await freshTopics();
    const producerMetrics: ProducerMetrics[] = [];
    const producer = await createCryptoProducer({
      connection: { brokers },
      registry: { url: registryUrl },
      topics,
      statisticsIntervalMs: 300,
      onMetrics: (m) => producerMetrics.push(m),
    });
    // One record a second of event time: most 1m candles close, so the committed offsets move.
    const events = generateSyntheticEvents({ count: 300, startTime: Date.UTC(2026, 0, 1), seed: 5, ratePerSecond: 1 });
    for (const e of events) void producer.send(e);
    await producer.flush();
    await waitFor('producer statistics', () => producerMetrics.some((m) => m.delivered === events.length), 30_000);
    // A broker appears in the statistics once librdkafka has learned it from metadata: wait for the snapshot with all three.
    const last = await waitFor(
      'all three brokers in the producer statistics',
      () => producerMetrics.findLast((m) => m.brokers.length === 3 && m.delivered === events.length),
      30_000,
    );
    expect(last.brokers.map((b) => b.broker).sort()).toHaveLength(3);
    expect(last.brokers.every((b) => b.avgMs >= 0 && Number.isFinite(b.p99Ms))).toBe(true);
    expect(last.deliveryLatencyMs.count).toBeGreaterThan(0);
    expect(last.deliveryLatencyMs.p99).toBeGreaterThanOrEqual(last.deliveryLatencyMs.p50);
    expect(last.queueDepth).toBe(0);
    await producer.close();

    const consumerMetrics: ConsumerMetrics[] = [];
    const consumer = await createCandleConsumer({
      connection: { brokers },
      registry: { url: registryUrl },
      groupId: uniqueName('metrics'),
      topics,
      intervals: ['1m'],
      commitIntervalMs: 100,
      statisticsIntervalMs: 300,
      onMetrics: (m) => consumerMetrics.push(m),
      // Something must take the updates: without a handler they wait for an iterator, and reading pauses.
      onCandles: () => {},
    });
    await waitFor('consumer lag statistics', () => consumerMetrics.some((m) => m.lag.length === 4), 60_000);
    // Lag counts from the committed offset, which trails the log end by the records of still-open candles.
    await waitFor(
      'lag known on every partition and below the backlog',
      () => {
        const lag = consumerMetrics.at(-1)?.lag ?? [];
        return lag.length === 4 && lag.every((p) => p.lag >= 0) && lag.reduce((n, p) => n + p.lag, 0) < events.length;
      },
      60_000,
    );
    expect(new Set(consumerMetrics.at(-1)?.lag.map((p) => p.topic))).toEqual(new Set([topics.tickers, topics.trades]));
    await consumer.close();
  });

  it('refuses an unknown topic with UnknownTopicError', async () => {
    const err = await createCandleConsumer({
      connection: { brokers },
      registry: { url: registryUrl },
      groupId: uniqueName('g'),
      topics: { tickers: uniqueName('nope'), trades: null },
    }).catch((e) => e);
    expect(err).toBeInstanceOf(UnknownTopicError);
  });

  it('accepts a topic another tool creates while it starts: a missing topic is asked for again for a moment', async () => {
    const name = uniqueName('late');
    const opening = createCandleConsumer({
      connection: { brokers },
      registry: { url: registryUrl },
      groupId: uniqueName('g'),
      topics: { tickers: name, trades: null },
    });
    // Later than the consumer's first look on an idle machine (it connects an admin, then lists the topics).
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    await admin.ensureTopic({ name, partitions: 2 });
    const consumer = await opening;
    await consumer.close();
  });
});
