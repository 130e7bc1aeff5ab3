// Bench end to end: tick → candle latency, from createCryptoProducer's send to the candle update reaching onCandles, at a steady rate.
import KafkaJavascript from '@confluentinc/kafka-javascript';
import { connectSchemaRegistry, createCandleConsumer, createCryptoProducer } from '@kandle/core';
import { symbolOf } from './fixtures.mjs';
import { latencySummary, medianBy, now, percentile, sleep, waitUntil } from './measure.mjs';
import { closeRawProducer, connectRawProducer } from './clients.mjs';
import { retryWhileTopicUnknown } from './stack.mjs';

const { KafkaConsumer } = KafkaJavascript;
const WARMUP_SECONDS = 2;

/** Calls `send(i)` for i in [0, total) at `rate` per second (checked every millisecond); resolves when all are called. */
export async function paceSends(total, rate, send) {
  const started = now();
  let sent = 0;
  while (sent < total) {
    const due = Math.min(total, Math.floor(((now() - started) / 1000) * rate));
    for (; sent < due; sent++) send(sent);
    await sleep(1);
  }
}

/** Latencies of the measured records (the warm-up ones dropped). */
function summarize(sentAt, reachedAt, warmup) {
  const latencies = [];
  for (let i = warmup; i < sentAt.length; i++) latencies.push(reachedAt[i] - sentAt[i]);
  return { ...latencySummary(latencies), max: percentile(latencies, 100) };
}

/**
 * kandle: createCryptoProducer → Kafka → createCandleConsumer (1m candles) → onCandles.
 * Record i carries price i (unique), so a candle update whose close is i tells that every record of that
 * coin up to i has reached onCandles, including those coalesced into the same update. Event time is the
 * wall clock at send, so candles open and close as they would live.
 */
async function kandleEndToEnd(stack, { rate, total, symbols }) {
  const tickers = await stack.topic('e2e-tickers');
  const trades = await stack.topic('e2e-trades');
  const registry = connectSchemaRegistry({ url: stack.registryUrl });
  const sentAt = new Float64Array(total);
  const reachedAt = new Float64Array(total);
  const lastReached = new Array(symbols).fill(-1);
  const consumer = await retryWhileTopicUnknown(() =>
    createCandleConsumer({
      connection: { brokers: stack.brokers },
      registry,
      groupId: stack.group('e2e'),
      topics: { tickers, trades: null },
      from: 'latest',
      intervals: ['1m'],
      onCandles: (updates) => {
        const t = now();
        for (const { candle } of updates) {
          const coin = candle.close % symbols;
          for (let i = lastReached[coin] + symbols; i <= candle.close; i += symbols) reachedAt[i] = t;
          if (candle.close > lastReached[coin]) lastReached[coin] = candle.close;
        }
      },
    }),
  );
  const producer = await retryWhileTopicUnknown(() =>
    createCryptoProducer({ connection: { brokers: stack.brokers }, registry, topics: { tickers, trades } }),
  );
  try {
    await consumer.waitForAssignment(60_000);
    // Let the fetcher reach steady state on the (empty) partitions before the first send.
    await sleep(1_000);
    const pending = [];
    await paceSends(total, rate, (i) => {
      sentAt[i] = now();
      const price = i;
      pending.push(
        producer.sendTicker({
          symbol: symbolOf(i % symbols),
          ...{ bid: price, bidSize: 1, ask: price, askSize: 1, dailyChange: 0, dailyChangeRelative: 0 },
          ...{ lastPrice: price, volume: 1, high: price, low: price, eventTime: Date.now() },
        }),
      );
    });
    await Promise.all(pending);
    await waitUntil(
      'every record to reach onCandles',
      () => lastReached.every((last, coin) => last >= total - symbols + coin),
      60_000,
    );
  } finally {
    await producer.close();
    await consumer.close();
  }
  return { sentAt, reachedAt };
}

/**
 * A raw KafkaConsumer in a fresh group on `topic`, reading batches of 500 with a 100 ms timeout that applies to the
 * first message only, handing each batch and the time it arrived to `onBatch`. Resolves once it owns partitions;
 * `stop()` ends the loop and disconnects.
 */
