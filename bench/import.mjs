// Bench start-up step: wall time of `import '@kandle/core'` against `import 'kafkajs'`, each in a fresh Node process.
import { spawnSync } from 'node:child_process';
import { percentile } from './measure.mjs';

const PROBE = (specifier) =>
  `const t = process.hrtime.bigint(); await import(${JSON.stringify(specifier)}); ` +
  'process.stdout.write(String(Number(process.hrtime.bigint() - t) / 1e6));';

function importMs(specifier) {
  const run = spawnSync(process.execPath, ['--input-type=module', '-e', PROBE(specifier)], { encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`bench: importing ${specifier} failed: ${run.stderr}`);
  return Number(run.stdout);
}

/**
 * Median import time of each module over `runs` fresh processes, taking turns (kandle, kafkajs, kafkajs, kandle, …)
 * so a slow stretch of a shared machine falls on both. Run before the cluster starts: it measures CPU, not brokers.
 */
export function benchImport({ runs = 7, log = () => {} } = {}) {
  const samples = { kandle: [], kafkajs: [] };
  for (let i = 0; i < runs; i++) {
    const order = i % 2 === 0 ? ['kandle', 'kafkajs'] : ['kafkajs', 'kandle'];
    for (const name of order) samples[name].push(importMs(name === 'kandle' ? '@kandle/core' : 'kafkajs'));
  }
  const result = {
    runs,
    kandleMs: percentile(samples.kandle, 50),
    kafkajsMs: percentile(samples.kafkajs, 50),
    samples,
  };
  log(`import: @kandle/core ${result.kandleMs.toFixed(0)} ms, kafkajs ${result.kafkajsMs.toFixed(0)} ms (medians)`);
  return result;
}
