// Bench child process: one client per process, so its CPU (process.cpuUsage: every thread, librdkafka's included) and
// memory are its own and nothing else's; the parent (bench/run.mjs) sends commands over IPC and gets figures back.
import { fork } from 'node:child_process';
import { PerformanceObserver } from 'node:perf_hooks';
import { connectSchemaRegistry, createCandleConsumer } from '@kandle/core';
import { fileURLToPath } from 'node:url';
import { createInfluxSink } from '@kandle/influx-sink';
import { CONSUMERS, PRODUCERS } from './clients.mjs';
import { makeTickers } from './fixtures.mjs';
import { latencySummary, now, percentile } from './measure.mjs';

const SELF = fileURLToPath(import.meta.url);
const SINK_SYMBOLS = Array.from({ length: 10 }, (_, i) => `tC${i}USD`);

/** Samples RSS and heap every `everyMs` until stopped; returns medians (steady state) and maxima in MiB. */
export function sampleMemory(everyMs = 250) {
  const rss = [];
  const heap = [];
  const take = () => {
    const m = process.memoryUsage();
    rss.push(m.rss / 2 ** 20);
    heap.push(m.heapUsed / 2 ** 20);
  };
  take();
  const timer = setInterval(take, everyMs);
  return () => {
    clearInterval(timer);
    take();
    return {
      rssMiB: percentile(rss, 50),
      heapUsedMiB: percentile(heap, 50),
      maxRssMiB: Math.max(...rss),
      maxHeapUsedMiB: Math.max(...heap),
      samples: rss.length,
    };
  };
}

/** CPU spent by this whole process between two `process.cpuUsage()` readings, as figures per record. */
export function cpuFigures(cpu, records, elapsedMs) {
  const totalUs = cpu.userUs + cpu.systemUs;
  return {
    ...cpu,
    totalUs,
    usPerRecord: totalUs / records,
    coreShare: totalUs / 1000 / elapsedMs,
  };
}

// ---- child side ------------------------------------------------------------------------------------------------

const log = (message) => process.send?.({ log: message });

let producer = null;
/** The producer's records for all its rounds, and how many each round sends. */
let stream = null;
let roundSize = 0;
let soak = null;

/** GC pauses seen by this process since the last `take()`, from perf_hooks 'gc' entries. */
export function watchGc() {
  let pauses = [];
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) pauses.push(entry.duration);
  });
  observer.observe({ entryTypes: ['gc'] });
  return {
    take() {
      const taken = pauses;
      pauses = [];
      return {
        count: taken.length,
        totalMs: taken.reduce((a, b) => a + b, 0),
        maxMs: taken.length ? Math.max(...taken) : 0,
        p99Ms: taken.length ? percentile(taken, 99) : 0,
      };
    },
    stop: () => observer.disconnect(),
  };
}

