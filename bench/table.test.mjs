import { describe, expect, it } from 'vitest';
import { buildRows, cpuComparison, formatMarkdown, formatTable, median, meets } from './table.mjs';

const run = (usPerRecord, extra = {}) => ({
  recordsPerSecond: 1000,
  latencyMs: { p50: 1, p99: 2 },
  cpu: { usPerRecord },
  memory: { rssMiB: 100, heapUsedMiB: 20 },
  ...extra,
});
const client = (runs) => ({ ...runs[0], rounds: runs });

describe('median', () => {
  it('takes the middle value, or the mean of the middle two', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([])).toBeNaN();
  });
});

describe('cpuComparison', () => {
  it('compares median CPU per record and keeps each round pair', () => {
    const c = cpuComparison([run(12), run(10), run(30)], [run(10), run(10), run(10)]);
    expect(c.kandle).toBe(12);
    expect(c.peer).toBe(10);
    expect(c.ratio).toBeCloseTo(1.2);
    expect(c.perRound.map((r) => Number(r.toFixed(2)))).toEqual([1.2, 1, 3]);
  });
});

describe('meets', () => {
  it('judges at-most and at-least targets, edges included, and never meets a missing value', () => {
    expect(meets(1.2, '≤', 1.2)).toBe(true);
    expect(meets(1.21, '≤', 1.2)).toBe(false);
    expect(meets(0.5, '≥', 0.5)).toBe(true);
    expect(meets(Number.NaN, '≥', 0.5)).toBe(false);
    expect(meets(Number.NaN, '≤', 0.5)).toBe(false);
  });
});

describe('buildRows', () => {
  const producer = {
    kandle: client([run(11), run(11), run(11)]),
    raw: client([run(10), run(10), run(10)]),
    kafkajs: client([run(20), run(20), run(20)]),
    kafkajsIdempotent: client([run(25), run(25), run(25)]),
    platformatic: client([run(15), run(15), run(15)]),
  };

  it('reports producer CPU per record against raw and KafkaJS with met / not met', () => {
    const rows = buildRows({ producer });
    const raw = rows.find((r) => r.metric.startsWith('producer CPU/record vs raw'));
    expect(raw.ratio).toBeCloseTo(1.1);
    expect(raw.target).toBe('≤ 1.2x');
    expect(raw.met).toBe(true);
    const kafkajs = rows.find((r) => r.metric.startsWith('producer CPU/record vs KafkaJS ['));
    expect(kafkajs.ratio).toBeCloseTo(0.55);
    expect(kafkajs.met).toBe(true);
    const info = rows.find((r) => r.metric.includes('@platformatic/kafka + avsc (info)'));
    expect(info.met).toBeNull();
  });

  it('judges the equal-settings variant against the idempotent KafkaJS', () => {
    const { kafkajs: _plain, ...equal } = producer;
    const rows = buildRows({ producerEqual: equal });
    const kafkajs = rows.find((r) => r.metric.startsWith('producer CPU/record vs KafkaJS idempotent [equal'));
    expect(kafkajs.ratio).toBeCloseTo(0.44);
    expect(kafkajs.met).toBe(true);
  });

  it('reports a missed consumer CPU target as not met without throwing', () => {
    const consumer = {
      kandle: client([run(14), run(14)]),
      raw: client([run(10), run(10)]),
      stalledRounds: { kandle: 0, raw: 0 },
      warmupStalled: { kandle: false, raw: false },
    };
    const rows = buildRows({ consumer });
    const cpu = rows.find((r) => r.metric.startsWith('consume+decode+aggregate CPU/record vs raw'));
    expect(cpu.ratio).toBeCloseTo(1.4);
    expect(cpu.met).toBe(false);
    expect(formatTable(rows)).toContain('NOT MET');
    expect(formatMarkdown(rows)).toContain('**not met**');
  });

  it('judges the aggregator against the naive fold and the sink against its ceiling', () => {
    const aggregate = {
      withProgress: { ticksPerSecond: 9e6, medianTicksPerSecond: 8e6 },
      closedOnly: { ticksPerSecond: 9e6, medianTicksPerSecond: 8e6 },
      naive: { ticksPerSecond: 20e6, medianTicksPerSecond: 16e6 },
      vsNaive: { medianRatio: 0.5, ratioOfBest: 0.45 },
    };
    const sink = { median: { pointsPerCoreSecond: 150_000 } };
    const rows = buildRows({ aggregate, sink });
    expect(rows.find((r) => r.metric.includes('naive')).met).toBe(true);
    expect(rows.find((r) => r.metric.startsWith('sink')).met).toBe(false);
  });
});

describe('processing rows', () => {
  it('judge exactly-once throughput against at-least-once of the same run, and report the restore', () => {
    const mode = (recordsPerSecond, cpuMicrosPerRecord) => ({ rounds: [{ recordsPerSecond, cpuMicrosPerRecord }] });
    const rows = buildRows({
      processing: { exactlyOnce: mode(500, 30), atLeastOnce: mode(1000, 20) },
      restore: { openCandles: 10_000, restoreMs: 2000, freshStartMs: 1000 },
    });
    const eos = rows.find((r) => r.metric.startsWith('consume → candles topic rec/s'));
    expect(eos).toMatchObject({ ratio: 0.5, target: '≥ 0.6x', met: false });
    expect(rows.find((r) => r.metric.includes('CPU/record, exactly-once'))?.ratio).toBeCloseTo(1.5);
    expect(rows.find((r) => r.metric.startsWith('restore 10,000'))?.ratio).toBe(2);
  });
});
