// Bench measuring tools: clocks, percentiles, medians, a bounded in-flight runner and interleaved time-sliced op counters.
import { performance } from 'node:perf_hooks';

/** Milliseconds since the process started, sub-millisecond resolution. */
export const now = () => performance.now();

/** Nearest-rank percentile of `values` (0–100); NaN when empty. Sorts a copy. */
export function percentile(values, p) {
  if (values.length === 0) return Number.NaN;
  const sorted = Float64Array.from(values).sort();
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank];
}

/** p50 and p99 of a list of latencies in ms. */
export function latencySummary(values) {
  return { p50: percentile(values, 50), p99: percentile(values, 99), samples: values.length };
}

/** The median element of `items` by `key` (the lower one of an even count). */
export function medianBy(items, key) {
  const sorted = [...items].sort((a, b) => key(a) - key(b));
  return sorted[Math.floor((sorted.length - 1) / 2)];
}

/**
 * Calls `start(i)` for i in [0, count) with at most `window` promises pending, and resolves when all settled.
 * The first rejection stops the run and is thrown.
 */
export async function runWindowed(count, window, start) {
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      await start(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(window, count) }, worker));
}

/** Runs `op(i)` (sync, or async awaited one at a time) for `budget` ms on this thread; returns operations per second. */
async function timeSlice(op, budget, async) {
  let ops = 0;
  const started = now();
  const end = started + budget;
  let t = started;
  while (t < end) {
    // Check the clock every 256 ops: performance.now() costs as much as a small encode.
    if (async) for (let k = 0; k < 256; k++) await op(ops + k);
    else for (let k = 0; k < 256; k++) op(ops + k);
    ops += 256;
    t = now();
  }
  return (ops / (t - started)) * 1000;
}

/**
 * Operations per second of each variant, on one thread. The variants take turns in `slices` short slices
 * of `ms / slices` (after one warm-up slice each), so a burst of load from other processes hits all of
 * them alike; each variant's best slice is its rate (its cost with the least interference), and the
 * median slice is kept too.
 * `variants`: `{ name: { op(i), async } }`. Returns `{ name: { best, median, slices } }`.
 */
export async function opsPerSecondInterleaved(variants, ms, slices = 8) {
  const names = Object.keys(variants);
  const rates = Object.fromEntries(names.map((n) => [n, []]));
  for (let round = -1; round < slices; round++) {
    for (const name of names) {
      const { op, async = false } = variants[name];
      const rate = await timeSlice(op, ms / slices, async);
      if (round >= 0) rates[name].push(rate);
    }
  }
  return Object.fromEntries(
    names.map((n) => [n, { best: Math.max(...rates[n]), median: percentile(rates[n], 50), slices: rates[n] }]),
  );
}

/** Resolves after `ms`. */
export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `check` every `everyMs` until it is truthy; throws with `what` after `timeoutMs`. */
export async function waitUntil(what, check, timeoutMs = 120_000, everyMs = 20) {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`bench: timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}
