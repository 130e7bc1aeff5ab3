// Bench producer step: throughput and delivery latency (acks=all) of createCryptoProducer vs raw librdkafka vs KafkaJS.
import { SchemaRegistry as KafkaJsRegistry } from '@kafkajs/confluent-schema-registry';
import KafkaJavascript from '@confluentinc/kafka-javascript';
import {
  connectSchemaRegistry,
  createAvroEncoder,
  createCryptoProducer,
  tickerSchema,
  valueSubject,
} from '@kandle/core';
import { Kafka as KafkaJs, logLevel } from 'kafkajs';
import { latencySummary, medianBy, now, runWindowed } from './measure.mjs';
import { retryWhileTopicUnknown } from './stack.mjs';

const { Producer: RdProducer } = KafkaJavascript;

/** The librdkafka settings createCryptoProducer uses (producer.ts), so the raw client differs only by kandle's code. */
export const KANDLE_PRODUCER_SETTINGS = {
  partitioner: 'murmur2_random',
  'enable.idempotence': true,
  acks: -1,
  'linger.ms': 5,
  'message.timeout.ms': 30_000,
  'compression.type': 'lz4',
  dr_cb: true,
};

/** Runs `count` sends through `client` with a window of `inFlight` and times each record. */
async function measureRun(client, records, inFlight) {
  const latencies = new Float64Array(records.length);
  const started = now();
  await client.sendAll(records, inFlight, latencies);
  const elapsedMs = now() - started;
  return { recordsPerSecond: (records.length / elapsedMs) * 1000, elapsedMs, latencyMs: latencySummary(latencies) };
}

/** kandle: Avro encode + key-hash + produce + delivery promise, all inside `sendTicker`. */
async function kandleClient(stack, registry, topics) {
  const producer = await retryWhileTopicUnknown(() =>
    createCryptoProducer({ connection: { brokers: stack.brokers }, registry, topics }),
  );
  return {
    name: 'kandle createCryptoProducer',
    async sendAll(records, inFlight, latencies) {
      await runWindowed(records.length, inFlight, async (i) => {
        const t = now();
        await producer.sendTicker(records[i]);
        latencies[i] = now() - t;
      });
    },
    close: () => producer.close(),
  };
}

/** Raw librdkafka Producer with kandle's settings, sending bytes encoded before the clock starts. */
async function rawClient(stack, schemaId, topic) {
  const producer = new RdProducer({ 'bootstrap.servers': stack.brokers, ...KANDLE_PRODUCER_SETTINGS });
  await new Promise((resolve, reject) =>
    producer.connect({ timeout: 15_000 }, (err) => (err ? reject(err) : resolve())),
  );
  producer.setPollInterval(20);
  producer.on('delivery-report', (err, report) => {
    const done = report.opaque;
    if (err) done.reject(err);
    else done.resolve();
  });
  const encoder = createAvroEncoder(tickerSchema, schemaId);
  let encoded = [];
  let keys = [];
  return {
    name: 'raw librdkafka Producer',
    prepare(records) {
      encoded = records.map((r) => encoder.encode(r));
      keys = records.map((r) => Buffer.from(r.symbol));
    },
    async sendAll(records, inFlight, latencies) {
      await runWindowed(records.length, inFlight, (i) => {
        const t = now();
        return new Promise((resolve, reject) => {
          producer.produce(topic, null, encoded[i], keys[i], records[i].eventTime, { resolve, reject });
        }).then(() => {
          latencies[i] = now() - t;
        });
      });
    },
    close: () => new Promise((resolve) => producer.flush(30_000, () => producer.disconnect(() => resolve(undefined)))),
  };
}

/**
 * KafkaJS + @kafkajs/confluent-schema-registry: each record is encoded by the registry library; records
 * go out in `send()` calls of `batch` (KafkaJS has no linger). A record's latency runs from the start of
 * its batch (its encode) to the batch's acknowledgement. No compression (KafkaJS ships only gzip) and, unless
 * `idempotent`, no idempotence (an idempotent KafkaJS producer allows one request in flight), so the default
 * variant is spared two costs kandle pays; the idempotent one is spared only compression.
 */
