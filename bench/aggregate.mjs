// Bench candles step: ticks folded per second by createCandleAggregator in memory, no Kafka, no decoding.
import { createCandleAggregator } from '@kandle/core';
import { now, percentile } from './measure.mjs';

const SLICES = 8;

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
 * Folds `ticks` tickers per configuration: the consumer's settings (a `'progress'` update per tick) and
 * `emitProgress: false` (closed candles only). The two take turns in 8 slices of `ticks / 8`, after a
 * warm-up slice each; the best slice is the rate (least interference from other processes), the median is kept.
 */
export function benchAggregate({ records, ticks, log }) {
  const configs = {
    // What createCandleConsumer runs: every changed candle reported once per batch.
    withProgress: { intervals: ['1m'], emitProgress: 'coalesced' },
    closedOnly: { intervals: ['1m'], emitProgress: false },
  };
  const passesPerSlice = Math.max(1, Math.round(ticks / SLICES / records.length));
  const rates = { withProgress: [], closedOnly: [] };
  const updates = { withProgress: 0, closedOnly: 0 };
  for (let slice = -1; slice < SLICES; slice++) {
    for (const [name, options] of Object.entries(configs)) {
      const started = now();
      for (let p = 0; p < passesPerSlice; p++) updates[name] += pass(records, options);
      const rate = ((passesPerSlice * records.length) / (now() - started)) * 1000;
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
  const result = { withProgress: summary('withProgress'), closedOnly: summary('closedOnly'), intervals: ['1m'] };
  for (const name of Object.keys(configs))
    log(
      `  aggregator ${name}: best ${Math.round(result[name].ticksPerSecond).toLocaleString('en-US')} ticks/s, ` +
        `median ${Math.round(result[name].medianTicksPerSecond).toLocaleString('en-US')}`,
    );
  return { ...result, symbols: new Set(records.map((r) => r.symbol)).size };
}
