// @kandle/core: the public surface of the library, re-exported step by step along the data flow.
/**
 * kandle turns a live crypto market feed into candlestick charts through Apache Kafka:
 * source → producer → Kafka → consumer → candles → sink / page.
 * @packageDocumentation
 */
export {
  AssignmentError,
  AuthenticationError,
  BrokerUnreachableError,
  ConfigError,
  DeliveryError,
  FeedMessageError,
  GroupRequestError,
  isFatalClientError,
  KandleError,
  type KandleErrorCode,
  NotEnoughReplicasError,
  PoisonRecordError,
  RegistryUnreachableError,
  redactSecrets,
  SchemaIncompatibleError,
  TopicMismatchError,
  UnknownTopicError,
} from './errors';
export type { CandleRecord, Ticker, Trade } from './schema/types.generated';
export { candleRecordSchema, tickerSchema, tradeSchema } from './schema/types.generated';
export type { Candle, CandleInterval, CandleSource, CandleUpdate, CandleUpdateKind } from './candles/types';
export {
  describeSettings,
  type KafkaConnection,
  type RdkafkaSettings,
  type RegistryConnection,
  type ResolvedKafkaConnection,
  type ResolvedRegistryConnection,
  resolveKafkaConnection,
  resolveRegistryConnection,
  type SaslConfig,
} from './config';
export {
  createKafkaAdmin,
  GROUP_REQUEST_BUDGET_MS,
  type GroupRequestOptions,
  type LiveBroker,
  type MetadataRequestOptions,
  type GroupMemberState,
  type GroupState,
  type KafkaAdmin,
  type PartitionLag,
  type PartitionState,
  type TopicSpec,
} from './admin';
export {
  connectSchemaRegistry,
  createAvroDecoder,
  createAvroEncoder,
  DecodeError,
  valueSubject,
  type AvroDecoder,
  type AvroEncoder,
  type SchemaRegistryHandle,
} from './schema/avro';
export { murmur2, partitionForKey, toPositive } from './partitioner';
export {
  createCryptoProducer,
  type CryptoProducer,
  type CryptoProducerOptions,
  type DeliveryReport,
  type Partitioning,
} from './producer';
export {
  type ConsoleLoggerOptions,
  consoleLogger,
  errorLogFields,
  type KandleLogger,
  type KandleLogLevel,
  type KandleLogMethod,
  silentLogger,
} from './logger';
export { ThrottledReport } from './throttled-report';
export { fullJitterMs, parseRetryAfterMs, withTimeout } from './retry';
export {
  createKandle,
  type Kandle,
  type KandleConsumerOptions,
  type KandleOptions,
  type KandleProducerOptions,
} from './client';
export { LatencyWindow, type BrokerRtt, type ConsumerMetrics, type ProducerMetrics } from './metrics';
export * from './assignors';
export * from './candles';
export * from './sources';
export {
  type AssignmentStrategy,
  type BatchContext,
  type CandleConsumer,
  type CandleConsumerOptions,
  type CandleConsumerStats,
  candleRecordKey,
  createCandleConsumer,
  type PartitionPosition,
  type PoisonRecord,
  type RebalanceEvent,
} from './consumer';
export { type CommitMetadata, parseCommitMetadata } from './assignors/live';
