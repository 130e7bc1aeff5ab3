// Bench processing modes: createCandleConsumer with a candles topic, at-least-once vs exactly-once, and the restore of 10,000 open candles.
import { createCandleConsumer, createCryptoProducer } from '@kandle/core';
import { medianBy, now, waitUntil } from './measure.mjs';
import { retryWhileTopicUnknown } from './stack.mjs';

/** A consumer run with the candles topic on: records/s and client CPU per record (this process, brokers excluded). */
async function modeRun(stack, { topic, total, processing, log }) {
  let seen = 0;
  let firstAt = 0;
  let lastAt = 0;
  let firstRecords = 0;
  let cpuAtFirst;
  const groupId = stack.group(`processing-${processing}`);
  const consumer = await createCandleConsumer({
    connection: { brokers: stack.brokers },
    registry: { url: stack.registryUrl },
    groupId,
    topics: { tickers: topic, trades: null },
    intervals: ['1m'],
    // Created by the consumer itself (compacted), as a user's would be.
    output: { topic: `kandle-bench-${stack.runId}-candles-${processing}` },
    processing,
    onWarning: (w) => log(`  ${processing} warning: ${w.message}`),
    onCandles: (_updates, context) => {
      const t = now();
      if (seen === 0) {
        firstAt = t;
        firstRecords = context.records;
        cpuAtFirst = process.cpuUsage();
      }
      seen += context.records;
      lastAt = t;
    },
  });
  try {
    await waitUntil(`${processing} consumer to read ${total} records`, () => seen >= total, 180_000);
  } finally {
    await consumer.close();
  }
  const cpu = process.cpuUsage(cpuAtFirst);
  const counted = seen - firstRecords;
  return {
    recordsPerSecond: (counted / (lastAt - firstAt)) * 1000,
    cpuMicrosPerRecord: (cpu.user + cpu.system) / counted,
    commits: consumer.stats().commits,
  };
}

/**
 * Same records, same settings, output topic on in both; the order alternates per round. Target: exactly-once
 * throughput ≥ 0.6× at-least-once.
 */
export async function benchProcessingModes(stack, { topic, total, rounds, log }) {
  const runs = { 'at-least-once': [], 'exactly-once': [] };
  for (let round = 1; round <= rounds; round++) {
    const order = round % 2 ? ['at-least-once', 'exactly-once'] : ['exactly-once', 'at-least-once'];
    for (const processing of order) {
      const run = await modeRun(stack, { topic, total, processing, log });
      runs[processing].push(run);
      log(
        `  round ${round} ${processing}: ${Math.round(run.recordsPerSecond)} rec/s, ` +
          `${run.cpuMicrosPerRecord.toFixed(1)} µs CPU/record, ${run.commits} commits`,
      );
    }
  }
  const median = (list) => medianBy(list, (r) => r.recordsPerSecond);
  return {
    records: total,
    atLeastOnce: { ...median(runs['at-least-once']), rounds: runs['at-least-once'] },
    exactlyOnce: { ...median(runs['exactly-once']), rounds: runs['exactly-once'] },
  };
}

/**
 * A group member checkpoints `openCandles` open candles (symbols × 4 intervals, one trade each), closes; a new
 * member of the same group restores them from the changelog. Reported: the time from createCandleConsumer until
 * every open candle is back, against the same start in a fresh group with nothing to restore.
 */
export async function benchRestore(stack, { openCandles = 10_000, log }) {
  const intervals = ['1m', '5m', '15m', '1h'];
  const symbols = Array.from({ length: Math.ceil(openCandles / intervals.length) }, (_, i) => `tR${i}USD`);
  const topics = { tickers: await stack.topic('restore-tickers'), trades: await stack.topic('restore-trades') };
  const producer = await retryWhileTopicUnknown(() =>
    createCryptoProducer({ connection: { brokers: stack.brokers }, registry: { url: stack.registryUrl }, topics }),
  );
  // One trade per symbol at the start of an hour: every interval's bucket stays open (no later record closes it).
  const time = Math.floor(Date.now() / 3_600_000) * 3_600_000;
  for (const [i, symbol] of symbols.entries()) void producer.sendTrade({ id: i, symbol, time, amount: 1, price: 100 });
  await producer.flush();
  await producer.close();
  const groupId = stack.group('restore');
  const start = async (group) => {
    const startedAt = now();
    const consumer = await createCandleConsumer({
      connection: { brokers: stack.brokers },
      registry: { url: stack.registryUrl },
      groupId: group,
      topics,
      intervals,
      onCandles: () => undefined,
      onWarning: (w) => log(`  restore warning: ${w.message}`),
    });
    return { consumer, startedAt };
  };
  const first = await start(groupId);
  await waitUntil(`${symbols.length * 4} open candles`, () => first.consumer.candles().length >= openCandles, 180_000);
  await first.consumer.close();
  const restored = await start(groupId);
  await waitUntil('the open candles restored', () => restored.consumer.candles().length >= openCandles, 180_000);
  const restoreMs = now() - restored.startedAt;
  await restored.consumer.close();
  // The same start with nothing to restore: a fresh group that reads the input from the beginning.
  const fresh = await start(stack.group('restore-fresh'));
  await waitUntil('the fresh group to own partitions', () => fresh.consumer.positions().length > 0, 180_000);
  const freshStartMs = now() - fresh.startedAt;
  await fresh.consumer.close();
  log(
    `  restored ${openCandles} open candles in ${Math.round(restoreMs)} ms (fresh start ${Math.round(freshStartMs)} ms)`,
  );
  return { openCandles, restoreMs, freshStartMs };
}
