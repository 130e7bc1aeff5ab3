// Bench consumer step: consume + decode + aggregate with createCandleConsumer vs plain reading with a raw librdkafka KafkaConsumer.
import KafkaJavascript from '@confluentinc/kafka-javascript';
import { connectSchemaRegistry, createCandleConsumer } from '@kandle/core';
import { medianBy, now, waitUntil } from './measure.mjs';

const { KafkaConsumer } = KafkaJavascript;

/** Records per consume() call on both sides: createCandleConsumer's default batch size. */
const BATCH = 500;
/** A consumer that receives nothing for this long before reading everything has stalled. */
const STALL_MS = 30_000;

/**
 * The clock starts at the first batch (joining the group is not consumption) and stops when all
 * `total` records are through; the first batch's records are not counted in the rate.
 */
function rateOf(firstAt, firstRecords, lastAt, total) {
  return ((total - firstRecords) / (lastAt - firstAt)) * 1000;
}

/** createCandleConsumer reading `topic` from the start in a fresh group: decode, aggregate (1m), hand candles over. */
async function candleConsumerRun(stack, registry, topic, total, log) {
  let seen = 0;
  let firstAt = 0;
  let firstRecords = 0;
  let lastAt = 0;
  const started = now();
  const consumer = await createCandleConsumer({
    connection: { brokers: stack.brokers },
    registry,
    groupId: stack.group('consume-kandle'),
    topics: { tickers: topic, trades: null },
    from: 'earliest',
    intervals: ['1m'],
    batchSize: BATCH,
    onWarning: (warning) => log(`  createCandleConsumer warning: ${warning.message}`),
    onCandles: (_updates, context) => {
      const t = now();
      if (seen === 0) {
        firstAt = t;
        firstRecords = context.records;
      }
      seen += context.records;
      lastAt = t;
    },
  });
  let stalled = false;
  try {
    // Done when every record is through, or stalled when none arrived for STALL_MS: reported, not hidden.
    await waitUntil(`createCandleConsumer to read ${total} records`, () => {
      stalled = seen < total && now() - Math.max(lastAt, started) > STALL_MS;
      return seen >= total || stalled;
    });
    if (stalled)
      log(
        `  createCandleConsumer STALLED at ${seen}/${total} records: stats ${JSON.stringify(consumer.stats())}, ` +
          `owns ${JSON.stringify(consumer.assignment())}`,
      );
  } finally {
    await consumer.close();
  }
  const stats = consumer.stats();
  if (stats.poison > 0) throw new Error(`bench: ${stats.poison} records went to the dead-letter topic`);
  return {
    recordsPerSecond: rateOf(firstAt, firstRecords, lastAt, seen),
    records: seen,
    stalled,
    candleUpdates: stats.updates,
  };
}

/** Raw librdkafka KafkaConsumer, same batch size: messages are read, not decoded. */
async function rawConsumerRun(stack, topic, total, log) {
  const consumer = new KafkaConsumer(
    { 'bootstrap.servers': stack.brokers, 'group.id': stack.group('consume-raw'), 'enable.partition.eof': false },
    { 'auto.offset.reset': 'earliest' },
  );
  await new Promise((resolve, reject) =>
    consumer.connect({ timeout: 15_000 }, (err) => (err ? reject(err) : resolve())),
  );
  consumer.setDefaultConsumeTimeout(100);
  consumer.subscribe([topic]);
  let seen = 0;
  let bytes = 0;
  let firstAt = 0;
  let firstRecords = 0;
  let lastAt = 0;
  let stalled = false;
  const started = now();
  try {
    while (seen < total) {
      if (now() - Math.max(lastAt, started) > STALL_MS) {
        stalled = true;
        log(`  raw KafkaConsumer STALLED at ${seen}/${total} records`);
        break;
      }
      const messages = await new Promise((resolve, reject) =>
        consumer.consume(BATCH, (err, batch) => (err ? reject(err) : resolve(batch ?? []))),
      );
      if (messages.length === 0) continue;
      const t = now();
      if (seen === 0) {
        firstAt = t;
        firstRecords = messages.length;
      }
      for (const m of messages) bytes += m.value.length;
      seen += messages.length;
      lastAt = t;
    }
  } finally {
    await new Promise((resolve) => consumer.disconnect(() => resolve(undefined)));
  }
  return { recordsPerSecond: rateOf(firstAt, firstRecords, lastAt, seen), records: seen, stalled, bytes };
}

/** Interleaved rounds of both consumers over the same records; the median round of each is reported. */
export async function benchConsumers(stack, { topic, total, rounds, log }) {
  const registry = connectSchemaRegistry({ url: stack.registryUrl });
  const runs = { kandle: [], raw: [] };
  // Warm-up: one untimed pass each (JIT, broker page cache, registry lookup).
  const warmups = [
    await candleConsumerRun(stack, registry, topic, total, log),
    await rawConsumerRun(stack, topic, total, log),
  ];
  log(`  warmed up both consumers on ${total} records`);
  for (let round = 1; round <= rounds; round++) {
    const kandle = await candleConsumerRun(stack, registry, topic, total, log);
    runs.kandle.push(kandle);
    log(
      `  round ${round} createCandleConsumer: ${Math.round(kandle.recordsPerSecond)} rec/s${kandle.stalled ? ' (stalled)' : ''}`,
    );
    const raw = await rawConsumerRun(stack, topic, total, log);
    runs.raw.push(raw);
    log(
      `  round ${round} raw KafkaConsumer: ${Math.round(raw.recordsPerSecond)} rec/s${raw.stalled ? ' (stalled)' : ''}`,
    );
  }
  return {
    topic,
    records: total,
    batch: BATCH,
    warmupStalled: { kandle: warmups[0].stalled, raw: warmups[1].stalled },
    stalledRounds: {
      kandle: runs.kandle.filter((r) => r.stalled).length,
      raw: runs.raw.filter((r) => r.stalled).length,
    },
    kandle: { ...medianBy(runs.kandle, (r) => r.recordsPerSecond), rounds: runs.kandle },
    raw: { ...medianBy(runs.raw, (r) => r.recordsPerSecond), rounds: runs.raw },
  };
}
