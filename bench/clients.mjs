// Bench clients: every producer and consumer the bench compares, built in the child process that measures it (bench/child.mjs).
import { SchemaRegistry as KafkaJsRegistry } from '@kafkajs/confluent-schema-registry';
import KafkaJavascript from '@confluentinc/kafka-javascript';
import {
  connectSchemaRegistry,
  createAvroEncoder,
  createCandleConsumer,
  createCryptoProducer,
  tickerSchema,
} from '@kandle/core';
import { Consumer as PlatformaticConsumer, Producer as PlatformaticProducer } from '@platformatic/kafka';
import avro from 'avsc';
import { Kafka as KafkaJs, logLevel } from 'kafkajs';
import { now, runWindowed, waitUntil } from './measure.mjs';
import { retryWhileTopicUnknown } from './stack.mjs';

const { KafkaConsumer, Producer: RdProducer } = KafkaJavascript;

// @platformatic/kafka 2.x targets Node >= 22.19 and calls Promise.withResolvers (Node 22); on Node 20 this is the
// spec's definition, so the client can be measured here. Nothing else in the bench uses it.
if (typeof Promise.withResolvers !== 'function') {
  Promise.withResolvers = function withResolvers() {
    let resolve;
    let reject;
    const promise = new this((res, rej) => {
      resolve = res;
      reject = rej;
    });
    return { promise, resolve, reject };
  };
}

/** The librdkafka settings createCryptoProducer uses (producer.ts), so the raw client differs only by kandle's code. */
export const KANDLE_PRODUCER_SETTINGS = {
  partitioner: 'murmur2_random',
  'enable.idempotence': true,
  acks: -1,
  'linger.ms': 20,
  'message.timeout.ms': 30_000,
  'compression.type': 'lz4',
  dr_cb: true,
};

/** createCryptoProducer serves delivery reports with a 5 ms poll (producer.ts); the raw producer polls as often. */
export const DELIVERY_POLL_MS = 5;

/** A connected raw librdkafka Producer with kandle's settings (`overrides` win), polling reports every `pollMs`. */
export async function connectRawProducer(brokers, overrides = {}, pollMs = DELIVERY_POLL_MS) {
  const producer = new RdProducer({ 'bootstrap.servers': brokers, ...KANDLE_PRODUCER_SETTINGS, ...overrides });
  await new Promise((resolve, reject) => producer.connect({ timeout: 15_000 }, (e) => (e ? reject(e) : resolve())));
  producer.setPollInterval(pollMs);
  return producer;
}

/** Flushes for at most `flushMs`, then stops the poll before disconnecting (kandle's own order, see rdkafka.ts). */
export async function closeRawProducer(producer, flushMs = 10_000) {
  await new Promise((resolve) => producer.flush(flushMs, () => resolve(undefined)));
  producer.setPollInterval(0);
  await new Promise((resolve) => producer.disconnect(() => resolve(undefined)));
}

/**
 * The producer settings variants. `kandle-defaults`: kandle's own settings (lz4, idempotent, linger 20 ms) for kandle,
 * raw and @platformatic/kafka, while KafkaJS runs without compression (it ships only gzip) and, in its plain variant,
 * without idempotence. `equal`: every producer without compression and idempotent, acks=all. `linger-5`: the
 * defaults with librdkafka's own `linger.ms` of 5 for the two librdkafka clients (kandle's `lingerMs` option), the
 * default kandle had before: smaller batches, more requests, more CPU per record in librdkafka's broker threads.
 */
export const PRODUCER_VARIANTS = {
  'kandle-defaults': { compression: 'lz4', idempotent: true, lingerMs: 20 },
  equal: { compression: 'none', idempotent: true, lingerMs: 20 },
  'linger-5': { compression: 'lz4', idempotent: true, lingerMs: 5 },
};

