// Bench producer step: rate, delivery latency (acks=all) and client CPU per record of createCryptoProducer vs raw
// librdkafka, KafkaJS and @platformatic/kafka, each client in its own child process (bench/child.mjs).
import { connectSchemaRegistry, tickerSchema, valueSubject } from '@kandle/core';
import { spawnChild } from './child.mjs';
import { PRODUCER_VARIANTS, PRODUCERS } from './clients.mjs';
import { medianBy } from './measure.mjs';
import { balancedOrder } from './order.mjs';

/** The clients of each settings variant (the equal one has only idempotent clients, so no plain KafkaJS). */
export const PRODUCER_CLIENTS = {
  'kandle-defaults': ['kandle', 'raw', 'kafkajs', 'kafkajsIdempotent', 'platformatic'],
  equal: ['kandle', 'raw', 'kafkajsIdempotent', 'platformatic'],
  'linger-5': ['kandle', 'raw', 'kafkajs', 'platformatic'],
};

const fmt = (run) =>
  `${Math.round(run.recordsPerSecond)} rec/s, ${run.cpu.usPerRecord.toFixed(2)} µs CPU/rec, ` +
  `p50 ${run.latencyMs.p50.toFixed(1)} ms, p99 ${run.latencyMs.p99.toFixed(1)} ms, rss ${run.memory.rssMiB.toFixed(0)} MiB`;

/**
 * One settings variant: every client in its own child process, warmed up (a quarter of the records, at least
 * 2,000, on a warm-up topic), then `rounds` rounds in balanced Latin-square order. Each client's figures are
 * kept per round; the round with its median rate is shown, CPU/record is compared by median over rounds.
 */
export async function benchProducers(
  stack,
  { variant = 'kandle-defaults', count, symbols, rounds, inFlight, kafkajsBatch, log },
) {
  const settings = PRODUCER_VARIANTS[variant];
  const names = PRODUCER_CLIENTS[variant];
  const registry = connectSchemaRegistry({ url: stack.registryUrl });
  const trades = await stack.topic(`produce-${variant}-trades`);
  const children = {};
  const topics = {};
  const results = Object.fromEntries(names.map((n) => [n, []]));
  const orders = [];
  try {
    for (const name of names) {
      topics[name] = await stack.topic(`produce-${variant}-${name}`);
      const warmupTopic = await stack.topic(`produce-${variant}-${name}-warmup`);
      const schemaId = await registry.register(valueSubject(topics[name]), tickerSchema);
      await registry.register(valueSubject(warmupTopic), tickerSchema);
      children[name] = spawnChild(log);
      await children[name].call('producer:init', {
        kind: name,
        config: {
          brokers: stack.brokers,
          registryUrl: stack.registryUrl,
          topic: topics[name],
          tradesTopic: trades,
          schemaId,
          batch: kafkajsBatch,
          inFlight,
          variant: settings,
        },
        warmupTopic,
        warmupRecords: Math.min(count, Math.max(2_000, Math.floor(count / 4))),
        count,
        rounds,
        symbols,
      });
      log(`  ${variant}: ${PRODUCERS[name].label} ready (child ${children[name].pid}, warmed up)`);
    }
    for (let round = 1; round <= rounds; round++) {
      const order = balancedOrder(names, round - 1);
      orders.push(order);
      for (const name of order) {
        const run = await children[name].call('producer:run', { inFlight, round: round - 1 });
        results[name].push(run);
        log(`  ${variant} round ${round} ${PRODUCERS[name].label}: ${fmt(run)}`);
      }
    }
    for (const name of names) await children[name].call('producer:close', {});
  } finally {
    await Promise.all(Object.values(children).map((c) => c.end()));
  }
  const pick = (name) => ({
    client: PRODUCERS[name].label,
    ...medianBy(results[name], (r) => r.recordsPerSecond),
    rounds: results[name],
  });
  return {
    variant,
    settings: { records: count, rounds, inFlight, kafkajsBatch, acks: 'all', ...settings, orders },
    ...Object.fromEntries(names.map((n) => [n, pick(n)])),
    kandleTopic: { topic: topics.kandle, records: count * rounds },
  };
}
