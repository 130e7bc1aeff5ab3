// Tests for the candle-interval step: widths parse strictly and buckets align like SQL DATE_BIN on the epoch.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { bucketStart, parseInterval } from '../../src/candles';
import type { CandleInterval } from '../../src/candles';
import { ConfigError } from '../../src/errors';

// Floor division on BigInts: an independent statement of DATE_BIN(stride, t, epoch).
function referenceDateBin(timeMs: number, intervalMs: number): number {
  const t = BigInt(timeMs);
  const i = BigInt(intervalMs);
  const q = t / i; // truncates toward zero
  const floored = t % i !== 0n && t < 0n ? q - 1n : q;
  return Number(floored * i);
}

describe('parseInterval', () => {
  it.each([
    ['1m', 60_000],
    ['5m', 300_000],
    ['15m', 900_000],
    ['1h', 3_600_000],
    ['1d', 86_400_000],
    ['30s', 30_000],
    ['1s', 1_000],
    ['4h', 14_400_000],
    ['90m', 5_400_000],
  ] as Array<[CandleInterval, number]>)('%s is %i ms', (interval, ms) => {
    expect(parseInterval(interval)).toBe(ms);
  });

  it.each(['0m', '1.5m', '-1m', '1w', '1M', ' 1m', '1m ', 'm', '', '01m', '1e3s', '99999999999999999d'])(
    'rejects %j with ConfigError',
    (interval) => {
      expect(() => parseInterval(interval as CandleInterval)).toThrow(ConfigError);
    },
  );
});

describe('bucketStart', () => {
  const fiveMinutes = parseInterval('5m');
  const at = (iso: string): number => Date.parse(iso);

  it('floors to the 5-minute epoch grid, boundaries belonging to the bucket they start', () => {
    expect(bucketStart(at('2024-05-01T10:05:00.000Z'), fiveMinutes)).toBe(at('2024-05-01T10:05:00.000Z'));
    expect(bucketStart(at('2024-05-01T10:04:59.999Z'), fiveMinutes)).toBe(at('2024-05-01T10:00:00.000Z'));
    expect(bucketStart(at('2024-05-01T10:07:42.123Z'), fiveMinutes)).toBe(at('2024-05-01T10:05:00.000Z'));
    expect(bucketStart(at('2024-05-01T10:09:59.999Z'), fiveMinutes)).toBe(at('2024-05-01T10:05:00.000Z'));
    expect(bucketStart(at('2024-05-01T10:10:00.000Z'), fiveMinutes)).toBe(at('2024-05-01T10:10:00.000Z'));
  });

  it('aligns days to UTC midnight, as DATE_BIN with origin 1970-01-01T00:00:00Z does', () => {
    expect(bucketStart(at('2024-05-01T23:59:59.999Z'), parseInterval('1d'))).toBe(at('2024-05-01T00:00:00Z'));
    expect(bucketStart(at('2024-05-02T00:00:00.000Z'), parseInterval('1d'))).toBe(at('2024-05-02T00:00:00Z'));
  });

  it('floors times before 1970 downwards, not towards zero', () => {
    expect(bucketStart(-1, fiveMinutes)).toBe(-300_000);
    expect(bucketStart(-300_000, fiveMinutes)).toBe(-300_000);
    expect(bucketStart(-300_001, fiveMinutes)).toBe(-600_000);
    expect(bucketStart(-0.5, 1_000)).toBe(-1_000);
    expect(Object.is(bucketStart(-0, 1_000), 0)).toBe(true);
    expect(Object.is(bucketStart(-60_000, 60_000), -60_000)).toBe(true);
  });

  it('equals floor division for any integer time and width', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: -(2 ** 45), max: 2 ** 45 }),
        fc.oneof(
          fc.constantFrom(1_000, 60_000, 300_000, 900_000, 3_600_000, 86_400_000),
          fc.integer({ min: 1, max: 10 ** 9 }),
        ),
        (time, interval) => {
          const start = bucketStart(time, interval);
          expect(start).toBe(referenceDateBin(time, interval));
          expect(start <= time && time < start + interval).toBe(true);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('stays exact at the largest safe times, where t / i rounds', () => {
    const t = Number.MAX_SAFE_INTEGER - 1;
    for (const interval of [3, 7, 60_000, 86_400_000]) {
      expect(bucketStart(t, interval)).toBe(referenceDateBin(t, interval));
      expect(bucketStart(-t, interval)).toBe(referenceDateBin(-t, interval));
    }
  });

  it.each([
    [Number.NaN, 60_000],
    [Number.POSITIVE_INFINITY, 60_000],
    [0, 0],
    [0, -60_000],
    [0, 1.5],
    [0, Number.NaN],
  ])('rejects bucketStart(%s, %s) with ConfigError', (time, interval) => {
    expect(() => bucketStart(time, interval)).toThrow(ConfigError);
  });
});
