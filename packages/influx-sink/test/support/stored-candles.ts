// Test read-back: the candles a server stored, in the same shape as the candles kandle computed, to compare equal.
import type { Candle } from '@kandle/core';
import { epochMs, type LineProtocolServer } from './servers';

/** The fields a candle row stores (everything but `end`, which follows from `start` and `interval`). */
export type StoredCandle = Omit<Candle, 'end'>;

/** The rows of `symbol` in the `candles` measurement, ordered by interval, then start. */
export async function storedCandles(server: LineProtocolServer, symbol: string): Promise<StoredCandle[]> {
  // `interval` and `count` are SQL keywords: quoted, both servers read them as plain column names.
  const rows = await server.query(
    `SELECT symbol, "interval", source, open, high, low, close, volume, "count", ${server.timeColumn} AS start FROM candles WHERE symbol = '${symbol}' ORDER BY "interval", ${server.timeColumn}`,
  );
  return rows.map((row) => ({
    symbol: row.symbol as string,
    interval: row.interval as Candle['interval'],
    source: row.source as Candle['source'],
    open: row.open as number,
    high: row.high as number,
    low: row.low as number,
    close: row.close as number,
    volume: row.volume as number,
    count: row.count as number,
    start: epochMs(row.start),
  }));
}

/** What storing `candles` should read back as. */
export function asStored(candles: readonly Candle[]): StoredCandle[] {
  return candles.map(({ end: _derived, ...stored }) => stored);
}