export async function startRawReader(stack, topic, purpose, onBatch) {
  const consumer = new KafkaConsumer(
    { 'bootstrap.servers': stack.brokers, 'group.id': stack.group(purpose), 'enable.partition.eof': false },
    { 'auto.offset.reset': 'earliest' },
  );
  await new Promise((resolve, reject) => consumer.connect({ timeout: 15_000 }, (e) => (e ? reject(e) : resolve())));
  consumer.setDefaultConsumeTimeout(100);
  consumer.setDefaultIsTimeoutOnlyForFirstMessage(true);
  consumer.subscribe([topic]);
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      const messages = await new Promise((resolve, reject) =>
        consumer.consume(500, (err, batch) => (err ? reject(err) : resolve(batch ?? []))),
      );
      onBatch(messages, now());
    }
  })();
  const stop = async () => {
    stopped = true;
    await loop.catch(() => undefined);
    await new Promise((resolve) => consumer.disconnect(() => resolve(undefined)));
  };
  try {
    await waitUntil('the raw consumer to be assigned', () => consumer.assignments().length > 0, 60_000);
  } catch (e) {
    await stop();
    throw e;
  }
  return { stop };
}

/**
 * The floor on this machine: raw librdkafka Producer (kandle's settings) → Kafka → raw KafkaConsumer
 * reading batches of 500 with a 100 ms timeout that applies to the first message only; the clock stops
 * when the message is in the consumer's hands (no decoding, no candles).
 */
async function rawEndToEnd(stack, { rate, total }) {
  const topic = await stack.topic('e2e-raw');
  const sentAt = new Float64Array(total);
  const reachedAt = new Float64Array(total);
  let received = 0;
  const producer = await connectRawProducer(stack.brokers, { dr_cb: false }, 100);
  let reader;
  try {
    reader = await startRawReader(stack, topic, 'e2e-raw', (messages, t) => {
      for (const m of messages) reachedAt[m.value.readUInt32BE(0)] = t;
      received += messages.length;
    });
    await sleep(1_000);
    await paceSends(total, rate, (i) => {
      const value = Buffer.alloc(64);
      value.writeUInt32BE(i, 0);
      sentAt[i] = now();
      producer.produce(topic, null, value, Buffer.from(symbolOf(i % 10)), Date.now());
    });
    await waitUntil('every record to reach the raw consumer', () => received >= total, 60_000);
  } finally {
    await reader?.stop();
    await closeRawProducer(producer);
  }
  return { sentAt, reachedAt };
}

/**
 * Both pipelines at the same steady rate for `rounds` interleaved rounds (each on fresh topics and groups,
 * the one that goes first alternating), latencies of each round's warm-up seconds dropped. Reports each
 * pipeline's median round by p99: a round that meets a JVM pause or a leader moving on the young topics is
 * visible in `rounds` without deciding the result.
 */
export async function benchEndToEnd(stack, { rate, seconds, symbols, rounds, log }) {
  const warmup = rate * WARMUP_SECONDS;
  const total = warmup + rate * seconds;
  const pipelines = {
    kandle: { label: 'kandle tick → candle', run: () => kandleEndToEnd(stack, { rate, total, symbols }) },
    raw: { label: 'raw produce → consume', run: () => rawEndToEnd(stack, { rate, total }) },
  };
  const results = { kandle: [], raw: [] };
  for (let round = 1; round <= rounds; round++) {
    const order = round % 2 === 1 ? ['kandle', 'raw'] : ['raw', 'kandle'];
    for (const name of order) {
      // Both pipelines run in this process, one at a time: its CPU over the run is theirs (producer and consumer).
      const cpuBefore = process.cpuUsage();
      const { sentAt, reachedAt } = await pipelines[name].run();
      const cpu = process.cpuUsage(cpuBefore);
      const latency = { ...summarize(sentAt, reachedAt, warmup), cpuUsPerRecord: (cpu.user + cpu.system) / total };
      results[name].push(latency);
      log(
        `  round ${round} ${pipelines[name].label} at ${rate} rec/s: ` +
          `p50 ${latency.p50.toFixed(1)} ms, p99 ${latency.p99.toFixed(1)} ms, max ${latency.max.toFixed(1)} ms, ` +
          `${latency.cpuUsPerRecord.toFixed(1)} µs CPU/rec (bench process, produce + consume)`,
      );
    }
  }
  return {
    rate,
    seconds,
    warmupSeconds: WARMUP_SECONDS,
    latencyMs: medianBy(results.kandle, (r) => r.p99),
    rawLatencyMs: medianBy(results.raw, (r) => r.p99),
    rounds: results,
  };
}
