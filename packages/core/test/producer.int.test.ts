// Producer proof on the real cluster: Avro framing, acks=all, Java-compatible key-hash, the three partitionings.
import { AvroDeserializer, SerdeType } from '@confluentinc/schemaregistry';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import {
  ConfigError,
  createCryptoProducer,
  createKafkaAdmin,
  type KafkaAdmin,
  partitionForKey,
  TopicMismatchError,
  type Ticker,
  UnknownTopicError,
} from '../src/index';
import { uniqueName } from '../../../test/support/cluster';
import { PureAdmin } from '../src/admin/groups';
import { byTopicName, confluentClient } from './support/confluent-serde';

const brokers = inject('kafkaBrokers');
const registryUrl = inject('schemaRegistryUrl');
let admin: KafkaAdmin;

function ticker(symbol: string, price: number, eventTime = Date.now()): Ticker {
  return {
    symbol,
    bid: price - 1,
    bidSize: 1,
    ask: price + 1,
    askSize: 1,
    dailyChange: 0,
    dailyChangeRelative: 0,
    lastPrice: price,
    volume: 10,
    high: price,
    low: price,
    eventTime,
  };
}

async function topicsPair(partitions: number) {
  const tickers = uniqueName('tickers');
  const trades = uniqueName('trades');
  await admin.ensureTopic({ name: tickers, partitions, replicationFactor: 3, minInsyncReplicas: 2 });
  await admin.ensureTopic({ name: trades, partitions, replicationFactor: 3, minInsyncReplicas: 2 });
  return { tickers, trades };
}

beforeAll(async () => {
  admin = await createKafkaAdmin({ brokers });
});
afterAll(async () => {
  await admin.close();
});

describe('ensureTopic', () => {
  it('creates, then accepts the same spec and rejects a different one with TopicMismatchError', async () => {
    const name = uniqueName('spec');
    expect(await admin.ensureTopic({ name, partitions: 3, replicationFactor: 3, minInsyncReplicas: 2 })).toBe(
      'created',
    );
    expect(await admin.ensureTopic({ name, partitions: 3, replicationFactor: 3, minInsyncReplicas: 2 })).toBe('exists');
    const mismatch = await admin
      .ensureTopic({ name, partitions: 4, replicationFactor: 3, minInsyncReplicas: 1 })
      .catch((e) => e);
    expect(mismatch).toBeInstanceOf(TopicMismatchError);
    expect(String(mismatch.message)).toMatch(/partitions 3 \(wanted 4\).*min.insync.replicas 2 \(wanted 1\)/);
    const parts = await admin.describeTopic(name);
    expect(parts.map((p) => p.replicas.length)).toEqual([3, 3, 3]);
  });

  it('returns only once every broker, asked on its own, lists the new topics with their leaders', async () => {
    // A consumer started right after ensureTopic asks any one broker; in CI one broker was still behind ("unknown topic").
    const pure = new PureAdmin({}, brokers, 10_000);
    try {
      const names = Array.from({ length: 4 }, () => uniqueName('visible'));
      expect(await pure.brokersNotShowing(names[0] as string)).toHaveLength(3);
      await Promise.all(names.map((name) => admin.ensureTopic({ name, partitions: 3 })));
      for (const name of names) {
        expect(await pure.brokersNotShowing(name, 3)).toEqual([]);
        // The wrong partition count is "not showing" on every broker: the check reads each answer.
        expect(await pure.brokersNotShowing(name, 4)).toHaveLength(3);
      }
    } finally {
      await pure.close();
    }
  });
});

