// Test schema: QuestDB tables matching the sink's measurements, with DEDUP UPSERT KEYS so replays overwrite like InfluxDB 3.
import type { QuestDb } from '@kandle/core/testing';

/**
 * InfluxDB 3 overwrites a point with the same measurement, tag set and timestamp on its own. QuestDB does that only
 * for WAL tables declared with DEDUP UPSERT KEYS over the designated timestamp and the tag columns, so the tests
 * create the tables first (line protocol would otherwise auto-create them without deduplication).
 */
export const SINK_TABLES = {
  candles: `CREATE TABLE IF NOT EXISTS candles (
      symbol SYMBOL, interval SYMBOL, source SYMBOL,
      open DOUBLE, high DOUBLE, low DOUBLE, close DOUBLE, volume DOUBLE, count LONG,
      timestamp TIMESTAMP
    ) TIMESTAMP(timestamp) PARTITION BY DAY WAL DEDUP UPSERT KEYS(timestamp, symbol, interval, source)`,
  tickers: `CREATE TABLE IF NOT EXISTS tickers (
      symbol SYMBOL,
      bid DOUBLE, bid_size DOUBLE, ask DOUBLE, ask_size DOUBLE, daily_change DOUBLE, daily_change_relative DOUBLE,
      last_price DOUBLE, close_price DOUBLE, volume DOUBLE, high DOUBLE, low DOUBLE,
      timestamp TIMESTAMP
    ) TIMESTAMP(timestamp) PARTITION BY DAY WAL DEDUP UPSERT KEYS(timestamp, symbol)`,
  trades: `CREATE TABLE IF NOT EXISTS trades (
      symbol SYMBOL, trade_id SYMBOL, amount DOUBLE, price DOUBLE,
      timestamp TIMESTAMP
    ) TIMESTAMP(timestamp) PARTITION BY DAY WAL DEDUP UPSERT KEYS(timestamp, symbol, trade_id)`,
} as const;

export async function createSinkTables(qdb: QuestDb): Promise<void> {
  for (const ddl of Object.values(SINK_TABLES)) await qdb.query(ddl);
}

/** WAL tables apply writes asynchronously: waits until `sql` (a single count) returns `expected`. */
export async function waitForCount(qdb: QuestDb, sql: string, expected: number, timeoutMs = 30_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let last = -1;
  while (Date.now() < deadline) {
    const { dataset } = await qdb.query(sql);
    last = Number(dataset[0]?.[0]);
    if (last === expected) return last;
    await new Promise((r) => setTimeout(r, 100));
  }
  return last;
}
