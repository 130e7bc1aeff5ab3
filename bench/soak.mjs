// Soak (`npm run bench:soak`): createCryptoProducer at a steady rate → 2 createCandleConsumer members (one child
// process each) → createInfluxSink against a loopback server answering 204; reports RSS slope after warm-up, lag
// and GC pauses (perf_hooks) per process. Duration, rate and the producer's in-flight bound from KANDLE_SOAK_MINUTES /
// KANDLE_SOAK_RATE / KANDLE_SOAK_IN_FLIGHT.
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connectSchemaRegistry, createCryptoProducer } from '@kandle/core';
import { spawnChild, watchGc } from './child.mjs';
import { symbolOf } from './fixtures.mjs';
import { now, percentile, sleep } from './measure.mjs';
import { afterWarmup, slopePerMinute } from './soak-math.mjs';
import { openStack, retryWhileTopicUnknown } from './stack.mjs';

const log = (message) => process.stderr.write(`[soak] ${message}\n`);

function positiveNumber(name, fallback) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} must be a positive number, got "${raw}"`);
  return value;
}

const minutes = positiveNumber('KANDLE_SOAK_MINUTES', 10);
const rate = positiveNumber('KANDLE_SOAK_RATE', 5_000);
const warmupMinutes = positiveNumber('KANDLE_SOAK_WARMUP_MINUTES', Math.min(2, minutes / 3));
/** The sink's flushIntervalMs; unset: the sink's default (1,000 ms), as examples/pipeline runs it. */
const flushIntervalMs = process.env.KANDLE_SOAK_SINK_FLUSH_MS
  ? positiveNumber('KANDLE_SOAK_SINK_FLUSH_MS', 1_000)
  : undefined;
/**
 * Records sent but not yet acknowledged at most: beyond it the loop waits for delivery reports instead of sending at
 * the target rate. Without a bound an overloaded producer process queued records without limit (one earlier run
 * grew 142 MiB/min), so its RSS slope measured the backlog, not the client. Default: one second at the target rate.
 */
const maxInFlight = positiveNumber('KANDLE_SOAK_IN_FLIGHT', rate);
const sampleMs = 5_000;
const SYMBOLS = 10;

/** The soak's summary: slopes and GC after the warm-up, lag and backlog over the run, per process. */
function summarizeSoak({ startedAt, loadAtStart, stack, samples, sent, delivered, failed, consumedAtEnd, requests }) {
  const series = (list, key) => afterWarmup(list, warmupMinutes).map((s) => ({ t: s.t, v: s[key] }));
  const gcOf = (list) => {
    const all = afterWarmup(list, warmupMinutes).map((s) => s.gc);
    return {
      pauses: all.reduce((a, g) => a + g.count, 0),
      totalMs: all.reduce((a, g) => a + g.totalMs, 0),
      maxMs: Math.max(0, ...all.map((g) => g.maxMs)),
      worstSampleP99Ms: Math.max(0, ...all.map((g) => g.p99Ms)),
    };
  };
  const lagSeries = samples.producer.map(
    (p, i) => p.delivered - (samples.consumers[0][i]?.consumed ?? 0) - (samples.consumers[1][i]?.consumed ?? 0),
  );
  const backlogSeries = samples.producer.map(
    (p, i) => p.sent - (samples.consumers[0][i]?.consumed ?? 0) - (samples.consumers[1][i]?.consumed ?? 0),
  );
  return {
    date: startedAt.toISOString(),
    minutes,
    rate,
    warmupMinutes,
    maxInFlight,
    // Below `rate` when the in-flight bound held the producer back (the brokers or the machine could not keep up).
    achievedSendRate: sent / (minutes * 60),
    sinkFlushIntervalMs: flushIntervalMs ?? 'sink default (1000)',
    sinkLingerMs: 'sink default (5)',
    machine: { cpus: os.cpus().length, loadAverageAtStart: loadAtStart, loadAverageAtEnd: os.loadavg() },
    stack: stack.owned ? 'own 3-broker cluster + registry started by the soak' : 'external (KAFKA_BROKERS)',
    sent,
    delivered,
    failed,
    consumedAtEnd,
    lagAtEnd: delivered - consumedAtEnd,
    // delivered − consumed: negative when consumers read records before the producer's delivery reports arrive.
    lag: { maxRecords: Math.max(...lagSeries), p50Records: percentile(lagSeries, 50) },
    // sent − consumed: everything not yet in onCandles, the producer's own queue included.
    backlog: { maxRecords: Math.max(...backlogSeries), atEndRecords: sent - consumedAtEnd },
    sinkRequests: requests,
    producer: {
      rssSlopeMiBPerMin: slopePerMinute(series(samples.producer, 'rssMiB')),
      heapSlopeMiBPerMin: slopePerMinute(series(samples.producer, 'heapUsedMiB')),
      rssMiBAtEnd: samples.producer.at(-1)?.rssMiB,
      cpuCoreShare: samples.producer.reduce((a, s) => a + s.cpuUs, 0) / 1000 / (minutes * 60_000),
      gc: gcOf(samples.producer),
    },
    consumers: samples.consumers.map((list) => ({
      rssSlopeMiBPerMin: slopePerMinute(series(list, 'rssMiB')),
      heapSlopeMiBPerMin: slopePerMinute(series(list, 'heapUsedMiB')),
      rssMiBAtEnd: list.at(-1)?.rssMiB,
      consumed: list.at(-1)?.consumed,
      pointsWritten: list.at(-1)?.sink,
      gc: gcOf(list),
    })),
    samples,
  };
}

async function main() {
  const startedAt = new Date();
  const loadAtStart = os.loadavg();
  let requests = 0;
  const server = createServer((req, res) => {
    requests++;
    req.resume();
    req.on('end', () => {
      res.statusCode = 204;
      res.end();
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const sinkUrl = `http://127.0.0.1:${server.address().port}`;
  const stack = await openStack({ partitions: 4, log });
  const children = [];
  const samples = { producer: [], consumers: [[], []] };
  let sent = 0;
  let delivered = 0;
  let failed = 0;
  try {
    const topic = await stack.topic('soak-tickers');
    const trades = await stack.topic('soak-trades');
    const group = stack.group('soak');
    for (let i = 0; i < 2; i++) {
      const child = spawnChild(log);
      children.push(child);
      await child.call('soak:start', {
        brokers: stack.brokers,
        registryUrl: stack.registryUrl,
        topic,
        group,
        sinkUrl,
        flushIntervalMs,
      });
    }
    // Both members joined: let the group settle before the first record.
    await sleep(5_000);
    const producer = await retryWhileTopicUnknown(() =>
      createCryptoProducer({
        connection: { brokers: stack.brokers },
        registry: connectSchemaRegistry({ url: stack.registryUrl }),
        topics: { tickers: topic, trades },
      }),
    );
    const gc = watchGc();
    log(`producing ${rate} rec/s for ${minutes} min (warm-up ${warmupMinutes} min), 2 consumers → sink → ${sinkUrl}`);
    const started = now();
    const endAt = started + minutes * 60_000;
    let nextSample = started + sampleMs;
    let cpu = process.cpuUsage();
    while (now() < endAt) {
      const due = Math.floor(((now() - started) / 1000) * rate);
      for (; sent < due && sent - delivered - failed < maxInFlight; sent++) {
        const price = 100 + (sent % 1000) / 100;
        producer
          .sendTicker({
            symbol: symbolOf(sent % SYMBOLS),
            ...{ bid: price, bidSize: 1, ask: price, askSize: 1, dailyChange: 0, dailyChangeRelative: 0 },
            ...{ lastPrice: price, volume: 1, high: price, low: price, eventTime: Date.now() },
          })
          .then(
            () => delivered++,
            () => failed++,
          );
      }
      if (now() >= nextSample) {
        nextSample += sampleMs;
        const t = (now() - started) / 60_000;
        const m = process.memoryUsage();
        const c = process.cpuUsage(cpu);
        cpu = process.cpuUsage();
        samples.producer.push({
          t,
          rssMiB: m.rss / 2 ** 20,
          heapUsedMiB: m.heapUsed / 2 ** 20,
          gc: gc.take(),
          cpuUs: c.user + c.system,
          sent,
          delivered,
        });
        const consumerSamples = await Promise.all(children.map((child) => child.call('soak:sample', {})));
        for (const [i, s] of consumerSamples.entries()) samples.consumers[i].push({ t, ...s });
        const consumed = consumerSamples.reduce((a, s) => a + s.consumed, 0);
        log(
          `  ${t.toFixed(2)} min: sent ${sent}, delivered ${delivered}, consumed ${consumed}, lag ${delivered - consumed}, ` +
            `rss producer ${(m.rss / 2 ** 20).toFixed(0)} / consumers ${consumerSamples.map((s) => s.rssMiB.toFixed(0)).join(', ')} MiB, ` +
            `load ${os.loadavg()[0].toFixed(1)}`,
        );
      }
      await sleep(10);
    }
    await producer.close();
    gc.stop();
    await sleep(3_000);
    const finals = await Promise.all(children.map((child) => child.call('soak:sample', {})));
    const consumedAtEnd = finals.reduce((a, s) => a + s.consumed, 0);
    for (const child of children) await child.call('soak:stop', {});
    const summary = summarizeSoak({
      startedAt,
      loadAtStart,
      stack,
      samples,
      sent,
      delivered,
      failed,
      consumedAtEnd,
      requests,
    });
    const dir = join(dirname(fileURLToPath(import.meta.url)), 'results');
    mkdirSync(dir, { recursive: true });
    const file = join(dir, `soak-${startedAt.toISOString().replace(/[:.]/g, '-')}.json`);
    writeFileSync(file, `${JSON.stringify(summary, null, 2)}\n`);
    const { samples: _omit, ...brief } = summary;
    process.stdout.write(`${JSON.stringify(brief, null, 2)}\nresults: ${file}\n`);
  } finally {
    await Promise.all(children.map((c) => c.end()));
    await stack.stop();
    await new Promise((resolve) => server.close(resolve));
  }
}

main().then(
  () => process.exit(0),
  (error) => {
    process.stderr.write(`[soak] failed: ${error?.stack ?? error}\n`);
    process.exit(1);
  },
);
