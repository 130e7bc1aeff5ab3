// Bench consumer step: consume + decode + aggregate with createCandleConsumer vs a raw librdkafka KafkaConsumer and
// @platformatic/kafka + avsc, each in its own child process, so each one's CPU per record is its own.
import { spawnChild } from './child.mjs';
import { CONSUMER_BATCH, CONSUMERS } from './clients.mjs';
import { medianBy } from './measure.mjs';
import { balancedOrder } from './order.mjs';

/** Records read by each consumer's untimed warm-up pass (JIT, registry lookup, broker page cache). */
const WARMUP_RECORDS = 20_000;

/**
 * Rounds over the same records in balanced order (with two consumers: alternating who goes first), each read in a
 * fresh group; the median round by rate is shown, CPU/record is compared by median over rounds.
 */
export async function benchConsumers(stack, { topic, total, rounds, schemaId, names = Object.keys(CONSUMERS), log }) {
  const children = {};
  const runs = Object.fromEntries(names.map((n) => [n, []]));
  const warmupStalled = {};
  const orders = [];
  const config = (name, purpose, records) => ({
    brokers: stack.brokers,
    registryUrl: stack.registryUrl,
    topic,
    schemaId,
    total: records,
    group: stack.group(`consume-${name}-${purpose}`),
  });
  try {
    for (const name of names) {
      children[name] = spawnChild(log);
      const warm = await children[name].call('consumer:run', {
        kind: name,
        config: config(name, 'warmup', Math.min(total, WARMUP_RECORDS)),
      });
      warmupStalled[name] = warm.stalled;
      log(`  warmed up ${CONSUMERS[name].label} (child ${children[name].pid})`);
    }
    for (let round = 1; round <= rounds; round++) {
      const order = balancedOrder(names, round - 1);
      orders.push(order);
      for (const name of order) {
        const run = await children[name].call('consumer:run', { kind: name, config: config(name, 'run', total) });
        runs[name].push(run);
        log(
          `  round ${round} ${CONSUMERS[name].label}: ${Math.round(run.recordsPerSecond)} rec/s, ` +
            `${run.cpu.usPerRecord.toFixed(2)} µs CPU/rec, rss ${run.memory.rssMiB.toFixed(0)} MiB` +
            `${run.stalled ? ' (stalled)' : ''}`,
        );
      }
    }
  } finally {
    await Promise.all(Object.values(children).map((c) => c.end()));
  }
  return {
    topic,
    records: total,
    batch: CONSUMER_BATCH,
    orders,
    warmupStalled,
    stalledRounds: Object.fromEntries(names.map((n) => [n, runs[n].filter((r) => r.stalled).length])),
    ...Object.fromEntries(
      names.map((n) => [
        n,
        { client: CONSUMERS[n].label, ...medianBy(runs[n], (r) => r.recordsPerSecond), rounds: runs[n] },
      ]),
    ),
  };
}