async function kafkajsClient(stack, schemaId, topic, batch, { idempotent = false } = {}) {
  const kafka = new KafkaJs({
    clientId: 'kandle-bench',
    brokers: stack.brokers.split(','),
    logLevel: logLevel.NOTHING,
  });
  const producer = kafka.producer({
    allowAutoTopicCreation: false,
    ...(idempotent ? { idempotent: true, maxInFlightRequests: 1 } : {}),
  });
  await producer.connect();
  const registry = new KafkaJsRegistry({ host: stack.registryUrl });
  return {
    name: `KafkaJS + @kafkajs/confluent-schema-registry${idempotent ? ' (idempotent)' : ''}`,
    async sendAll(records, inFlight, latencies) {
      const batches = Math.ceil(records.length / batch);
      await runWindowed(batches, Math.max(1, Math.floor(inFlight / batch)), async (b) => {
        const t = now();
        const from = b * batch;
        const slice = records.slice(from, from + batch);
        const messages = await Promise.all(
          slice.map(async (r) => ({
            key: r.symbol,
            value: await registry.encode(schemaId, r),
            timestamp: String(r.eventTime),
          })),
        );
        await producer.send({ topic, acks: -1, messages });
        const latency = now() - t;
        latencies.fill(latency, from, from + slice.length);
      });
    },
    close: () => producer.disconnect(),
  };
}

/**
 * Interleaves `rounds` rounds of the three producers on their own topics and reports each one's median
 * round by throughput. Returns the topic kandle wrote (`rounds × records` tickers) for the consumer step.
 */
export async function benchProducers(stack, { records, rounds, inFlight, kafkajsBatch, log }) {
  const topics = {
    kandle: await stack.topic('produce-kandle'),
    raw: await stack.topic('produce-raw'),
    kafkajs: await stack.topic('produce-kafkajs'),
    kafkajsIdempotent: await stack.topic('produce-kafkajs-idempotent'),
    warmup: await stack.topic('produce-warmup'),
    trades: await stack.topic('trades'),
  };
  const registry = connectSchemaRegistry({ url: stack.registryUrl });
  const schemaIds = {};
  for (const name of ['kandle', 'raw', 'kafkajs', 'kafkajsIdempotent', 'warmup']) {
    schemaIds[name] = await registry.register(valueSubject(topics[name]), tickerSchema);
  }

  const clients = {
    kandle: await kandleClient(stack, registry, { tickers: topics.kandle, trades: topics.trades }),
    raw: await rawClient(stack, schemaIds.raw, topics.raw),
    kafkajs: await kafkajsClient(stack, schemaIds.kafkajs, topics.kafkajs, kafkajsBatch),
    kafkajsIdempotent: await kafkajsClient(stack, schemaIds.kafkajsIdempotent, topics.kafkajsIdempotent, kafkajsBatch, {
      idempotent: true,
    }),
  };
  const warmupClients = {
    kandle: await kandleClient(stack, registry, { tickers: topics.warmup, trades: topics.trades }),
    raw: await rawClient(stack, schemaIds.warmup, topics.warmup),
    kafkajs: await kafkajsClient(stack, schemaIds.warmup, topics.warmup, kafkajsBatch),
    kafkajsIdempotent: await kafkajsClient(stack, schemaIds.warmup, topics.warmup, kafkajsBatch, { idempotent: true }),
  };
  const results = { kandle: [], raw: [], kafkajs: [], kafkajsIdempotent: [] };
  try {
    // Half a run per client: the brokers of a young cluster keep speeding up (JIT) for the first ~100k records.
    const warmupRecords = records.slice(0, Math.max(2_000, Math.floor(records.length / 2)));
    for (const [name, client] of Object.entries(warmupClients)) {
      client.prepare?.(warmupRecords);
      await measureRun(client, warmupRecords, inFlight);
      log(`  warmed up ${name} with ${warmupRecords.length} records`);
    }
    for (const client of Object.values(clients)) client.prepare?.(records);
    const order = Object.entries(clients);
    for (let round = 1; round <= rounds; round++) {
      // Each round starts with a different client: whoever runs right after KafkaJS's burst or first on a
      // still-warming cluster is not always the same one.
      const turn = [...order.slice((round - 1) % order.length), ...order.slice(0, (round - 1) % order.length)];
      for (const [name, client] of turn) {
        const run = await measureRun(client, records, inFlight);
        results[name].push(run);
        log(
          `  round ${round} ${client.name}: ${Math.round(run.recordsPerSecond)} rec/s, ` +
            `p50 ${run.latencyMs.p50.toFixed(1)} ms, p99 ${run.latencyMs.p99.toFixed(1)} ms`,
        );
      }
    }
  } finally {
    for (const client of [...Object.values(clients), ...Object.values(warmupClients)]) await client.close();
  }
  const pick = (name) => ({
    client: clients[name].name,
    ...medianBy(results[name], (r) => r.recordsPerSecond),
    rounds: results[name],
  });
  return {
    settings: { records, rounds, inFlight, kafkajsBatch, acks: 'all' },
    kandle: pick('kandle'),
    raw: pick('raw'),
    kafkajs: pick('kafkajs'),
    kafkajsIdempotent: pick('kafkajsIdempotent'),
    kandleTopic: { topic: topics.kandle, records: records.length * rounds },
  };
}
