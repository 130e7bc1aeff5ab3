// Bench / cluster warm-up: drives the freshly started brokers (produce with acks=all, and consume) before anything is timed.
import { closeRawProducer, connectRawProducer } from './clients.mjs';
import { paceSends, startRawReader } from './latency.mjs';
import { latencySummary, now, waitUntil } from './measure.mjs';

const WINDOW_SECONDS = 15;

/**
 * Broker JVMs run their first minutes mostly interpreted: on this machine kind a fresh cluster delivered with a p50
 * of 100–200 ms for about four minutes where a warm one answers in 15–20 ms. The producer variants run first, so
 * without this the headline rows (kandle's defaults) met a colder cluster than the rest: in one run they said 2.73x
 * raw librdkafka, the next variant 0.91x. Sends `rate` records/s for `seconds` through a raw producer with kandle's
 * settings while a raw reader consumes them, and logs each window's delivery p50 / p99, so the log shows whether
 * the cluster had settled. Returns those windows.
 */
export async function warmCluster(stack, { seconds, rate, log }) {
  const topic = await stack.topic('cluster-warmup');
  const total = seconds * rate;
  const windows = [];
  let current = [];
  let windowStart = now();
  let delivered = 0;
  let received = 0;
  const producer = await connectRawProducer(stack.brokers, {}, 20);
  producer.on('delivery-report', (err, report) => {
    delivered++;
    if (!err) current.push(now() - report.opaque);
    if (now() - windowStart < WINDOW_SECONDS * 1000) return;
    const summary = latencySummary(current);
    windows.push(summary);
    log(
      `  cluster warm-up, ${windows.length * WINDOW_SECONDS} s: delivery p50 ${summary.p50.toFixed(1)} ms, p99 ${summary.p99.toFixed(1)} ms`,
    );
    current = [];
    windowStart = now();
  });
  const reader = await startRawReader(stack, topic, 'cluster-warmup', (messages) => {
    received += messages.length;
  });
  try {
    const value = Buffer.alloc(64);
    await paceSends(total, rate, (i) =>
      producer.produce(topic, null, value, Buffer.from(`k${i % 10}`), Date.now(), now()),
    );
    await waitUntil(
      'the warm-up records to be delivered and read',
      () => delivered >= total && received >= total,
      60_000,
    );
  } finally {
    await reader.stop();
    await closeRawProducer(producer);
  }
  return windows;
}
