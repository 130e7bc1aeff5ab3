// Sources / barrel: the public market-data sources (Bitfinex REST and WebSocket, replay, synthetic) and their contract.
export type {
  BackoffOptions,
  FeedErrorReason,
  MarketEvent,
  MarketSource,
  SourceError,
  SourceLogOptions,
  SourceStats,
  SourceStatus,
  Unsubscribe,
} from './source';
export { bitfinexSymbolProblem, FeedError } from './source';
export type { HistoryOptions } from './history';
export {
  type BackfillResult,
  type BitfinexHistoryOptions,
  HISTORY_REQUESTS_PER_MINUTE,
  type HistoryResumePoint,
  MAX_TRADES_PAGE,
} from './bitfinex-history';
export {
  BITFINEX_CODES,
  BitfinexApiError,
  type BitfinexChannel,
  type BitfinexChannelRef,
  type BitfinexWsFrame,
  CONF_FLAG_SEQ_ALL,
  CONF_FLAG_TIMESTAMP,
  type ChannelFrameMeta,
  parseRestTickers,
  parseTickerArray,
  parseTradeArray,
  parseWsFrame,
  type RestTickersResult,
  RATE_LIMIT_CODE,
  tickerToRestArray,
  tickerToWsArray,
  tradeToArray,
} from './bitfinex-frames';
export {
  BITFINEX_REST_URL,
  type BitfinexRestSource,
  type BitfinexRestSourceOptions,
  createBitfinexRestSource,
  MAX_REST_REQUESTS_PER_MINUTE,
  MIN_REST_INTERVAL_MS,
} from './bitfinex-rest';
export {
  BITFINEX_WS_URL,
  type BitfinexWsSource,
  type BitfinexWsSourceOptions,
  createBitfinexWsSource,
  MAX_CONNECTIONS_PER_MINUTE,
  MAX_PUBLIC_SUBSCRIPTIONS,
} from './bitfinex-ws';
export {
  createReplaySource,
  loadRecording,
  parseMarketEvent,
  type ReplaySource,
  type ReplaySourceOptions,
  saveRecording,
} from './replay';
export {
  createSyntheticSource,
  DEFAULT_START_PRICES,
  type GenerateSyntheticOptions,
  generateSyntheticEvents,
  type SyntheticOptions,
  type SyntheticSource,
  type SyntheticSourceOptions,
  TOP_SYMBOLS,
} from './synthetic';
