// Bench summary: turns one run's bench/results/bench-<date>.json into a committed summary (bench/summaries/, tracked)
// and prints the Markdown results section of docs/benchmarks.md: machine, load, the table and every round's raw figures.
// Usage: node bench/summarize.mjs bench/results/bench-<date>.json
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatMarkdown } from './table.mjs';

const f1 = (n) => (Number.isFinite(n) ? n.toFixed(1) : '–');
const f2 = (n) => (Number.isFinite(n) ? n.toFixed(2) : '–');
const int = (n) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '–');
const load = (l) => l.map((x) => x.toFixed(1)).join(' / ');

/** Per-round raw figures of one producer variant or of the consumers, one line per client and round. */
export function roundLines(step, names) {
  const lines = [
    '| client | round | rec/s | CPU µs/record | CPU share of a core | p50 / p99 ms | RSS / heap MiB |',
    '|---|---:|---:|---:|---:|---|---|',
  ];
  for (const name of names) {
    const client = step[name];
    if (!client) continue;
    client.rounds.forEach((r, i) => {
      const latency = r.latencyMs ? `${f1(r.latencyMs.p50)} / ${f1(r.latencyMs.p99)}` : '–';
      lines.push(
        `| ${client.client} | ${i + 1} | ${int(r.recordsPerSecond)} | ${f2(r.cpu.usPerRecord)} | ${f2(r.cpu.coreShare)} | ` +
          `${latency} | ${f1(r.memory.rssMiB)} / ${f1(r.memory.heapUsedMiB)} |`,
      );
    });
  }
  return lines.join('\n');
}

/** The Markdown results section for one report. */
export function resultsMarkdown(report, summaryPath) {
  const m = report.machine;
  const r = report.results;
  const parts = [
    `Run of ${report.date} (${report.durationSeconds} s), summary committed as \`${summaryPath}\`. ` +
      `${m.cpus} cores (${m.cpuModel}), ${m.totalMemoryGiB} GiB, Node ${m.node}, stack: ${report.stack}. ` +
      `Load average (1 / 5 / 15 min) ${load(m.loadAverage)} at the start and ${load(m.loadAverageAtEnd)} at the end.`,
    '',
    formatMarkdown(report.rows),
    '',
  ];
  if (m.loadAverages) {
    parts.push('Load average (1 min) before / after each step:', '');
    parts.push('| step | before | after |', '|---|---:|---:|');
    for (const [step, l] of Object.entries(m.loadAverages))
      if (l.before) parts.push(`| ${step} | ${l.before[0].toFixed(1)} | ${l.after[0].toFixed(1)} |`);
    parts.push('');
  }
  for (const [key, title] of [
    ['producer', 'Producer rounds, kandle defaults (lz4, idempotent; KafkaJS uncompressed)'],
    ['producerEqual', 'Producer rounds, equal settings (no compression, idempotent, acks=all for every client)'],
    ['producerLinger5', 'Producer rounds, kandle defaults with linger.ms 5 for kandle and raw (KafkaJS uncompressed)'],
  ]) {
    if (!r[key]) continue;
    parts.push(`${title}; order of each round: ${r[key].settings.orders.map((o) => o.join(' → ')).join('; ')}.`, '');
    parts.push(roundLines(r[key], ['kandle', 'raw', 'kafkajs', 'kafkajsIdempotent', 'platformatic']), '');
  }
  if (r.consumer) {
    parts.push(`Consumer rounds; order: ${r.consumer.orders.map((o) => o.join(' → ')).join('; ')}.`, '');
    parts.push(roundLines(r.consumer, ['kandle', 'raw', 'platformatic']), '');
  }
  if (r.aggregate) {
    const a = r.aggregate;
    parts.push(
      `Aggregation slices (ticks/s): aggregator ${a.withProgress.slices.map(int).join(', ')}; naive fold ${a.naive?.slices.map(int).join(', ')}.`,
      '',
    );
  }
  if (r.sink) {
    parts.push(
      `Sink rounds (points/s per core of sink CPU): ${r.sink.rounds.map((x) => int(x.pointsPerCoreSecond)).join(', ')}; ` +
        `CPU µs/point ${r.sink.rounds.map((x) => f2(x.cpu.usPerRecord)).join(', ')}.`,
      '',
    );
  }
  return parts.join('\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const input = process.argv[2];
  if (!input) throw new Error('usage: node bench/summarize.mjs bench/results/bench-<date>.json');
  const report = JSON.parse(readFileSync(input, 'utf8'));
  const dir = join(dirname(fileURLToPath(import.meta.url)), 'summaries');
  mkdirSync(dir, { recursive: true });
  const name = `summary-${basename(input).replace(/^bench-/, '')}`;
  writeFileSync(join(dir, name), `${JSON.stringify(report, null, 2)}\n`);
  process.stdout.write(`${resultsMarkdown(report, `bench/summaries/${name}`)}\n`);
}
