// Candles: the public face of the candle step (value types, intervals, the aggregator).

export type { Candle, CandleInterval, CandleSource, CandleUpdate, CandleUpdateKind } from './types';
export { bucketStart, parseInterval } from './interval';
export {
  createCandleAggregator,
  type CandleAggregator,
  type CandleAggregatorOptions,
  type CandleAggregatorCheckpoint,
  type CandleAggregatorStats,
  type LateRecord,
  type OpenCandleState,
  type StreamClock,
} from './aggregator';
