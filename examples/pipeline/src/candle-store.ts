// Candle store: keeps the latest candles of every series for the page, upserting the consumers' updates.
import type { Candle, CandleSource, CandleUpdate } from '@kandle/core';

/** The latest candles per (symbol, interval, source), oldest first. */
export interface CandleStore {
  /** Upserts each update's candle (same symbol, interval, source and start → replaced) and notifies listeners. */
  apply(updates: readonly CandleUpdate[]): void;
  /** Candles of one series, oldest first (a copy). */
  series(symbol: string, interval: string, source: CandleSource): Candle[];
  /** The newest candle of one series. */
  last(symbol: string, interval: string, source: CandleSource): Candle | undefined;
  /** Called with the candles each `apply` changed; returns the unsubscribe function. */
  onChange(listener: (changed: Candle[]) => void): () => void;
}

/**
 * Creates an in-memory candle store holding at most `maxPerSeries` candles per series (default 500).
 *
 * The page reads from here rather than from `consumer.candles()`: a consumer forgets the candles of partitions
 * it loses in a rebalance, while this store keeps what both group members produced since the start.
 *
 * @example
 * ```ts
 * const store = createCandleStore();
 * store.apply(updates);
 * store.last('tBTCUSD', '1m', 'trade');
 * ```
 */
export function createCandleStore(options: { maxPerSeries?: number } = {}): CandleStore {
  const maxPerSeries = options.maxPerSeries ?? 500;
  const bySeries = new Map<string, Candle[]>();
  const listeners = new Set<(changed: Candle[]) => void>();
  const keyOf = (symbol: string, interval: string, source: CandleSource) => `${symbol}|${interval}|${source}`;

  const upsert = (candle: Candle): void => {
    const key = keyOf(candle.symbol, candle.interval, candle.source);
    let list = bySeries.get(key);
    if (!list) {
      list = [];
      bySeries.set(key, list);
    }
    // Updates almost always hit the newest candle or start a new one, so search from the end.
    let i = list.length - 1;
    while (i >= 0 && (list[i] as Candle).start > candle.start) i--;
    if (i >= 0 && (list[i] as Candle).start === candle.start) list[i] = candle;
    else list.splice(i + 1, 0, candle);
    if (list.length > maxPerSeries) list.splice(0, list.length - maxPerSeries);
  };

  return {
    apply(updates) {
      if (updates.length === 0) return;
      const changed = updates.map((u) => u.candle);
      for (const candle of changed) upsert(candle);
      for (const listener of listeners) listener(changed);
    },
    series: (symbol, interval, source) => [...(bySeries.get(keyOf(symbol, interval, source)) ?? [])],
    last: (symbol, interval, source) => bySeries.get(keyOf(symbol, interval, source))?.at(-1),
    onChange(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}
