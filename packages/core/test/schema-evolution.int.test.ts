// Schema evolution through the registry: an old reader reads a compatible new writer; an incompatible change is refused.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import {
  type CandleUpdate,
  connectSchemaRegistry,
  createAvroDecoder,
  createAvroEncoder,
  createCandleConsumer,
  createCryptoProducer,
  createKafkaAdmin,
  type KafkaAdmin,
  SchemaIncompatibleError,
  type Trade,
  tradeSchema,
  valueSubject,
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

// v2 adds a field with a default: BACKWARD compatible, so readers on v1 keep working.
const tradeV2 = {
  ...tradeSchema,
  fields: [...tradeSchema.fields, { name: 'exchange', type: 'string', default: 'bitfinex' }],
};
// v3 adds a field without a default: a reader on v3 could not read v1 data, so the registry must refuse it.
const tradeV3 = { ...tradeSchema, fields: [...tradeSchema.fields, { name: 'venueId', type: 'long' }] };

describe('schema evolution', () => {
  it('a consumer on the original schema reads records written with a compatible v2', async () => {
    const topics = { tickers: uniqueName('tickers'), trades: uniqueName('trades') };
    await admin.ensureTopic({ name: topics.tickers, partitions: 1 });
    await admin.ensureTopic({ name: topics.trades, partitions: 1 });
    const registry = connectSchemaRegistry({ url: registryUrl });
    // The v1 producer registers v1; then a newer service registers v2 and writes with it.
    const producer = await createCryptoProducer({ connection: { brokers }, registry, topics });
    const v1Id = producer.schemaIds.trades;
    const v2Id = await registry.register(valueSubject(topics.trades), tradeV2);
    expect(v2Id).not.toBe(v1Id);

    const time = Date.UTC(2026, 0, 1, 12, 0, 0);
    const v1Trade: Trade = { id: 1, symbol: 'tBTCUSD', time, amount: 0.5, price: 100 };
    await producer.sendTrade(v1Trade);
    await producer.close();
    const v2Bytes = createAvroEncoder(tradeV2, v2Id).encode({
      id: 2,
      symbol: 'tBTCUSD',
      time: time + 1000,
      amount: -0.25,
      price: 110,
      exchange: 'kraken',
    });
    const { KafkaJS } = await import('@confluentinc/kafka-javascript');
    const raw = new KafkaJS.Kafka({ kafkaJS: { brokers: brokers.split(','), logLevel: KafkaJS.logLevel.NOTHING } });
    const rawProducer = raw.producer();
    await rawProducer.connect();
    await rawProducer.send({ topic: topics.trades, messages: [{ key: 'tBTCUSD', value: v2Bytes }] });
    await rawProducer.disconnect();

    // The decoder resolves v2 → v1: the new field is dropped, the rest read exactly.
    const decoded = await createAvroDecoder<Trade>(registry, tradeSchema).decode(v2Bytes);
    expect(decoded).toEqual({ id: 2, symbol: 'tBTCUSD', time: time + 1000, amount: -0.25, price: 110 });

    const updates: CandleUpdate[] = [];
    let poison = 0;
    const consumer = await createCandleConsumer({
      connection: { brokers },
      registry,
      groupId: uniqueName('evolution'),
      topics,
      intervals: ['1m'],
      onPoisonRecord: () => void poison++,
      onCandles: (batch) => void updates.push(...batch),
    });
    await waitFor('both trades consumed', () => consumer.stats().trades >= 2, 60_000);
    const [candle] = consumer.candles('tBTCUSD', '1m').filter((c) => c.source === 'trade');
    await consumer.close();
    expect(poison).toBe(0);
    expect(candle).toMatchObject({ open: 100, close: 110, high: 110, low: 100, volume: 0.75, count: 2 });
  });

  it('refuses an incompatible change with SchemaIncompatibleError naming the subject', async () => {
    const registry = connectSchemaRegistry({ url: registryUrl });
    const subject = valueSubject(uniqueName('trades'));
    await registry.register(subject, tradeSchema);
    const error = await registry.register(subject, tradeV3).catch((e) => e);
    expect(error).toBeInstanceOf(SchemaIncompatibleError);
    expect(error.message).toContain(subject);
    // The refused version did not sneak in: v2 (compatible) still registers after it.
    await expect(registry.register(subject, tradeV2)).resolves.toBeGreaterThan(0);
  });
});