/** Avro with the Confluent header (magic 0 + 4-byte schema id) written with avsc, as a @platformatic/kafka user would. */
function avscCodec(schemaId) {
  const type = avro.Type.forSchema(tickerSchema);
  return {
    encode(record) {
      const body = type.toBuffer(record);
      const out = Buffer.allocUnsafe(body.length + 5);
      out[0] = 0;
      out.writeUInt32BE(schemaId, 1);
      body.copy(out, 5);
      return out;
    },
    decode: (buffer) => type.fromBuffer(buffer.subarray(5)),
  };
}

/** kandle: Avro encode + key-hash + produce + delivery promise, all inside `sendTicker`. */
async function kandleProducer({ brokers, registryUrl, topic, tradesTopic, variant }) {
  const producer = await retryWhileTopicUnknown(() =>
    createCryptoProducer({
      connection: { brokers, rdkafka: { 'compression.type': variant.compression } },
      registry: connectSchemaRegistry({ url: registryUrl }),
      topics: { tickers: topic, trades: tradesTopic },
      idempotence: variant.idempotent,
      lingerMs: variant.lingerMs,
    }),
  );
  return {
    async sendAll(records, inFlight, latencies) {
      // Chained like the raw client's send below, so both pay the same per-record promise machinery.
      await runWindowed(records.length, inFlight, (i) => {
        const t = now();
        return producer.sendTicker(records[i]).then(() => {
          latencies[i] = now() - t;
        });
      });
    },
    close: () => producer.close(),
  };
}

/** Raw librdkafka Producer with kandle's settings and poll cadence, sending bytes encoded before the clock starts. */
async function rawProducer({ brokers, topic, schemaId, variant }) {
  const producer = await connectRawProducer(brokers, {
    'compression.type': variant.compression,
    'enable.idempotence': variant.idempotent,
    'linger.ms': variant.lingerMs,
  });
  producer.on('delivery-report', (err, report) => {
    const done = report.opaque;
    if (err) done.reject(err);
    else done.resolve();
  });
  const encoder = createAvroEncoder(tickerSchema, schemaId);
  let encoded = [];
  let keys = [];
  return {
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
    close: () => closeRawProducer(producer, 30_000),
  };
}

/**
 * Sends `records` in batches of `batch` with `inFlight / batch` batches pending, for clients whose `send()` takes an
 * array (KafkaJS, @platformatic/kafka): `encode` builds a batch's messages (timed), a record's latency runs from
 * the start of its batch to the batch's acknowledgement.
 */
async function sendBatched(records, inFlight, latencies, batch, encode, send) {
  const batches = Math.ceil(records.length / batch);
  await runWindowed(batches, Math.max(1, Math.floor(inFlight / batch)), async (b) => {
    const t = now();
    const from = b * batch;
    const slice = records.slice(from, from + batch);
    await send(await encode(slice));
    latencies.fill(now() - t, from, from + slice.length);
  });
}

/**
 * KafkaJS + @kafkajs/confluent-schema-registry: each record is encoded by the registry library; records go out in
 * `send()` calls of `batch` (KafkaJS has no linger). No compression (KafkaJS ships only gzip); idempotent only when
 * the variant asks for it (an idempotent KafkaJS producer allows one request in flight).
 */
async function kafkajsProducer({ brokers, registryUrl, topic, schemaId, batch, idempotent }) {
  const kafka = new KafkaJs({ clientId: 'kandle-bench', brokers: brokers.split(','), logLevel: logLevel.NOTHING });
  const producer = kafka.producer({
    allowAutoTopicCreation: false,
    ...(idempotent ? { idempotent: true, maxInFlightRequests: 1 } : {}),
  });
  await producer.connect();
  const registry = new KafkaJsRegistry({ host: registryUrl });
  const encode = (slice) =>
    Promise.all(
      slice.map(async (r) => ({
        key: r.symbol,
        value: await registry.encode(schemaId, r),
        timestamp: String(r.eventTime),
      })),
    );
  return {
    sendAll: (records, inFlight, latencies) =>
      sendBatched(records, inFlight, latencies, batch, encode, (messages) =>
        producer.send({ topic, acks: -1, messages }),
      ),
    close: () => producer.disconnect(),
  };
}

