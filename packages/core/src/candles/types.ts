// Candles: the OHLC(V) value types shared by the aggregator, the consumer, the sinks and the page.

/** Candle width. The named ones are what the page and docs offer; any `<n><s|m|h|d>` works. */
export type CandleInterval = '1m' | '5m' | '15m' | '1h' | '1d' | `${number}${'s' | 'm' | 'h' | 'd'}`;

/** Which record kind a candle was built from: tickers give prices only, trades give true OHLCV. */
export type CandleSource = 'ticker' | 'trade';

/**
 * One candle: open/high/low/close of a symbol over `[start, start + interval)` in event
 * time, with buckets aligned to the Unix epoch exactly like SQL `DATE_BIN(interval, time, '1970-01-01')`.
 */
export interface Candle {
  /** Bitfinex pair, e.g. `tBTCUSD`. */
  symbol: string;
  interval: CandleInterval;
  source: CandleSource;
  /** Bucket start, Unix ms (inclusive). */
  start: number;
  /** Bucket end, Unix ms (exclusive). */
  end: number;
  /** Price of the earliest record by event time. */
  open: number;
  high: number;
  low: number;
  /** Price of the latest record by event time. */
  close: number;
  /** Sum of |amount| for trades; 0 for tickers. */
  volume: number;
  /** How many records were folded into this candle. */
  count: number;
}

/** Why a candle is being emitted. */
export type CandleUpdateKind =
  /** The bucket is still open: more records may change it. */
  | 'progress'
  /** The bucket closed (watermark passed its end plus the grace period). */
  | 'closed'
  /** A late record changed a bucket that was already emitted as closed. */
  | 'correction';

/** A candle plus why it was emitted. Sinks treat every kind as an upsert of the same point. */
export interface CandleUpdate {
  kind: CandleUpdateKind;
  candle: Candle;
}
