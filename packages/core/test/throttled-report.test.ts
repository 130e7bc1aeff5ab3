// Throttled report: the first of a kind at once, then one per period with how many were held back.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ThrottledReport } from '../src/throttled-report';

afterEach(() => {
  vi.useRealTimers();
});

describe('ThrottledReport', () => {
  it('reports each code at once, holds back repeats within the period, and counts them in the next report', () => {
    vi.useFakeTimers({ now: 0 });
    const seen: Array<[string, number]> = [];
    const throttle = new ThrottledReport(5_000, (e, repeated) => seen.push([(e as Error).message, repeated]));
    const unknownPartition = Object.assign(new Error('Local: Unknown partition'), { code: -190 });
    const transport = Object.assign(new Error('Local: Broker transport failure'), { code: -195 });
    for (let i = 0; i < 10; i++) throttle.report(unknownPartition);
    throttle.report(transport);
    expect(seen).toEqual([
      ['Local: Unknown partition', 0],
      ['Local: Broker transport failure', 0],
    ]);
    vi.setSystemTime(5_000);
    throttle.report(unknownPartition);
    expect(seen.at(-1)).toEqual(['Local: Unknown partition', 9]);
    throttle.report(unknownPartition);
    expect(seen).toHaveLength(3);
  });

  it('throttles by the key keyOf gives: one key for every value', () => {
    vi.useFakeTimers({ now: 0 });
    const seen: Array<[string, number]> = [];
    const throttle = new ThrottledReport<string>(
      10_000,
      (m, repeated) => seen.push([m, repeated]),
      () => 'all',
    );
    throttle.report('produce failed: a');
    throttle.report('produce failed: b');
    throttle.report('produce failed: c');
    vi.setSystemTime(10_000);
    throttle.report('produce failed: d');
    expect(seen).toEqual([
      ['produce failed: a', 0],
      ['produce failed: d', 2],
    ]);
  });
});