/**
 * @platformatic/kafka Producer (pure JS) with avsc encoding each record (Confluent framing) inside the timed run,
 * kandle's compression and idempotence (so acks=all, one request in flight), `send()` batches like KafkaJS.
 */
async function platformaticProducer({ brokers, topic, schemaId, batch, variant }) {
  const producer = new PlatformaticProducer({
    clientId: 'kandle-bench',
    bootstrapBrokers: brokers.split(','),
    acks: -1,
    idempotent: variant.idempotent,
    ...(variant.compression === 'none' ? {} : { compression: variant.compression }),
  });
  const codec = avscCodec(schemaId);
  const encode = (slice) =>
    slice.map((r) => ({ topic, key: Buffer.from(r.symbol), value: codec.encode(r), timestamp: BigInt(r.eventTime) }));
  return {
    sendAll: (records, inFlight, latencies) =>
      sendBatched(records, inFlight, latencies, batch, encode, (messages) => producer.send({ messages })),
    close: () => producer.close(),
  };
}

/** Producer kinds: label, and factory of `(config)` where config = { brokers, registryUrl, topic, schemaId, … }. */
export const PRODUCERS = {
  kandle: { label: 'kandle createCryptoProducer', make: kandleProducer },
  raw: { label: 'raw librdkafka Producer (pre-encoded)', make: rawProducer },
  kafkajs: {
    label: 'KafkaJS + @kafkajs/confluent-schema-registry',
    make: (config) => kafkajsProducer({ ...config, idempotent: false }),
  },
  kafkajsIdempotent: {
    label: 'KafkaJS + @kafkajs/confluent-schema-registry (idempotent)',
    make: (config) => kafkajsProducer({ ...config, idempotent: true }),
  },
  platformatic: { label: '@platformatic/kafka + avsc', make: platformaticProducer },
};

/** Records per consume() call on the librdkafka sides: createCandleConsumer's default batch size. */
export const CONSUMER_BATCH = 500;
/** A consumer that receives nothing for this long before reading everything has stalled. */
const STALL_MS = 30_000;

/**
 * Reads `total` records of `topic` from the start in a fresh group through `open(onBatch)` (which starts the client
 * and returns its `close`). The clock and the CPU counter start at the first batch (joining the group is not
 * consumption) and stop when all `total` records are through; the first batch's records are not counted.
 */
async function readAll(total, open, log, label) {
  let seen = 0;
  let firstAt = 0;
  let firstRecords = 0;
  let firstCpu = null;
  let lastAt = 0;
  let lastCpu = null;
  const started = now();
  const onBatch = (count) => {
    const t = now();
    if (seen === 0) {
      firstAt = t;
      firstRecords = count;
      firstCpu = process.cpuUsage();
    }
    seen += count;
    lastAt = t;
    if (seen >= total && lastCpu === null) lastCpu = process.cpuUsage(firstCpu);
  };
  const client = await open(onBatch);
  let stalled = false;
  try {
    await waitUntil(
      `${label} to read ${total} records`,
      () => {
        stalled = seen < total && now() - Math.max(lastAt, started) > STALL_MS;
        return seen >= total || stalled;
      },
      600_000,
    );
    if (stalled) log(`  ${label} STALLED at ${seen}/${total} records`);
  } finally {
    await client.close();
  }
  lastCpu ??= firstCpu ? process.cpuUsage(firstCpu) : { user: 0, system: 0 };
  const counted = seen - firstRecords;
  const elapsedMs = lastAt - firstAt;
  return {
    recordsPerSecond: (counted / elapsedMs) * 1000,
    records: seen,
    counted,
    elapsedMs,
    stalled,
    cpu: { userUs: lastCpu.user, systemUs: lastCpu.system },
    ...client.extra?.(),
  };
}