const commands = {
  /**
   * Builds the producer, warms it up (JIT) on its own topic with `warmupRecords`, then builds the measured one.
   * Each round sends the next `count` records of one continuous stream: a round that replayed the first one's event
   * times would hand the consumers a topic whose later rounds are all late data (corrections), not a live feed.
   */
  async 'producer:init'({ kind, config, warmupTopic, warmupRecords, count, rounds, symbols }) {
    stream = makeTickers(count * rounds, { symbols });
    roundSize = count;
    const { make } = PRODUCERS[kind];
    const warm = await make({ ...config, topic: warmupTopic });
    const warmup = stream.slice(0, warmupRecords);
    warm.prepare?.(warmup);
    await warm.sendAll(warmup, config.inFlight, new Float64Array(warmup.length));
    await warm.close();
    producer = await make(config);
    return { ready: true };
  },
  /** One timed run of every record: rate, per-record delivery latency, CPU and memory of this process. */
  async 'producer:run'({ inFlight, round }) {
    const records = stream.slice(round * roundSize, (round + 1) * roundSize);
    // Before the clock: the raw client encodes its records here, outside the measured work.
    producer.prepare?.(records);
    const latencies = new Float64Array(records.length);
    const stopMemory = sampleMemory();
    const cpuBefore = process.cpuUsage();
    const started = now();
    await producer.sendAll(records, inFlight, latencies);
    const elapsedMs = now() - started;
    const cpu = process.cpuUsage(cpuBefore);
    const memory = stopMemory();
    return {
      recordsPerSecond: (records.length / elapsedMs) * 1000,
      elapsedMs,
      latencyMs: latencySummary(latencies),
      cpu: cpuFigures({ userUs: cpu.user, systemUs: cpu.system }, records.length, elapsedMs),
      memory,
    };
  },
  async 'producer:close'() {
    await producer?.close();
    producer = null;
    return { closed: true };
  },
  /** One read of `config.total` records in a fresh group (`config.group`). */
  async 'consumer:run'({ kind, config }) {
    const stopMemory = sampleMemory();
    const run = await CONSUMERS[kind].run({ ...config, log });
    const memory = stopMemory();
    return { ...run, cpu: cpuFigures(run.cpu, run.counted, run.elapsedMs), memory };
  },
  /** Soak: a createCandleConsumer whose onCandles writes to createInfluxSink, running until 'soak:stop'. */
  async 'soak:start'({ brokers, registryUrl, topic, group, sinkUrl, flushIntervalMs }) {
    const gc = watchGc();
    const sink = createInfluxSink({
      host: sinkUrl,
      token: 'soak',
      database: 'soak',
      ...(flushIntervalMs === undefined ? {} : { flushIntervalMs }),
    });
    let consumed = 0;
    const consumer = await createCandleConsumer({
      connection: { brokers },
      registry: connectSchemaRegistry({ url: registryUrl }),
      groupId: group,
      topics: { tickers: topic, trades: null },
      from: 'latest',
      intervals: ['1m'],
      onWarning: (warning) => log(`  soak consumer warning: ${warning.message}`),
      onCandles: async (updates, context) => {
        consumed += context.records;
        await sink.write(updates);
      },
    });
    soak = { consumer, sink, gc, consumed: () => consumed, cpu: process.cpuUsage() };
    return { started: true };
  },
  'soak:sample'() {
    const m = process.memoryUsage();
    const cpu = process.cpuUsage(soak.cpu);
    soak.cpu = process.cpuUsage();
    return {
      rssMiB: m.rss / 2 ** 20,
      heapUsedMiB: m.heapUsed / 2 ** 20,
      consumed: soak.consumed(),
      gc: soak.gc.take(),
      cpuUs: cpu.user + cpu.system,
      sink: soak.sink.stats().pointsWritten,
    };
  },
  async 'soak:stop'() {
    await soak.consumer.close();
    await soak.sink.close();
    soak.gc.stop();
    return { stopped: true, consumed: soak.consumed(), pointsWritten: soak.sink.stats().pointsWritten };
  },
  /**
   * The sink's own ceiling: `points` distinct candle points written through createInfluxSink (defaults: batches of
   * 1,000, gzip above 1,000 bytes) to `url`, a loopback server answering 204; `write()` calls of `chunk` updates,
   * `window` of them pending. A warm-up of `warmup` points first. CPU of this process (the sink alone) per point.
   */
  async 'sink:run'({ url, points, warmup, chunk, window }) {
    const sink = createInfluxSink({
      host: url,
      token: 'bench',
      database: 'bench',
      logger: { warn: (m) => log(`  sink warning: ${m}`), error: (m) => log(`  sink error: ${m}`) },
    });
    // One plain literal per update: the object spreads this used before took a sixth of the process's CPU in a
    // profile, charged to the sink. Building the input up front instead kept 200,000 updates alive and slowed GC.
    const update = (i) => ({
      kind: 'closed',
      candle: {
        symbol: SINK_SYMBOLS[i % 10],
        interval: '1m',
        source: 'ticker',
        start: 60_000 * i,
        end: 60_000 * (i + 1),
        open: 100 + (i % 7),
        high: 101 + (i % 7),
        low: 99 + (i % 7),
        close: 100.5 + (i % 7),
        volume: 0,
        count: 50,
      },
    });
    const run = async (from, count) => {
      const chunks = Math.ceil(count / chunk);
      let nextChunk = 0;
      const worker = async () => {
        while (nextChunk < chunks) {
          const first = from + nextChunk++ * chunk;
          const updates = [];
          for (let i = first; i < Math.min(from + count, first + chunk); i++) updates.push(update(i));
          await sink.write(updates);
        }
      };
      await Promise.all(Array.from({ length: window }, worker));
      await sink.flush();
    };
    await run(0, warmup);
    const stopMemory = sampleMemory();
    const cpuBefore = process.cpuUsage();
    const started = now();
    await run(warmup, points);
    const elapsedMs = now() - started;
    const cpu = process.cpuUsage(cpuBefore);
    const memory = stopMemory();
    const stats = sink.stats();
    await sink.close();
    const figures = cpuFigures({ userUs: cpu.user, systemUs: cpu.system }, points, elapsedMs);
    return {
      points,
      elapsedMs,
      pointsPerSecond: (points / elapsedMs) * 1000,
      pointsPerCoreSecond: points / (figures.totalUs / 1e6),
      cpu: figures,
      memory,
      pointsWritten: stats.pointsWritten,
      batchesWritten: stats.batchesWritten,
      failedPoints: stats.failedPoints,
    };
  },
};

if (process.argv[2] === '--child') {
  process.on('message', async ({ id, cmd, args }) => {
    try {
      process.send({ id, result: await commands[cmd](args) });
    } catch (error) {
      process.send({ id, error: String(error?.stack ?? error) });
    }
  });
  process.on('disconnect', () => process.exit(0));
}

// ---- parent side -----------------------------------------------------------------------------------------------

/** Starts a child process; `call(cmd, args)` resolves with its answer, `end()` disconnects it and waits for its exit. */
export function spawnChild(logParent) {
  const child = fork(SELF, ['--child'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], serialization: 'advanced' });
  const waiting = new Map();
  let next = 0;
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  child.on('message', (message) => {
    if (message.log !== undefined) return logParent(message.log);
    const pending = waiting.get(message.id);
    waiting.delete(message.id);
    if (message.error) pending?.reject(new Error(`bench child: ${message.error}`));
    else pending?.resolve(message.result);
  });
  void exited.then(({ code, signal }) => {
    for (const pending of waiting.values()) pending.reject(new Error(`bench child exited (${code ?? signal})`));
    waiting.clear();
  });
  return {
    pid: child.pid,
    call(cmd, args) {
      const id = next++;
      return new Promise((resolve, reject) => {
        waiting.set(id, { resolve, reject });
        child.send({ id, cmd, args });
      });
    },
    async end() {
      if (child.connected) child.disconnect();
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
