// Schema types: generated from schemas/*.avsc by scripts/gen-types.mjs. Do not edit.

/** One candle update on the candles topic: an OHLCV bucket and why it was emitted. Key: symbol|interval|source|start. (schemas/candle-update.avsc) */
export interface CandleRecord {
  /** progress: the bucket is open; closed: it closed; correction: a late record changed a closed bucket. */
  kind: "progress" | "closed" | "correction";
  /** Bitfinex pair, e.g. tBTCUSD. */
  symbol: string;
  /** Candle width, e.g. 1m, 1h. */
  interval: string;
  /** Built from tickers (prices only) or trades (OHLCV). */
  source: "ticker" | "trade";
  /** Bucket start, Unix ms (inclusive). */
  start: number;
  /** Bucket end, Unix ms (exclusive). */
  end: number;
  /** Price of the earliest record by event time. */
  open: number;
  /** Highest price. */
  high: number;
  /** Lowest price. */
  low: number;
  /** Price of the latest record by event time. */
  close: number;
  /** Sum of |amount| for trades; 0 for tickers. */
  volume: number;
  /** Records folded into the candle. */
  count: number;
}

/** Avro schema of {@link CandleRecord}, verbatim from schemas/candle-update.avsc. */
export const candleRecordSchema = {"type":"record","name":"CandleRecord","namespace":"dev.kandle.candles","doc":"One candle update on the candles topic: an OHLCV bucket and why it was emitted. Key: symbol|interval|source|start.","fields":[{"name":"kind","type":{"type":"enum","name":"CandleKind","symbols":["progress","closed","correction"]},"doc":"progress: the bucket is open; closed: it closed; correction: a late record changed a closed bucket."},{"name":"symbol","type":"string","doc":"Bitfinex pair, e.g. tBTCUSD."},{"name":"interval","type":"string","doc":"Candle width, e.g. 1m, 1h."},{"name":"source","type":{"type":"enum","name":"CandleSourceKind","symbols":["ticker","trade"]},"doc":"Built from tickers (prices only) or trades (OHLCV)."},{"name":"start","type":{"type":"long","logicalType":"timestamp-millis"},"doc":"Bucket start, Unix ms (inclusive)."},{"name":"end","type":{"type":"long","logicalType":"timestamp-millis"},"doc":"Bucket end, Unix ms (exclusive)."},{"name":"open","type":"double","doc":"Price of the earliest record by event time."},{"name":"high","type":"double","doc":"Highest price."},{"name":"low","type":"double","doc":"Lowest price."},{"name":"close","type":"double","doc":"Price of the latest record by event time."},{"name":"volume","type":"double","doc":"Sum of |amount| for trades; 0 for tickers."},{"name":"count","type":"long","doc":"Records folded into the candle."}]} as const;

/** A Bitfinex trading-pair ticker snapshot (REST /v2/tickers or WebSocket ticker channel). (schemas/ticker.avsc) */
export interface Ticker {
  /** Bitfinex trading pair, e.g. tBTCUSD; also the Kafka record key. */
  symbol: string;
  /** Price of the last highest bid. */
  bid: number;
  /** Sum of the 25 highest bid sizes. */
  bidSize: number;
  /** Price of the last lowest ask. */
  ask: number;
  /** Sum of the 25 lowest ask sizes. */
  askSize: number;
  /** Amount the last price changed since yesterday. */
  dailyChange: number;
  /** Relative daily change (0.01 = 1%). */
  dailyChangeRelative: number;
  /** Price of the last trade. */
  lastPrice: number;
  /** Daily volume. */
  volume: number;
  /** Daily high. */
  high: number;
  /** Daily low. */
  low: number;
  /** When the ticker was observed, Unix ms. */
  eventTime: number;
}

/** Avro schema of {@link Ticker}, verbatim from schemas/ticker.avsc. */
export const tickerSchema = {"type":"record","name":"Ticker","namespace":"dev.kandle.market","doc":"A Bitfinex trading-pair ticker snapshot (REST /v2/tickers or WebSocket ticker channel).","fields":[{"name":"symbol","type":"string","doc":"Bitfinex trading pair, e.g. tBTCUSD; also the Kafka record key."},{"name":"bid","type":"double","doc":"Price of the last highest bid."},{"name":"bidSize","type":"double","doc":"Sum of the 25 highest bid sizes."},{"name":"ask","type":"double","doc":"Price of the last lowest ask."},{"name":"askSize","type":"double","doc":"Sum of the 25 lowest ask sizes."},{"name":"dailyChange","type":"double","doc":"Amount the last price changed since yesterday."},{"name":"dailyChangeRelative","type":"double","doc":"Relative daily change (0.01 = 1%)."},{"name":"lastPrice","type":"double","doc":"Price of the last trade."},{"name":"volume","type":"double","doc":"Daily volume."},{"name":"high","type":"double","doc":"Daily high."},{"name":"low","type":"double","doc":"Daily low."},{"name":"eventTime","type":{"type":"long","logicalType":"timestamp-millis"},"doc":"When the ticker was observed, Unix ms."}]} as const;

/** A Bitfinex executed trade (WebSocket trades channel 'te' event or snapshot entry). (schemas/trade.avsc) */
export interface Trade {
  /** Bitfinex trade id. */
  id: number;
  /** Bitfinex trading pair, e.g. tBTCUSD; also the Kafka record key. */
  symbol: string;
  /** Execution time, Unix ms. */
  time: number;
  /** Amount traded; positive for buys, negative for sells. */
  amount: number;
  /** Price at which the trade executed. */
  price: number;
}

/** Avro schema of {@link Trade}, verbatim from schemas/trade.avsc. */
export const tradeSchema = {"type":"record","name":"Trade","namespace":"dev.kandle.market","doc":"A Bitfinex executed trade (WebSocket trades channel 'te' event or snapshot entry).","fields":[{"name":"id","type":"long","doc":"Bitfinex trade id."},{"name":"symbol","type":"string","doc":"Bitfinex trading pair, e.g. tBTCUSD; also the Kafka record key."},{"name":"time","type":{"type":"long","logicalType":"timestamp-millis"},"doc":"Execution time, Unix ms."},{"name":"amount","type":"double","doc":"Amount traded; positive for buys, negative for sells."},{"name":"price","type":"double","doc":"Price at which the trade executed."}]} as const;
