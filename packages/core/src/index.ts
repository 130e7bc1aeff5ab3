// @kandle/core: the public surface of the library, re-exported step by step along the data flow.
/**
 * kandle turns a live crypto market feed into candlestick charts through Apache Kafka:
 * source → producer → Kafka → consumer → candles → sink / page.
 * @packageDocumentation
 */
export * from './errors';
export type { Ticker, Trade } from './schema/types.generated';
export { tickerSchema, tradeSchema } from './schema/types.generated';
export type { Candle, CandleInterval, CandleSource, CandleUpdate, CandleUpdateKind } from './candles/types';
