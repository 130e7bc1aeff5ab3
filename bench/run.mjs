// Bench entry point (`npm run bench`): runs every measurement on one cluster, prints the table and writes bench/results/*.json.
import { connectSchemaRegistry, tickerSchema, valueSubject } from '@kandle/core';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { benchAggregate } from './aggregate.mjs';
import { benchConsumers } from './consumer.mjs';
import { makeTickers } from './fixtures.mjs';
import { benchImport } from './import.mjs';
import { benchEndToEnd } from './latency.mjs';
import { benchProcessingModes, benchRestore } from './processing.mjs';
import { benchProducers } from './producer.mjs';
import { benchSerde } from './serde.mjs';
import { benchSink } from './sink.mjs';
import { settings } from './settings.mjs';
import { openStack } from './stack.mjs';
import { warmCluster } from './warmup.mjs';
import { buildRows, formatMarkdown, formatTable } from './table.mjs';

const resultsDir = join(dirname(fileURLToPath(import.meta.url)), 'results');
const log = (message) => process.stderr.write(`[bench] ${message}\n`);

function machine() {
  const cpus = os.cpus();
  return {
    cpus: cpus.length,
    cpuModel: cpus[0]?.model ?? 'unknown',
    totalMemoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    loadAverage: os.loadavg(),
    node: process.version,
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
  };
}

/** Producer settings variants (bench/clients.mjs) and the key of each one's results. */
const PRODUCER_RESULT_KEYS = [
  ['kandle-defaults', 'producer'],
  ['equal', 'producerEqual'],
  ['linger-5', 'producerLinger5'],
];

async function main() {
  const startedAt = new Date();
  const machineAtStart = machine();
  log(`settings ${JSON.stringify(settings)}`);
  const records = makeTickers(settings.records, { symbols: settings.symbols });
  const results = {};
  const loadAverages = { start: os.loadavg() };
  const step = async (name, run) => {
    const before = os.loadavg();
    const result = await run();
    loadAverages[name] = { before, after: os.loadavg() };
    return result;
  };

  // CPU-only measurements first, before any broker JVM exists.
  log('import time (before the cluster starts)');
  results.importTime = await step('importTime', () => benchImport({ log }));
  log('aggregation alone vs a naive OHLC fold (in memory, before the cluster starts)');
  results.aggregate = await step('aggregate', () => benchAggregate({ records, ticks: settings.aggregateTicks, log }));
  log('sink ceiling against a loopback server answering 204 (before the cluster starts)');
  results.sink = await step('sink', () => benchSink({ points: settings.sinkPoints, rounds: settings.rounds, log }));
  const stack = await openStack({
    partitions: settings.partitions,
    log,
    beforeCluster: async (registryUrl) => {
      log('Avro encode / decode per core (registry up, no broker yet)');
      results.serde = await step('serde', () =>
        benchSerde(
          { registryUrl },
          { topic: `kandle-bench-serde-${startedAt.getTime()}`, records, serdeMs: settings.serdeMs, log },
        ),
      );
    },
  });
  const stopStack = () => {
    log('interrupted: stopping the stack');
    stack.stop().finally(() => process.exit(130));
  };
  process.once('SIGINT', stopStack);
  process.once('SIGTERM', stopStack);
  try {
    log(`cluster warm-up: ${settings.clusterWarmupRate} rec/s for ${settings.clusterWarmupSeconds} s (nothing timed)`);
    results.clusterWarmup = await step('clusterWarmup', () =>
      warmCluster(stack, { seconds: settings.clusterWarmupSeconds, rate: settings.clusterWarmupRate, log }),
    );
    for (const [variant, key] of PRODUCER_RESULT_KEYS) {
      log(`producers (${variant}): ${settings.records} records × ${settings.rounds} rounds, acks=all, one child each`);
      results[key] = await step(`producer-${variant}`, () =>
        benchProducers(stack, {
          variant,
          count: settings.records,
          symbols: settings.symbols,
          rounds: settings.rounds,
          inFlight: settings.inFlight,
          kafkajsBatch: settings.kafkajsBatch,
          log,
        }),
      );
    }
    const topic = results.producer.kandleTopic.topic;
    const schemaId = await connectSchemaRegistry({ url: stack.registryUrl }).register(
      valueSubject(topic),
      tickerSchema,
    );
    log(`consumers: ${results.producer.kandleTopic.records} records × ${settings.rounds} rounds, one child each`);
    results.consumer = await step('consumer', () =>
      benchConsumers(stack, {
        topic,
        total: results.producer.kandleTopic.records,
        rounds: settings.rounds,
        schemaId,
        log,
      }),
    );
    log(
      `exactly-once vs at-least-once with a candles topic: ${results.producer.kandleTopic.records} records × ${settings.rounds} rounds`,
    );
    results.processing = await step('processing', () =>
      benchProcessingModes(stack, { topic, total: results.producer.kandleTopic.records, rounds: settings.rounds, log }),
    );
    log('restore of 10,000 open candles from the changelog');
    results.restore = await step('restore', () => benchRestore(stack, { openCandles: 10_000, log }));
    log(`end to end at ${settings.e2eRate} rec/s for ${settings.e2eSeconds} s × ${settings.rounds} rounds`);
    results.endToEnd = await step('endToEnd', () =>
      benchEndToEnd(stack, {
        rate: settings.e2eRate,
        seconds: settings.e2eSeconds,
        symbols: settings.symbols,
        rounds: settings.rounds,
        log,
      }),
    );
  } finally {
    process.removeListener('SIGINT', stopStack);
    process.removeListener('SIGTERM', stopStack);
    await stack.stop();
  }

  const rows = buildRows(results);
  const report = {
    date: startedAt.toISOString(),
    durationSeconds: Math.round((Date.now() - startedAt.getTime()) / 1000),
    machine: { ...machineAtStart, loadAverageAtEnd: os.loadavg(), loadAverages },
    stack: stack.owned ? 'own 3-broker cluster + registry started by the bench' : 'external (KAFKA_BROKERS)',
    settings,
    results,
    rows,
    markdown: formatMarkdown(rows),
  };
  mkdirSync(resultsDir, { recursive: true });
  const file = join(resultsDir, `bench-${startedAt.toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
  process.stdout.write(`\n${formatTable(rows)}\n\nresults: ${file} (${report.durationSeconds} s)\n`);
}

main().then(
  () => process.exit(0),
  (error) => {
    process.stderr.write(`[bench] failed: ${error?.stack ?? error}\n`);
    process.exit(1);
  },
);
