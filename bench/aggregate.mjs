// Bench candles step: ticks folded per second by createCandleAggregator in memory, no Kafka, no decoding.
import { createCandleAggregator } from '@kandle/core';
import { now } from './measure.mjs';

/**
 * Folds `ticks` tickers: passes over the pre-built `records` (event time ascending), each pass into a
 * fresh aggregator so time never runs backwards. Measured twice: with the consumer's settings
 * (`'progress'` update per tick) and with `emitProgress: false` (closed candles only).
 */
export function benchAggregate({ records, ticks, log }) {
  const run = (options) => {
    const passes = Math.max(1, Math.ceil(ticks / records.length));
    let updates = 0;
    // Warm-up pass, so V8 has optimized the hot path before the clock starts.
    const warm = createCandleAggregator(options);
    for (const r of records) updates += warm.addTicker(r).length;
    const started = now();
    let folded = 0;
    for (let p = 0; p < passes; p++) {
      const aggregator = createCandleAggregator(options);
      for (let i = 0; i < records.length; i++) updates += aggregator.addTicker(records[i]).length;
      const stats = aggregator.stats();
      // Every tick must have been folded, or the rate would count skipped work.
      if (stats.records - stats.invalid !== records.length) throw new Error('bench: the aggregator skipped ticks');
      folded += records.length;
    }
    const elapsedMs = now() - started;
    return { ticksPerSecond: (folded / elapsedMs) * 1000, ticks: folded, elapsedMs, updates };
  };
  const withProgress = run({ intervals: ['1m'] });
  log(
    `  aggregator, 1m, progress updates on: ${Math.round(withProgress.ticksPerSecond).toLocaleString('en-US')} ticks/s`,
  );
  const closedOnly = run({ intervals: ['1m'], emitProgress: false });
  log(`  aggregator, 1m, emitProgress false: ${Math.round(closedOnly.ticksPerSecond).toLocaleString('en-US')} ticks/s`);
  return { withProgress, closedOnly, intervals: ['1m'], symbols: new Set(records.map((r) => r.symbol)).size };
}
