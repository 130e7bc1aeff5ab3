// Bench report: turns the measurements into rows with ratios against same-run peers and met/not met per target.

const int = (n) => Math.round(n).toLocaleString('en-US');
const ms = (n) => `${n.toFixed(1)} ms`;
const ratio = (n) => `${n.toFixed(2)}x`;

/** One row: what, kandle's number, the peer's, their ratio, the target and whether it is met (null: no target). */
function row(metric, kandle, peer, ratioValue, target, met) {
  return { metric, kandle, peer, ratio: ratioValue, target, met };
}

/** Builds the table rows from the results of one run; targets never fail the run, they are only reported. */
export function buildRows(results) {
  const rows = [];
  const i = results.importTime;
  if (i) {
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
  const p = results.producer;
  if (p) {
    const vsRaw = p.kandle.recordsPerSecond / p.raw.recordsPerSecond;
    const vsKafkajs = p.kandle.recordsPerSecond / p.kafkajs.recordsPerSecond;
    rows.push(
      row(
        'producer rec/s vs raw librdkafka',
        int(p.kandle.recordsPerSecond),
        int(p.raw.recordsPerSecond),
        vsRaw,
        '≥ 0.8x',
        vsRaw >= 0.8,
      ),
      row(
        'producer rec/s vs KafkaJS',
        int(p.kandle.recordsPerSecond),
        int(p.kafkajs.recordsPerSecond),
        vsKafkajs,
        '≥ 2x',
        vsKafkajs >= 2,
      ),
    );
    // For information: KafkaJS paying for idempotence as kandle does (compression still spared).
    if (p.kafkajsIdempotent) {
      rows.push(
        row(
          'producer rec/s vs KafkaJS idempotent (info)',
          int(p.kandle.recordsPerSecond),
          int(p.kafkajsIdempotent.recordsPerSecond),
          p.kandle.recordsPerSecond / p.kafkajsIdempotent.recordsPerSecond,
          '',
          null,
        ),
      );
    }
    for (const [label, peer] of [
      ['raw librdkafka', p.raw],
      ['KafkaJS', p.kafkajs],
    ]) {
      rows.push(
        row(
          `producer delivery p50 / p99 (peer: ${label})`,
          `${ms(p.kandle.latencyMs.p50)} / ${ms(p.kandle.latencyMs.p99)}`,
          `${ms(peer.latencyMs.p50)} / ${ms(peer.latencyMs.p99)}`,
          p.kandle.latencyMs.p99 / peer.latencyMs.p99,
          '',
          null,
        ),
      );
    }
  }
  const s = results.serde;
  if (s) {
    const enc = s.encode.kandle.best / s.encode.avroSerializer.best;
    const dec = s.decode.kandle.best / s.decode.avroDeserializer.best;
    rows.push(
      row(
        'Avro encode ops/s/core (best slice) vs AvroSerializer',
        int(s.encode.kandle.best),
        int(s.encode.avroSerializer.best),
        enc,
        '≥ 10x',
        enc >= 10,
      ),
      row(
        'Avro decode ops/s/core (best slice) vs AvroDeserializer',
        int(s.decode.kandle.best),
        int(s.decode.avroDeserializer.best),
        dec,
        '≥ 10x',
        dec >= 10,
      ),
      row(
        'Avro encode ops/s/core (best slice) vs @kafkajs registry',
        int(s.encode.kandle.best),
        int(s.encode.kafkajsRegistry.best),
        s.encode.kandle.best / s.encode.kafkajsRegistry.best,
        '',
        null,
      ),
      row(
        'Avro decode ops/s/core (best slice) vs @kafkajs registry',
        int(s.decode.kandle.best),
        int(s.decode.kafkajsRegistry.best),
        s.decode.kandle.best / s.decode.kafkajsRegistry.best,
        '',
        null,
      ),
    );
  }
  const c = results.consumer;
  if (c) {
    const r = c.kandle.recordsPerSecond / c.raw.recordsPerSecond;
    const stalls = c.stalledRounds.kandle + c.stalledRounds.raw + c.warmupStalled.kandle + c.warmupStalled.raw;
    rows.push(
      row(
        `consume+decode+aggregate rec/s vs raw consume${stalls ? ` (${stalls} stalled runs, see JSON)` : ''}`,
        int(c.kandle.recordsPerSecond),
        int(c.raw.recordsPerSecond),
        r,
        '≥ 0.7x',
        r >= 0.7,
      ),
    );
  }
  const a = results.aggregate;
  if (a) {
    rows.push(
      row(
        'aggregation alone ticks/s, best slice (consumer settings)',
        int(a.withProgress.ticksPerSecond),
        '',
        null,
        '≥ 10,000,000',
        a.withProgress.ticksPerSecond >= 10_000_000,
      ),
      row(
        'aggregation alone ticks/s, best slice (emitProgress false)',
        int(a.closedOnly.ticksPerSecond),
        '',
        null,
        '',
        null,
      ),
    );
  }
  const e = results.endToEnd;
  if (e) {
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
  }
  return rows;
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
