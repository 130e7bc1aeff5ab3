// Candles: candle widths and their epoch-aligned buckets, exactly as SQL DATE_BIN draws them.

import { ConfigError } from '../errors';
import type { CandleInterval } from './types';

const UNIT_MS = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
const INTERVAL_PATTERN = /^([1-9][0-9]*)([smhd])$/;

/**
 * Width of a candle interval in milliseconds.
 *
 * Accepts `<n><unit>` with a positive integer `n` and unit `s`, `m`, `h` or `d`
 * (`'1m'`, `'5m'`, `'15m'`, `'1h'`, `'1d'`, `'30s'`, …). A day is always 86 400 000 ms:
 * buckets are UTC, like `DATE_BIN` with origin `1970-01-01T00:00:00Z`.
 *
 * @throws {ConfigError} for anything else (`'0m'`, `'1.5m'`, `'1w'`, `' 1m'`, …).
 *
 * @example
 * ```ts
 * parseInterval('5m'); // 300000
 * ```
 */
export function parseInterval(interval: CandleInterval): number {
  const match = typeof interval === 'string' ? INTERVAL_PATTERN.exec(interval) : null;
  const ms = match ? Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS] : Number.NaN;
  if (!Number.isSafeInteger(ms)) {
    throw new ConfigError(
      `invalid candle interval ${JSON.stringify(interval)}: expected <n><s|m|h|d> with a positive integer n, e.g. '1m', '5m', '1h', '1d'`,
      { interval },
    );
  }
  return ms;
}

/**
 * Start of the bucket holding `timeMs`: `timeMs` floored to the grid of `intervalMs`
 * anchored at the Unix epoch, the same value as
 * `DATE_BIN(INTERVAL, time, '1970-01-01T00:00:00Z')`. Times before 1970 floor downwards
 * (`-1` → `-intervalMs`), never towards zero.
 *
 * @param timeMs - event time, Unix ms.
 * @param intervalMs - bucket width in ms, e.g. from {@link parseInterval}.
 * @throws {ConfigError} if `intervalMs` is not a positive safe integer or `timeMs` is not finite.
 *
 * @example
 * ```ts
 * bucketStart(Date.parse('2024-05-01T10:07:42Z'), parseInterval('5m')); // 2024-05-01T10:05:00Z
 * ```
 */
export function bucketStart(timeMs: number, intervalMs: number): number {
  if (!Number.isSafeInteger(intervalMs) || intervalMs <= 0) {
    throw new ConfigError(`intervalMs must be a positive integer, got ${String(intervalMs)}`, { intervalMs });
  }
  if (!Number.isFinite(timeMs)) {
    throw new ConfigError(`timeMs must be a finite number, got ${String(timeMs)}`, { timeMs });
  }
  return floorToGrid(timeMs, intervalMs);
}

/**
 * Unchecked {@link bucketStart} for the aggregator's hot path (inputs already validated).
 * Division, because `%` on Unix-ms doubles is a libc `fmod` call. For integer times the
 * quotient cannot round up to the next integer (the distance to it is at least one ulp of
 * `timeMs`); the guard covers fractional times.
 * @internal
 */
export function floorToGrid(timeMs: number, intervalMs: number): number {
  const start = Math.floor(timeMs / intervalMs) * intervalMs;
  return (start > timeMs ? start - intervalMs : start) + 0; // `+ 0` turns -0 into 0
}
