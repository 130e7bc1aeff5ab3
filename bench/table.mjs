// Bench report: turns the measurements into rows with ratios against same-run peers and met/not met per target.

const int = (n) => Math.round(n).toLocaleString('en-US');
const ms = (n) => `${n.toFixed(1)} ms`;
const ratio = (n) => `${n.toFixed(2)}x`;

/** One row: what, kandle's number, the peer's, their ratio, the target and whether it is met (null: no target). */
function row(metric, kandle, peer, ratioValue, target, met) {
  return { metric, kandle, peer, ratio: ratioValue, target, met };
}

/** Median of numbers (the mean of the middle two for an even count); NaN when empty. */
export function median(values) {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/**
 * Client CPU per record of kandle against a peer, from the runs of one bench run: each side's median µs/record over
 * its rounds, their ratio (the figure targets are judged on), and the ratio of each round's pair for the record.
 */
export function cpuComparison(kandleRuns, peerRuns) {
  const kandle = median(kandleRuns.map((r) => r.cpu.usPerRecord));
  const peer = median(peerRuns.map((r) => r.cpu.usPerRecord));
  const perRound = kandleRuns.slice(0, peerRuns.length).map((r, i) => r.cpu.usPerRecord / peerRuns[i].cpu.usPerRecord);
  return { kandle, peer, ratio: kandle / peer, perRound };
}

/** Met when `value` is at most `limit` (`'≤'`) or at least it (`'≥'`); a missing value (NaN) is not met. */
export function meets(value, op, limit) {
  if (!Number.isFinite(value)) return false;
  return op === '≤' ? value <= limit : value >= limit;
}

const us = (n) => `${n.toFixed(2)} µs`;
const mib = (m) => `${m.rssMiB.toFixed(0)} / ${m.heapUsedMiB.toFixed(0)} MiB`;
const medianMemory = (runs) => ({
  rssMiB: median(runs.map((r) => r.memory.rssMiB)),
  heapUsedMiB: median(runs.map((r) => r.memory.heapUsedMiB)),
});

/** One CPU/record row: kandle's rounds against a peer's, with the target when `op` is given. */
function cpuComparisonRow(rows, title, kandleRounds, peerRounds, op, limit) {
  const c = cpuComparison(kandleRounds, peerRounds);
  rows.push(
    row(title, us(c.kandle), us(c.peer), c.ratio, op ? `${op} ${limit}x` : '', op ? meets(c.ratio, op, limit) : null),
  );
}

/** CPU/record, rate, latency and memory rows of one producer settings variant. */
function producerRows(rows, p, tag) {
  const kafkajs = p.kafkajs ?? p.kafkajsIdempotent;
  const kafkajsLabel = p.kafkajs ? 'KafkaJS' : 'KafkaJS idempotent';
  const cpuRow = (label, peer, op, limit) =>
    cpuComparisonRow(rows, `producer CPU/record vs ${label} ${tag}`, p.kandle.rounds, peer.rounds, op, limit);
  cpuRow('raw librdkafka (pre-encoded)', p.raw, '≤', 1.2);
  cpuRow(kafkajsLabel, kafkajs, '≤', 0.6);
  // What the KafkaJS target asks of the native binding itself: raw librdkafka sends pre-encoded bytes, no kandle code.
  cpuComparisonRow(
    rows,
    `producer CPU/record, raw librdkafka (not kandle) vs ${kafkajsLabel} (info: the binding's own cost) ${tag}`,
    p.raw.rounds,
    kafkajs.rounds,
  );
  if (p.kafkajs && p.kafkajsIdempotent) cpuRow('KafkaJS idempotent (info)', p.kafkajsIdempotent);
  if (p.platformatic) cpuRow('@platformatic/kafka + avsc (info)', p.platformatic);
  const rateRow = (label, peer, op, limit) => {
    const r = p.kandle.recordsPerSecond / peer.recordsPerSecond;
    rows.push(
      row(
        `producer rec/s vs ${label} ${tag}`,
        int(p.kandle.recordsPerSecond),
        int(peer.recordsPerSecond),
        r,
        op ? `${op} ${limit}x` : '',
        op ? meets(r, op, limit) : null,
      ),
    );
  };
  rateRow('raw librdkafka', p.raw, '≥', 0.8);
  rateRow(kafkajsLabel, kafkajs, '≥', 2);
  if (p.kafkajs && p.kafkajsIdempotent) rateRow('KafkaJS idempotent (info)', p.kafkajsIdempotent);
  if (p.platformatic) rateRow('@platformatic/kafka (info)', p.platformatic);
  for (const [label, peer] of [
    ['raw librdkafka', p.raw],
    [kafkajsLabel, kafkajs],
    ['@platformatic/kafka', p.platformatic],
  ]) {
    if (!peer) continue;
    rows.push(
      row(
        `producer delivery p50 / p99 (peer: ${label}) ${tag}`,
        `${ms(p.kandle.latencyMs.p50)} / ${ms(p.kandle.latencyMs.p99)}`,
        `${ms(peer.latencyMs.p50)} / ${ms(peer.latencyMs.p99)}`,
        p.kandle.latencyMs.p99 / peer.latencyMs.p99,
        '',
        null,
      ),
    );
    const km = medianMemory(p.kandle.rounds);
    const pm = medianMemory(peer.rounds);
    rows.push(
      row(`producer RSS / heap, steady (peer: ${label}) ${tag}`, mib(km), mib(pm), km.rssMiB / pm.rssMiB, '', null),
    );
  }
}

/** Import time of @kandle/core against kafkajs. */
function importRows(rows, i) {
  if (!i) return;
  const vsKafkajs = i.kandleMs / i.kafkajsMs;
  rows.push(
    row(
      "import '@kandle/core' vs import 'kafkajs' (median)",
      ms(i.kandleMs),
      ms(i.kafkajsMs),
      vsKafkajs,
      '≤ 300 ms and ≤ 3x',
      i.kandleMs <= 300 && vsKafkajs <= 3,
    ),
  );
}

/** Consumer CPU/record, rate and memory against raw consume and @platformatic/kafka. */
function consumerRows(rows, c) {
  if (!c) return;
  const stalls =
    Object.values(c.stalledRounds).reduce((a, b) => a + b, 0) + Object.values(c.warmupStalled).filter(Boolean).length;
  const note = stalls ? ` (${stalls} stalled runs, see JSON)` : '';
  const cpuRow = (label, peer, op, limit) =>
    cpuComparisonRow(
      rows,
      `consume+decode+aggregate CPU/record vs ${label}${note}`,
      c.kandle.rounds,
      peer.rounds,
      op,
      limit,
    );
  cpuRow('raw consume', c.raw, '≤', 1.3);
  if (c.platformatic) cpuRow('@platformatic/kafka + avsc decode (info)', c.platformatic);
  const r = c.kandle.recordsPerSecond / c.raw.recordsPerSecond;
  rows.push(
    row(
      `consume+decode+aggregate rec/s vs raw consume${note}`,
      int(c.kandle.recordsPerSecond),
      int(c.raw.recordsPerSecond),
      r,
      '≥ 0.7x',
      meets(r, '≥', 0.7),
    ),
  );
  if (c.platformatic)
    rows.push(
      row(
        'consume+decode+aggregate rec/s vs @platformatic/kafka + avsc decode (info)',
        int(c.kandle.recordsPerSecond),
        int(c.platformatic.recordsPerSecond),
        c.kandle.recordsPerSecond / c.platformatic.recordsPerSecond,
        '',
        null,
      ),
    );
  for (const [label, peer] of [
    ['raw consume', c.raw],
    ['@platformatic/kafka', c.platformatic],
  ]) {
    if (!peer) continue;
    const km = medianMemory(c.kandle.rounds);
    const pm = medianMemory(peer.rounds);
    rows.push(row(`consumer RSS / heap, steady (peer: ${label})`, mib(km), mib(pm), km.rssMiB / pm.rssMiB, '', null));
  }
}

/** Avro encode/decode per core against the registry libraries. */
function serdeRows(rows, s) {
  if (!s) return;
  const serdeRow = (direction, peer, label, minRatio) => {
    const kandle = s[direction].kandle.best;
    const other = s[direction][peer].best;
    const ratio = kandle / other;
    rows.push(
      row(
        `Avro ${direction} ops/s/core (best slice) vs ${label}`,
        int(kandle),
        int(other),
        ratio,
        minRatio ? `≥ ${minRatio}x` : '',
        minRatio ? ratio >= minRatio : null,
      ),
    );
  };
  serdeRow('encode', 'avroSerializer', 'AvroSerializer', 10);
  serdeRow('decode', 'avroDeserializer', 'AvroDeserializer', 10);
  serdeRow('encode', 'kafkajsRegistry', '@kafkajs registry');
  serdeRow('decode', 'kafkajsRegistry', '@kafkajs registry');
}

/** The aggregator against the naive fold, and alone. */
function aggregateRows(rows, a) {
  if (!a) return;
  if (a.naive) {
    rows.push(
      row(
        'aggregation ticks per CPU-second (consumer settings) vs naive 1m OHLC fold, median of same-slice ratios',
        int(a.withProgress.medianTicksPerSecond),
        int(a.naive.medianTicksPerSecond),
        a.vsNaive.medianRatio,
        '≥ 0.5x',
        meets(a.vsNaive.medianRatio, '≥', 0.5),
      ),
    );
  }
  rows.push(
    row(
      'aggregation alone ticks per CPU-second, best slice (consumer settings)',
      int(a.withProgress.ticksPerSecond),
      '',
      null,
      '≥ 10,000,000',
      a.withProgress.ticksPerSecond >= 10_000_000,
    ),
    row(
      'aggregation alone ticks per CPU-second, best slice (emitProgress false)',
      int(a.closedOnly.ticksPerSecond),
      '',
      null,
      '',
      null,
    ),
  );
}

/** The sink's ceiling against a loopback server. */
function sinkRows(rows, k) {
  if (!k) return;
  rows.push(
    row(
      'sink points/s per core of sink CPU (loopback 204 server, median round)',
      int(k.median.pointsPerCoreSecond),
      '',
      null,
      '≥ 200,000',
      meets(k.median.pointsPerCoreSecond, '≥', 200_000),
    ),
  );
}

/** Tick → candle latency and the CPU of the end-to-end run. */
function endToEndRows(rows, e) {
  if (!e) return;
  rows.push(
    row(
      `tick → candle p50 / p99 at ${int(e.rate)} rec/s (peer: raw produce → consume)`,
      `${ms(e.latencyMs.p50)} / ${ms(e.latencyMs.p99)}`,
      `${ms(e.rawLatencyMs.p50)} / ${ms(e.rawLatencyMs.p99)}`,
      e.latencyMs.p99 / e.rawLatencyMs.p99,
      'p99 < 20 ms',
      e.latencyMs.p99 < 20,
    ),
  );
  if (e.latencyMs.cpuUsPerRecord !== undefined) {
    const kc = median(e.rounds.kandle.map((r) => r.cpuUsPerRecord));
    const rc = median(e.rounds.raw.map((r) => r.cpuUsPerRecord));
    rows.push(
      row(
        `end to end CPU/record at ${int(e.rate)} rec/s, produce + consume in one process (info)`,
        us(kc),
        us(rc),
        kc / rc,
        '',
        null,
      ),
    );
  }
}

/** Builds the table rows from the results of one run; targets never fail the run, they are only reported. */
export function buildRows(results) {
  const rows = [];
  importRows(rows, results.importTime);
  if (results.producer) producerRows(rows, results.producer, '[kandle defaults]');
  if (results.producerEqual) producerRows(rows, results.producerEqual, '[equal: no compression, idempotent]');
  if (results.producerLinger5) producerRows(rows, results.producerLinger5, '[linger 5 ms: kandle and raw]');
  consumerRows(rows, results.consumer);
  serdeRows(rows, results.serde);
  aggregateRows(rows, results.aggregate);
  sinkRows(rows, results.sink);
  endToEndRows(rows, results.endToEnd);
  processingRows(rows, results.processing, results.restore);
  return rows;
}

/** Exactly-once vs at-least-once consumption (candles topic on in both), and the restore of open candles. */
function processingRows(rows, p, r) {
  if (p) {
    const eos = median(p.exactlyOnce.rounds.map((x) => x.recordsPerSecond));
    const alo = median(p.atLeastOnce.rounds.map((x) => x.recordsPerSecond));
    rows.push(
      row(
        'consume → candles topic rec/s, exactly-once (peer: at-least-once)',
        int(eos),
        int(alo),
        eos / alo,
        '≥ 0.6x',
        meets(eos / alo, '≥', 0.6),
      ),
    );
    const eosCpu = median(p.exactlyOnce.rounds.map((x) => x.cpuMicrosPerRecord));
    const aloCpu = median(p.atLeastOnce.rounds.map((x) => x.cpuMicrosPerRecord));
    rows.push(
      row(
        'consume → candles topic CPU/record, exactly-once (peer: at-least-once)',
        us(eosCpu),
        us(aloCpu),
        eosCpu / aloCpu,
        '',
        null,
      ),
    );
  }
  if (r)
    rows.push(
      row(
        `restore ${int(r.openCandles)} open candles from the changelog (peer: a fresh group's start)`,
        ms(r.restoreMs),
        ms(r.freshStartMs),
        r.restoreMs / r.freshStartMs,
        '',
        null,
      ),
    );
}

/** The rows as a fixed-width text table. */
export function formatTable(rows) {
  const header = ['metric', 'kandle', 'peer', 'ratio', 'target', 'result'];
  const cells = rows.map((r) => [
    r.metric,
    r.kandle,
    r.peer,
    r.ratio === null ? '' : ratio(r.ratio),
    r.target,
    r.met === null ? '' : r.met ? 'met' : 'NOT MET',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const line = (c) => c.map((v, i) => (i === 0 ? v.padEnd(widths[i]) : v.padStart(widths[i]))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.map(line)].join('\n');
}

/** The rows as a Markdown table (for docs/benchmarks.md). */
export function formatMarkdown(rows) {
  const lines = ['| metric | kandle | peer | ratio | target | result |', '|---|---:|---:|---:|---|---|'];
  for (const r of rows) {
    const result = r.met === null ? '' : r.met ? 'met' : '**not met**';
    lines.push(
      `| ${r.metric} | ${r.kandle} | ${r.peer} | ${r.ratio === null ? '' : ratio(r.ratio)} | ${r.target} | ${result} |`,
    );
  }
  return lines.join('\n');
}
