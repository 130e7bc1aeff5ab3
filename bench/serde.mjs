// Bench schema step: Avro encode and decode per core, kandle's cached-type serde vs the registry libraries' serdes.
import { SchemaRegistry as KafkaJsRegistry } from '@kafkajs/confluent-schema-registry';
import { AvroDeserializer, AvroSerializer, SchemaRegistryClient, SerdeType } from '@confluentinc/schemaregistry';
import { connectSchemaRegistry, createAvroDecoder, createAvroEncoder, tickerSchema, valueSubject } from '@kandle/core';
import { opsPerSecondInterleaved } from './measure.mjs';

/** Calls `attempt` up to 3 times: the first lookups on a just-started registry sometimes time out. */
async function retry(what, attempt) {
  for (let i = 1; ; i++) {
    try {
      return await attempt();
    } catch (e) {
      if (i === 3) throw new Error(`bench: ${what} failed 3 times: ${e?.message ?? e}`, { cause: e });
    }
  }
}

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
  // A request timeout, so a registry that never answers fails the run instead of hanging it (the client reads it
  // from createAxiosDefaults only; a top-level `timeout` is ignored). Apicurio once left AvroSerializer's
  // `associations` lookup unanswered.
  const client = new SchemaRegistryClient({ baseURLs: [stack.registryUrl], createAxiosDefaults: { timeout: 10_000 } });
  const serializer = new AvroSerializer(client, SerdeType.VALUE, { useLatestVersion: true });
  const deserializer = new AvroDeserializer(client, SerdeType.VALUE, {});
  const kafkajs = new KafkaJsRegistry({ host: stack.registryUrl });

  const encoded = sample.map((r) => encoder.encode(r));
  // Sanity before timing: every path must produce the same bytes and read them back, or the comparison is void.
  const theirs = await retry('AvroSerializer.serialize', () => serializer.serialize(topic, sample[0]));
  if (!theirs.equals(encoded[0])) throw new Error('bench: AvroSerializer and kandle wrote different bytes');
  if (
    (await retry('AvroDeserializer.deserialize', () => deserializer.deserialize(topic, encoded[0]))).lastPrice !==
    sample[0].lastPrice
  )
    throw new Error('bench: AvroDeserializer misread kandle bytes');
  await decoder.decode(encoded[0]);
  if (decoder.decodeCached(encoded[0])?.lastPrice !== sample[0].lastPrice)
    throw new Error('bench: kandle decoder misread');

  const n = sample.length;
  let sink = 0;
  const report = (results) => {
    for (const [name, r] of Object.entries(results))
      log(
        `  ${name}: best ${Math.round(r.best).toLocaleString('en-US')} ops/s, median ${Math.round(r.median).toLocaleString('en-US')}`,
      );
    return results;
  };
  const encode = report(
    await opsPerSecondInterleaved(
      {
        kandle: { op: (i) => (sink += encoder.encode(sample[i % n]).length) },
        avroSerializer: {
          op: async (i) => (sink += (await serializer.serialize(topic, sample[i % n])).length),
          async: true,
        },
        kafkajsRegistry: {
          op: async (i) => (sink += (await kafkajs.encode(schemaId, sample[i % n])).length),
          async: true,
        },
      },
      serdeMs,
    ),
  );
  const decode = report(
    await opsPerSecondInterleaved(
      {
        kandle: { op: (i) => (sink += decoder.decodeCached(encoded[i % n]).bid) },
        kandleAsync: { op: async (i) => (sink += (await decoder.decode(encoded[i % n])).bid), async: true },
        avroDeserializer: {
          op: async (i) => (sink += (await deserializer.deserialize(topic, encoded[i % n])).bid),
          async: true,
        },
        kafkajsRegistry: { op: async (i) => (sink += (await kafkajs.decode(encoded[i % n])).bid), async: true },
      },
      serdeMs,
    ),
  );
  const result = {
    encode,
    decode,
    variants: {
      kandle:
        'createAvroEncoder().encode / createAvroDecoder().decodeCached (sync; what the producer and consumer call)',
      kandleAsync: 'createAvroDecoder().decode (async entry point, cache hit)',
      avroSerializer: '@confluentinc/schemaregistry AvroSerializer (useLatestVersion) / AvroDeserializer',
      kafkajsRegistry: '@kafkajs/confluent-schema-registry SchemaRegistry.encode / decode',
    },
    registry: 'real registry (Apicurio, Confluent API) with each client caching the schema after the first lookup',
    bytesPerRecord: encoded.reduce((s, b) => s + b.length, 0) / n,
  };
  if (!Number.isFinite(sink)) throw new Error('bench: serde checksum is not finite');
  return result;
}
