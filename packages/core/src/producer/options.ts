// Producer / options: what a producer of tickers and trades can be asked, and what it answers.
import type { KandleLogger } from '../logger';
import type { KafkaConnection, RegistryConnection } from '../config';
import type { ProducerMetrics } from '../metrics';
import type { SchemaRegistryHandle } from '../schema/avro';
import type { Ticker, Trade } from '../schema/types.generated';
import type { MarketEvent } from '../sources/source';

/**
 * How records are spread over partitions (the original kafka-python project's three ways):
 * - `'key-hash'` (default): murmur2 of the symbol, exactly like the Java client, Kafka Streams and ksqlDB,
 *   so one coin always lands on one partition and stays in order.
 * - `'roundrobin'`: partitions in turn, ignoring the key; even load, no per-coin order (librdkafka's and the
 *   assignment strategy's spelling; `'round-robin'` is accepted as a deprecated alias).
 * - `{ explicit }`: your function picks the partition for each event.
 */
export type Partitioning =
  | 'key-hash'
  | 'roundrobin'
  /** @deprecated Use `'roundrobin'`, the spelling of librdkafka and of kandle's assignment strategy. */
  | 'round-robin'
  | { explicit: (event: MarketEvent, partitions: number) => number };

/** Options of {@link createCryptoProducer}. */
export interface CryptoProducerOptions {
  /** Kafka connection. Default: `$KAFKA_BROKERS`, plaintext. */
  connection?: KafkaConnection;
  /** Schema Registry connection, or a handle shared with consumers. Default: `$SCHEMA_REGISTRY_URL`. */
  registry?: RegistryConnection | SchemaRegistryHandle;
  /** Topic names. Default `{ tickers: 'tickers', trades: 'trades' }`. */
  topics?: { tickers?: string; trades?: string };
  /** Default `'key-hash'`. */
  partitioning?: Partitioning;
  /** `acks`: `'all'` waits for every in-sync replica (and `min.insync.replicas`). Default `'all'`. */
  acks?: 'all' | 1 | 0;
  /** Idempotent producer: retries never duplicate or reorder. Default true; needs `acks: 'all'`. */
  idempotence?: boolean;
  /**
   * `linger.ms`: how long librdkafka waits to fill a batch before sending it. Default 20 (librdkafka's own is 5):
   * fewer, fuller requests cost the brokers and this client less CPU per record, which on a small machine also keeps
   * the delivery tail short under load; a record sent alone waits up to this long. See docs/benchmarks.md.
   */
  lingerMs?: number;
  /** `message.timeout.ms`: give up on a record after this long. Default 30000. */
  deliveryTimeoutMs?: number;
  /**
   * The topics' `min.insync.replicas`, when the caller knows it (it created the topics). Used only to explain a
   * delivery timeout as `NotEnoughReplicasError`; when given, that diagnosis reads only the ISR (librdkafka metadata,
   * answered by any live broker) instead of also asking the cluster's config over KafkaJS, which can pick a stopped
   * broker and miss the 10 s diagnosis window. Default: asked from the cluster.
   */
  minInsyncReplicas?: number;
  /** librdkafka statistics period; 0 turns metrics callbacks off. Default 0. */
  statisticsIntervalMs?: number;
  /** Called with fresh metrics every `statisticsIntervalMs`. */
  onMetrics?: (metrics: ProducerMetrics) => void;
  /**
   * Receives the client errors librdkafka recovers from by itself (a broker down, a connection reset) as warnings,
   * at most one per error code every 5 s: `logger.warn({ err, code, retriable }, message)`. Records that fail
   * still reject their `send`. Default: silent (see docs/logging.md).
   */
  logger?: KandleLogger;
}

/** Where a record was written. */
export interface DeliveryReport {
  topic: string;
  partition: number;
  offset: string;
}

/**
 * A typed producer of tickers and trades.
 *
 * @example
 * ```ts
 * const producer = await createCryptoProducer({ connection: { brokers: '127.0.0.1:19092' }, registry: { url: 'http://127.0.0.1:18081/apis/ccompat/v7' } });
 * const report = await producer.sendTicker({ symbol: 'tBTCUSD', lastPrice: 97000, … });
 * console.log(report.partition, report.offset);
 * await producer.close();
 * ```
 */
export interface CryptoProducer {
  sendTicker(ticker: Ticker, options?: { partition?: number }): Promise<DeliveryReport>;
  sendTrade(trade: Trade, options?: { partition?: number }): Promise<DeliveryReport>;
  send(event: MarketEvent, options?: { partition?: number }): Promise<DeliveryReport>;
  /** Resolves when every record sent so far is acknowledged or failed. */
  flush(timeoutMs?: number): Promise<void>;
  metrics(): ProducerMetrics;
  /** Flushes and disconnects. */
  close(): Promise<void>;
  /** The registry ids the value schemas were registered under. */
  readonly schemaIds: { tickers: number; trades: number };
  readonly topics: { tickers: string; trades: string };
}
