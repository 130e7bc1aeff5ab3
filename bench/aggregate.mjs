// Bench candles step: ticks folded per second by createCandleAggregator in memory, no Kafka, no decoding, against a
// naive single-interval OHLC fold in plain JS measured in the same process, in the same slices.
import { createCandleAggregator } from '@kandle/core';
import { percentile } from './measure.mjs';

const SLICES = 8;
// The JIT needs a few passes before both loops reach their final code (the first slice ran at a third of the later ones).
const WARMUP_SLICES = 2;

/** CPU µs of this process so far. A slice is timed in CPU, not wall time: on a shared machine a preempted slice would
 * otherwise count the other processes' time against whichever loop was running, and same-slice ratios swung 10x. */
function cpuMicros() {
  const { user, system } = process.cpuUsage();
  return user + system;
}

const CONSUMER_BATCH = 500;

/**
 * Folds all `records` (event time ascending) into a fresh aggregator, so time never runs backwards; returns the
 * updates. With coalesced progress, changed candles are taken every 500 records, as the consumer does per batch.
 */
function pass(records, options) {
  const aggregator = createCandleAggregator(options);
  const coalesced = options.emitProgress === 'coalesced';
  let updates = 0;
  for (let i = 0; i < records.length; i++) {
    updates += aggregator.addTicker(records[i]).length;
    if (coalesced && i % CONSUMER_BATCH === CONSUMER_BATCH - 1) updates += aggregator.takeProgress().length;
  }
  if (coalesced) updates += aggregator.takeProgress().length;
  const stats = aggregator.stats();
  // Every tick must have been folded, or the rate would count skipped work.
  if (stats.records - stats.invalid !== records.length) throw new Error('bench: the aggregator skipped ticks');
  return updates;
}

/**
 * The reference: the simplest correct 1-minute OHLC fold of in-order tickers in plain JS (one Map lookup, one
 * bucket compare, four fields), closing a symbol's candle when its next bucket starts. No validation, no grace
 * period, no late data, no other intervals: what the aggregator's hot path is compared with.
 */
export function naiveFold(records, intervalMs = 60_000) {
  const open = new Map();
  let closed = 0;
  for (let i = 0; i < records.length; i++) {
    const { symbol, eventTime, lastPrice } = records[i];
    const start = eventTime - (eventTime % intervalMs);
    const candle = open.get(symbol);
    if (candle === undefined || candle.start !== start) {
      if (candle !== undefined) closed++;
      open.set(symbol, { start, open: lastPrice, high: lastPrice, low: lastPrice, close: lastPrice, count: 1 });
    } else {
      if (lastPrice > candle.high) candle.high = lastPrice;
      if (lastPrice < candle.low) candle.low = lastPrice;
      candle.close = lastPrice;
      candle.count++;
    }
  }
  return closed + open.size;
}

/**
 * Folds `ticks` tickers per configuration: the consumer's settings (coalesced progress) and `emitProgress: false`
 * (closed candles only), and the naive fold. They take turns in 8 slices of `ticks / 8`, after two warm-up slices
 * each; rates are ticks per CPU-second of this process. The best slice is the rate, the median is kept, and the
 * target is the median of same-slice ratios (with their spread).
 */
export function benchAggregate({ records, ticks, log }) {
  const configs = {
    // What createCandleConsumer runs: every changed candle reported once per batch.
    withProgress: { intervals: ['1m'], emitProgress: 'coalesced' },
    closedOnly: { intervals: ['1m'], emitProgress: false },
  };
  const passesPerSlice = Math.max(1, Math.round(ticks / SLICES / records.length));
  const rates = { withProgress: [], closedOnly: [], naive: [] };
  const updates = { withProgress: 0, closedOnly: 0, naive: 0 };
  const runs = {
    withProgress: () => pass(records, configs.withProgress),
    closedOnly: () => pass(records, configs.closedOnly),
    naive: () => naiveFold(records),
  };
  for (let slice = -WARMUP_SLICES; slice < SLICES; slice++) {
    // Who goes first alternates, so a slow stretch of a shared machine does not always hit the same one.
    const order = slice % 2 === 0 ? Object.keys(runs) : Object.keys(runs).reverse();
    for (const name of order) {
      const started = cpuMicros();
      for (let p = 0; p < passesPerSlice; p++) updates[name] += runs[name]();
      const rate = ((passesPerSlice * records.length) / (cpuMicros() - started)) * 1e6;
      if (slice >= 0) rates[name].push(rate);
    }
  }
  const summary = (name) => ({
    ticksPerSecond: Math.max(...rates[name]),
    medianTicksPerSecond: percentile(rates[name], 50),
    slices: rates[name],
    ticks: passesPerSlice * records.length * SLICES,
    updates: updates[name],
  });
  const ratios = rates.withProgress.map((r, i) => r / rates.naive[i]);
  const result = {
    clock: 'process CPU time (user + system) per slice',
    withProgress: summary('withProgress'),
    closedOnly: summary('closedOnly'),
    naive: summary('naive'),
    intervals: ['1m'],
  };
  // Same-slice ratios: each slice of the aggregator against the naive fold's slice next to it.
  result.vsNaive = {
    medianRatio: percentile(ratios, 50),
    minRatio: Math.min(...ratios),
    maxRatio: Math.max(...ratios),
    ratios,
    ratioOfBest: result.withProgress.ticksPerSecond / result.naive.ticksPerSecond,
  };
  for (const name of Object.keys(runs))
    log(
      `  aggregator ${name}: best ${Math.round(result[name].ticksPerSecond).toLocaleString('en-US')} ticks/s, ` +
        `median ${Math.round(result[name].medianTicksPerSecond).toLocaleString('en-US')} (per CPU-second)`,
    );
  log(
    `  aggregator vs naive, same-slice ratios: median ${result.vsNaive.medianRatio.toFixed(2)}x, ` +
      `${result.vsNaive.minRatio.toFixed(2)}–${result.vsNaive.maxRatio.toFixed(2)}x over ${ratios.length} slices`,
  );
  return { ...result, symbols: new Set(records.map((r) => r.symbol)).size };
}
