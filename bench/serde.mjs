// Bench schema step: Avro encode and decode per core, kandle's cached-type serde vs the registry libraries' serdes.
import { SchemaRegistry as KafkaJsRegistry } from '@kafkajs/confluent-schema-registry';
import { AvroDeserializer, AvroSerializer, SchemaRegistryClient, SerdeType } from '@confluentinc/schemaregistry';
import { connectSchemaRegistry, createAvroDecoder, createAvroEncoder, tickerSchema, valueSubject } from '@kandle/core';
import { opsPerSecond } from './measure.mjs';

/**
 * Every variant encodes or decodes the same 1,000 tickers in turn, one at a time on one thread, against
 * the real registry: each library caches the schema after its first lookup, so after warm-up no variant
 * makes HTTP calls and the numbers are CPU cost per record.
 */
export async function benchSerde(stack, { topic, records, serdeMs, log }) {
  const sample = records.slice(0, 1_000);
  const handle = connectSchemaRegistry({ url: stack.registryUrl });
  const schemaId = await handle.register(valueSubject(topic), tickerSchema);

  const encoder = createAvroEncoder(tickerSchema, schemaId);
  const decoder = createAvroDecoder(handle, tickerSchema, valueSubject(topic));
  const client = new SchemaRegistryClient({ baseURLs: [stack.registryUrl] });
  const serializer = new AvroSerializer(client, SerdeType.VALUE, { useLatestVersion: true });
  const deserializer = new AvroDeserializer(client, SerdeType.VALUE, {});
  const kafkajs = new KafkaJsRegistry({ host: stack.registryUrl });

  const encoded = sample.map((r) => encoder.encode(r));
  // Sanity before timing: every path must produce the same bytes and read them back, or the comparison is void.
  const theirs = await serializer.serialize(topic, sample[0]);
  if (!theirs.equals(encoded[0])) throw new Error('bench: AvroSerializer and kandle wrote different bytes');
  if ((await deserializer.deserialize(topic, encoded[0])).lastPrice !== sample[0].lastPrice)
    throw new Error('bench: AvroDeserializer misread kandle bytes');
  await decoder.decode(encoded[0]);
  if (decoder.decodeCached(encoded[0])?.lastPrice !== sample[0].lastPrice)
    throw new Error('bench: kandle decoder misread');

  const n = sample.length;
  let sink = 0;
  const measure = async (label, op, async) => {
    const rate = await opsPerSecond(op, serdeMs, { async });
    log(`  ${label}: ${Math.round(rate).toLocaleString('en-US')} ops/s`);
    return rate;
  };
  const result = {
    encode: {
      kandle: await measure('kandle encode', (i) => (sink += encoder.encode(sample[i % n]).length), false),
      avroSerializer: await measure(
        'AvroSerializer.serialize',
        async (i) => (sink += (await serializer.serialize(topic, sample[i % n])).length),
        true,
      ),
      kafkajsRegistry: await measure(
        '@kafkajs/confluent-schema-registry encode',
        async (i) => (sink += (await kafkajs.encode(schemaId, sample[i % n])).length),
        true,
      ),
    },
    decode: {
      kandle: await measure('kandle decodeCached', (i) => (sink += decoder.decodeCached(encoded[i % n]).bid), false),
      kandleAsync: await measure(
        'kandle decode (async)',
        async (i) => (sink += (await decoder.decode(encoded[i % n])).bid),
        true,
      ),
      avroDeserializer: await measure(
        'AvroDeserializer.deserialize',
        async (i) => (sink += (await deserializer.deserialize(topic, encoded[i % n])).bid),
        true,
      ),
      kafkajsRegistry: await measure(
        '@kafkajs/confluent-schema-registry decode',
        async (i) => (sink += (await kafkajs.decode(encoded[i % n])).bid),
        true,
      ),
    },
    registry: 'real registry (Apicurio, Confluent API) with each client caching the schema after the first lookup',
    bytesPerRecord: encoded.reduce((s, b) => s + b.length, 0) / n,
  };
  if (!Number.isFinite(sink)) throw new Error('bench: serde checksum is not finite');
  return result;
}
