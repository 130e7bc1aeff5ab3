// Bench measuring tools: clocks, percentiles, medians, a bounded in-flight runner and a time-boxed op counter.
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

/**
 * Counts how many times `op(i)` runs within `ms` on this thread, after a warm-up of `ms / 4`.
 * `op` may be sync or async (awaited one at a time: one core, no overlap). Returns operations per second.
 */
export async function opsPerSecond(op, ms, { async = false } = {}) {
  const run = async (budget) => {
    let ops = 0;
    const end = now() + budget;
    let t = now();
    while (t < end) {
      // Check the clock every 256 ops: performance.now() costs as much as a small encode.
      if (async) for (let k = 0; k < 256; k++) await op(ops + k);
      else for (let k = 0; k < 256; k++) op(ops + k);
      ops += 256;
      t = now();
    }
    return { ops, elapsed: t - (end - budget) };
  };
  await run(ms / 4);
  const { ops, elapsed } = await run(ms);
  return (ops / elapsed) * 1000;
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