describe('createCryptoProducer', () => {
  it('puts every key on partitionForKey(key), like the Java client', async () => {
    const topics = await topicsPair(6);
    const producer = await createCryptoProducer({ connection: { brokers }, registry: { url: registryUrl }, topics });
    const keys = Array.from({ length: 3000 }, (_, i) => `k${i}-${Math.random().toString(36).slice(2)}`);
    const reports = await Promise.all(keys.map((k, i) => producer.sendTicker(ticker(k, 100 + i))));
    await producer.close();
    const mismatches = reports.filter((r, i) => r.partition !== partitionForKey(keys[i] as string, 6));
    expect(mismatches).toEqual([]);
    expect(new Set(reports.map((r) => r.partition)).size).toBe(6);
  });

  it('writes bytes that the Confluent AvroDeserializer reads back', async () => {
    const topics = await topicsPair(2);
    const producer = await createCryptoProducer({ connection: { brokers }, registry: { url: registryUrl }, topics });
    const sent = ticker('tBTCUSD', 97_123.5, 1_764_000_000_123);
    const report = await producer.sendTicker(sent);
    await producer.close();
    expect(report.topic).toBe(topics.tickers);
    expect(Number(report.offset)).toBeGreaterThanOrEqual(0);
    // Read the record with a plain consumer and decode with the registry library's own deserializer.
    const { KafkaJS } = await import('@confluentinc/kafka-javascript');
    const kafka = new KafkaJS.Kafka({ kafkaJS: { brokers: brokers.split(','), logLevel: KafkaJS.logLevel.NOTHING } });
    const consumer = kafka.consumer({ kafkaJS: { groupId: uniqueName('g'), fromBeginning: true } });
    await consumer.connect();
    await consumer.subscribe({ topics: [topics.tickers] });
    const value = await new Promise<Buffer>((resolve) => {
      void consumer.run({ eachMessage: async ({ message }) => resolve(message.value as Buffer) });
    });
    await consumer.disconnect();
    expect(value[0]).toBe(0);
    expect(value.readUInt32BE(1)).toBe(producer.schemaIds.tickers);
    const decoded = await new AvroDeserializer(confluentClient(registryUrl), SerdeType.VALUE, byTopicName).deserialize(
      topics.tickers,
      value,
    );
    expect(decoded).toEqual(sent);
  });

  it('round-robin spreads one key over every partition; explicit puts it where told', async () => {
    const topics = await topicsPair(3);
    const rr = await createCryptoProducer({
      connection: { brokers },
      registry: { url: registryUrl },
      topics,
      partitioning: 'roundrobin',
    });
    const rrParts = await Promise.all([0, 1, 2, 3, 4, 5].map((i) => rr.sendTicker(ticker('tBTCUSD', 100 + i))));
    await rr.close();
    expect(rrParts.map((r) => r.partition).sort()).toEqual([0, 0, 1, 1, 2, 2]);
    const explicit = await createCryptoProducer({
      connection: { brokers },
      registry: { url: registryUrl },
      topics,
      partitioning: { explicit: (e) => (e.kind === 'ticker' && e.ticker.symbol === 'tETHUSD' ? 2 : 0) },
    });
    expect((await explicit.sendTicker(ticker('tETHUSD', 1))).partition).toBe(2);
    expect((await explicit.sendTicker(ticker('tBTCUSD', 1))).partition).toBe(0);
    expect((await explicit.sendTicker(ticker('tBTCUSD', 1), { partition: 1 })).partition).toBe(1);
    await explicit.close();
  });

  it('accepts topics another tool creates while it starts: a missing topic is asked for again for a moment', async () => {
    const topics = { tickers: uniqueName('late'), trades: uniqueName('late') };
    const opening = createCryptoProducer({ connection: { brokers }, registry: { url: registryUrl }, topics });
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    for (const name of [topics.tickers, topics.trades]) await admin.ensureTopic({ name, partitions: 2 });
    const producer = await opening;
    expect((await producer.sendTicker(ticker('tBTCUSD', 1))).topic).toBe(topics.tickers);
    await producer.close();
  });

  it('fails fast with typed errors for an unknown topic and a bad config', async () => {
    const err = await createCryptoProducer({
      connection: { brokers },
      registry: { url: registryUrl },
      topics: { tickers: uniqueName('missing'), trades: uniqueName('missing') },
    }).catch((e) => e);
    expect(err).toBeInstanceOf(UnknownTopicError);
    await expect(
      createCryptoProducer({ connection: { brokers: 'not a broker' }, registry: { url: registryUrl } }),
    ).rejects.toBeInstanceOf(ConfigError);
    await expect(
      createCryptoProducer({ connection: { brokers }, registry: { url: registryUrl }, acks: 1, idempotence: true }),
    ).rejects.toBeInstanceOf(ConfigError);
  });
});
