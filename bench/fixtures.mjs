// Bench fixtures: a deterministic stream of ticker records (seeded random walk per coin) shared by every measurement.

const COINS = ['BTC', 'ETH', 'SOL', 'XRP', 'ADA', 'DOGE', 'DOT', 'LTC', 'LINK', 'AVAX', 'UNI', 'ATOM', 'XLM', 'TRX'];

/** Fixed start of event time, so runs are comparable: 2025-01-01T00:00:00Z. */
export const EPOCH_START = Date.UTC(2025, 0, 1);

/** mulberry32: a tiny seeded PRNG, so every run sees the same prices. */
function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The `index`-th coin symbol, `tBTCUSD` style; beyond the named coins, synthetic names. */
export function symbolOf(index) {
  return `t${COINS[index] ?? `C${index}`}USD`;
}

/**
 * `count` tickers round-robin over `symbols` coins. Each coin's event time advances by `stepMs` per record
 * (so 40k records over 10 coins span about 13 minutes of 1-minute candles with the default 200 ms).
 */
export function makeTickers(count, { symbols, stepMs = 200, seed = 42 }) {
  const random = prng(seed);
  const prices = Array.from({ length: symbols }, (_, i) => 100 * (i + 1));
  const out = new Array(count);
  for (let i = 0; i < count; i++) {
    const coin = i % symbols;
    const price = Math.max(0.01, prices[coin] * (1 + (random() - 0.5) * 0.002));
    prices[coin] = price;
    out[i] = {
      symbol: symbolOf(coin),
      bid: price * 0.9999,
      bidSize: 1 + random() * 10,
      ask: price * 1.0001,
      askSize: 1 + random() * 10,
      dailyChange: price * (random() - 0.5) * 0.05,
      dailyChangeRelative: (random() - 0.5) * 0.05,
      lastPrice: price,
      volume: 1000 + random() * 10_000,
      high: price * 1.02,
      low: price * 0.98,
      eventTime: EPOCH_START + Math.floor(i / symbols) * stepMs,
    };
  }
  return out;
}
