// Bench linger: delivery latency and client CPU per record of a raw librdkafka producer + consumer at a steady rate, per `linger.ms`.
// The measurement behind kandle's default `lingerMs` (docs/benchmarks.md, "Why kandle's default linger is 20 ms").
import { closeRawProducer, connectRawProducer } from './clients.mjs';
import { now, percentile, sleep, waitUntil } from './measure.mjs';
import { paceSends, startRawReader } from './latency.mjs';
import { openStack } from './stack.mjs';

const WARMUP_SECONDS = 2;

/** `KANDLE_LINGER_MS` (comma-separated, in the order run), `KANDLE_LINGER_RATE` records/s, `KANDLE_LINGER_SECONDS` each. */
const settings = {
  lingers: (process.env.KANDLE_LINGER_MS ?? '5,20,5,20').split(',').map(Number),
  rate: Number(process.env.KANDLE_LINGER_RATE ?? 1000),
  seconds: Number(process.env.KANDLE_LINGER_SECONDS ?? 10),
};

/**
 * One run on a fresh topic: record i is sent at its due time (i / rate), its value carries i; the clock stops at
 * its delivery report (acks=all) and when the consumer has it. CPU is this process's (producer and consumer).
 */
async function runOnce(stack, lingerMs, { rate, seconds }) {
  const topic = await stack.topic(`linger-${lingerMs}-${Date.now()}`);
  const total = rate * (seconds + WARMUP_SECONDS);
  const sentAt = new Float64Array(total);
  const ackedAt = new Float64Array(total);
  const consumedAt = new Float64Array(total);
  const producer = await connectRawProducer(stack.brokers, { 'linger.ms': lingerMs }, 5);
  producer.on('delivery-report', (_err, report) => {
    ackedAt[report.opaque] = now();
  });
  let received = 0;
  let reader;
  try {
    reader = await startRawReader(stack, topic, 'linger', (messages, t) => {
      for (const m of messages) consumedAt[m.value.readUInt32BE(0)] = t;
      received += messages.length;
    });
    await sleep(1_000);
    const cpuBefore = process.cpuUsage();
    await paceSends(total, rate, (i) => {
      const value = Buffer.alloc(64);
      value.writeUInt32BE(i, 0);
      sentAt[i] = now();
      producer.produce(topic, null, value, Buffer.from(`k${i % 10}`), Date.now(), i);
    });
    await waitUntil('every record to be consumed', () => received >= total, 60_000);
    const cpu = process.cpuUsage(cpuBefore);
    const from = rate * WARMUP_SECONDS;
    const acked = [];
    const consumed = [];
    for (let i = from; i < total; i++) {
      acked.push(ackedAt[i] - sentAt[i]);
      consumed.push(consumedAt[i] - sentAt[i]);
    }
    return {
      lingerMs,
      deliveryMs: { p50: percentile(acked, 50), p99: percentile(acked, 99) },
      consumedMs: { p50: percentile(consumed, 50), p99: percentile(consumed, 99) },
      cpuUsPerRecord: (cpu.user + cpu.system) / total,
    };
  } finally {
    await reader?.stop();
    await closeRawProducer(producer);
  }
}

async function main() {
  const log = (m) => process.stderr.write(`[linger] ${m}\n`);
  const stack = await openStack({ partitions: 6, log });
  // Measured on this machine: brokers in their first ~4 minutes (JIT) answered in 100–200 ms at p50 at any linger.
  if (stack.owned)
    log('the cluster was just started: its first minutes are slow; better run against `npm run stack:up`');
  try {
    log(`${settings.rate} records/s for ${settings.seconds} s (+${WARMUP_SECONDS} s warm-up) per run`);
    for (const lingerMs of settings.lingers) {
      const r = await runOnce(stack, lingerMs, settings);
      process.stdout.write(
        `linger.ms ${String(lingerMs).padStart(3)}: delivery p50 ${r.deliveryMs.p50.toFixed(1)} ms, ` +
          `p99 ${r.deliveryMs.p99.toFixed(1)} ms; consumed p50 ${r.consumedMs.p50.toFixed(1)} ms, ` +
          `p99 ${r.consumedMs.p99.toFixed(1)} ms; ${r.cpuUsPerRecord.toFixed(0)} µs CPU/record (producer + consumer)\n`,
      );
    }
  } finally {
    await stack.stop();
  }
}

main().then(
  () => process.exit(0),
  (error) => {
    process.stderr.write(`[linger] failed: ${error?.stack ?? error}\n`);
    process.exit(1);
  },
);