/** createCandleConsumer: consume, decode, aggregate (1m), hand candles over, manual commits. */
function kandleConsumer({ brokers, registryUrl, topic, group, total, log }) {
  let consumer;
  return readAll(
    total,
    async (onBatch) => {
      consumer = await createCandleConsumer({
        connection: { brokers },
        registry: connectSchemaRegistry({ url: registryUrl }),
        groupId: group,
        topics: { tickers: topic, trades: null },
        from: 'earliest',
        intervals: ['1m'],
        batchSize: CONSUMER_BATCH,
        onWarning: (warning) => log(`  createCandleConsumer warning: ${warning.message}`),
        onCandles: (_updates, context) => onBatch(context.records),
      });
      return {
        close: () => consumer.close(),
        extra: () => {
          const stats = consumer.stats();
          if (stats.poison > 0) throw new Error(`bench: ${stats.poison} records went to the dead-letter topic`);
          return { candleUpdates: stats.updates };
        },
      };
    },
    log,
    'createCandleConsumer',
  );
}

/** Raw librdkafka KafkaConsumer, same batch size: messages are read, not decoded. */
function rawConsumer({ brokers, topic, group, total, log }) {
  return readAll(
    total,
    async (onBatch) => {
      const consumer = new KafkaConsumer(
        { 'bootstrap.servers': brokers, 'group.id': group, 'enable.partition.eof': false },
        { 'auto.offset.reset': 'earliest' },
      );
      await new Promise((resolve, reject) =>
        consumer.connect({ timeout: 15_000 }, (err) => (err ? reject(err) : resolve())),
      );
      consumer.setDefaultConsumeTimeout(100);
      consumer.subscribe([topic]);
      let stop = false;
      let bytes = 0;
      const loop = (async () => {
        while (!stop) {
          const messages = await new Promise((resolve, reject) =>
            consumer.consume(CONSUMER_BATCH, (err, batch) => (err ? reject(err) : resolve(batch ?? []))),
          );
          if (messages.length === 0) continue;
          for (const m of messages) bytes += m.value.length;
          onBatch(messages.length);
        }
      })();
      return {
        async close() {
          stop = true;
          await loop;
          await new Promise((resolve) => consumer.disconnect(() => resolve(undefined)));
        },
        extra: () => ({ bytes }),
      };
    },
    log,
    'raw KafkaConsumer',
  );
}

/** @platformatic/kafka Consumer (pure JS, stream of messages) with avsc decoding every value; no aggregation. */
function platformaticConsumer({ brokers, topic, group, total, schemaId, log }) {
  const codec = avscCodec(schemaId);
  return readAll(
    total,
    async (onBatch) => {
      const consumer = new PlatformaticConsumer({
        clientId: 'kandle-bench',
        groupId: group,
        bootstrapBrokers: brokers.split(','),
      });
      const stream = await consumer.consume({ topics: [topic], mode: 'earliest', autocommit: false });
      let sum = 0;
      stream.on('data', (message) => {
        sum += codec.decode(message.value).bid;
        onBatch(1);
      });
      return {
        async close() {
          await stream.close();
          await consumer.close(true);
        },
        extra: () => ({ checksum: Number.isFinite(sum) }),
      };
    },
    log,
    '@platformatic/kafka Consumer',
  );
}

/** Consumer kinds: label, and run of `(config)` → one timed read of `total` records. */
export const CONSUMERS = {
  kandle: { label: 'kandle createCandleConsumer (consume + decode + 1m candles)', run: kandleConsumer },
  raw: { label: 'raw librdkafka KafkaConsumer (consume only)', run: rawConsumer },
  platformatic: { label: '@platformatic/kafka Consumer + avsc decode (no candles)', run: platformaticConsumer },
};
