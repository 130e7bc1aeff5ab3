// Producer: market events → Avro (Confluent framing) → Kafka with acks=all, idempotence and Java-compatible keys.
import { loadNativeClient, nativeCodes } from './rdkafka';
import { type KafkaConnection, type RegistryConnection, resolveKafkaConnection } from './config';
import {
  BrokerUnreachableError,
  ConfigError,
  DeliveryError,
  KandleError,
  NotEnoughReplicasError,
  UnknownTopicError,
} from './errors';
import { createKafkaAdmin, type KafkaAdmin } from './admin';
import { withTimeout } from './retry';
import { LatencyWindow, parseRdkafkaStats, type ProducerMetrics } from './metrics';
import {
  type AvroEncoder,
  connectSchemaRegistry,
  createAvroEncoder,
  type SchemaRegistryHandle,
  valueSubject,
} from './schema/avro';
import { type Ticker, type Trade, tickerSchema, tradeSchema } from './schema/types.generated';
import type { MarketEvent } from './sources/source';

/**
 * How records are spread over partitions (the original kafka-python project's three ways):
 * - `'key-hash'` (default): murmur2 of the symbol, exactly like the Java client, Kafka Streams and ksqlDB,
 *   so one coin always lands on one partition and stays in order.
 * - `'round-robin'`: partitions in turn, ignoring the key; even load, no per-coin order.
 * - `{ explicit }`: your function picks the partition for each event.
 */
export type Partitioning =
  | 'key-hash'
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
  /** `linger.ms`: how long to wait to fill a batch. Default 5. */
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

interface Pending {
  resolve: (report: DeliveryReport) => void;
  reject: (error: Error) => void;
  startedAt: number;
  topic: string;
}

/** Connects, registers the schemas (TopicNameStrategy subjects) and returns a ready producer. */
export async function createCryptoProducer(options: CryptoProducerOptions = {}): Promise<CryptoProducer> {
  const resolved = resolveKafkaConnection(options.connection);
  const acks = options.acks ?? 'all';
  const idempotence = options.idempotence ?? acks === 'all';
  if (idempotence && acks !== 'all') throw new ConfigError("idempotence needs acks: 'all'", { acks });
  const partitioning = options.partitioning ?? 'key-hash';
  const topics = { tickers: options.topics?.tickers ?? 'tickers', trades: options.topics?.trades ?? 'trades' };
  const registry = isRegistryHandle(options.registry)
    ? options.registry
    : connectSchemaRegistry(options.registry ?? {});

  const [tickerId, tradeId] = await Promise.all([
    registry.register(valueSubject(topics.tickers), tickerSchema),
    registry.register(valueSubject(topics.trades), tradeSchema),
  ]);
  const encoders = {
    ticker: createAvroEncoder<Ticker>(tickerSchema, tickerId),
    trade: createAvroEncoder<Trade>(tradeSchema, tradeId),
  } satisfies Record<string, AvroEncoder<never>>;

  const statsMs = options.statisticsIntervalMs ?? 0;
  const { Producer: RdProducer, CODES } = (await loadNativeClient()).RdKafka;
  const producer = new RdProducer({
    // murmur2_random is the Java client's partitioner; librdkafka's default (consistent_random, CRC32) is not.
    partitioner: 'murmur2_random',
    'enable.idempotence': idempotence,
    acks: acks === 'all' ? -1 : acks,
    'linger.ms': options.lingerMs ?? 5,
    'message.timeout.ms': options.deliveryTimeoutMs ?? 30_000,
    'compression.type': 'lz4',
    dr_cb: true,
    'statistics.interval.ms': statsMs,
    ...resolved.rdkafka,
  } as never);

  const latency = new LatencyWindow();
  let delivered = 0;
  let failed = 0;
  let lastStats = { queueDepth: 0, brokers: [] as ProducerMetrics['brokers'] };
  const metrics = (): ProducerMetrics => ({
    queueDepth: lastStats.queueDepth,
    deliveryLatencyMs: latency.percentiles(),
    brokers: lastStats.brokers,
    delivered,
    failed,
  });

  // librdkafka retries NOT_ENOUGH_REPLICAS until the record times out and then reports only the timeout;
  // asking the cluster why turns "timed out" into the error that says what is wrong.
  let diagnosisAdmin: Promise<KafkaAdmin> | null = null;
  const explainTimeout = async (timeout: KandleError, topic: string, partition: number): Promise<KandleError> => {
    try {
      diagnosisAdmin ??= createKafkaAdmin(options.connection);
      const admin = await withTimeout(diagnosisAdmin, 10_000, () => timeout);
      const [state, minIsr] = await withTimeout(
        Promise.all([admin.describeTopic(topic), options.minInsyncReplicas ?? admin.minInsyncReplicas(topic)]),
        10_000,
        () => timeout,
      );
      const isr = state.find((p) => p.partition === partition)?.isr ?? [];
      if (acks === 'all' && isr.length < minIsr)
        return new NotEnoughReplicasError(topic, timeout, { partition, isr, minInsyncReplicas: minIsr });
    } catch {
      // The diagnosis is best effort: the timeout itself is still a true and typed answer.
    }
    return timeout;
  };

  // Records awaiting their delivery report: close() fails those it could not flush, so no send stays unsettled.
  const outstanding = new Set<Pending>();
  producer.on('delivery-report', (err, report) => {
    const pending = report.opaque as Pending | undefined;
    if (!pending || !outstanding.delete(pending)) return;
    if (err) {
      failed++;
      const error = deliveryError(err, pending.topic, report.partition);
      if ((err as { code?: number }).code === CODES.ERRORS.ERR__MSG_TIMED_OUT)
        void explainTimeout(error, pending.topic, report.partition).then(pending.reject);
      else pending.reject(error);
      return;
    }
    delivered++;
    latency.add(Date.now() - pending.startedAt);
    pending.resolve({ topic: report.topic, partition: report.partition, offset: String(report.offset) });
  });
  if (statsMs > 0) {
    producer.on('event.stats', (event) => {
      const parsed = parseRdkafkaStats(event.message);
      lastStats = { queueDepth: parsed.queueDepth, brokers: parsed.brokers };
      options.onMetrics?.(metrics());
    });
  }

  await new Promise<void>((resolve, reject) => {
    producer.connect({ timeout: resolved.connectTimeoutMs }, (err) =>
      err ? reject(new BrokerUnreachableError(resolved.brokers, resolved.connectTimeoutMs, err)) : resolve(),
    );
  });
  // Delivery reports are served by this poll: its period is the floor of the measured send latency.
  producer.setPollInterval(5);

  const partitionCounts = new Map<string, number>();
  const partitionsOf = async (topic: string): Promise<number> => {
    let count = partitionCounts.get(topic);
    if (count === undefined) {
      const meta = await new Promise<{ topics: Array<{ name: string; partitions: unknown[] }> }>((resolve, reject) =>
        producer.getMetadata({ topic, timeout: resolved.connectTimeoutMs }, (err, data) =>
          err ? reject(err) : resolve(data as never),
        ),
      );
      count = meta.topics.find((t) => t.name === topic)?.partitions.length ?? 0;
      if (count === 0) throw new UnknownTopicError(topic);
      partitionCounts.set(topic, count);
    }
    return count;
  };
  // Validate both topics up front: an unknown topic should fail here, not as 30 s of delivery timeouts.
  await Promise.all([partitionsOf(topics.tickers), partitionsOf(topics.trades)]);

  let roundRobinNext = 0;
  let closed = false;

  // Keys are symbols, a small set: one Buffer each instead of one per record (bounded for unusual streams).
  const keyBuffers = new Map<string, Buffer>();
  const keyOf = (symbol: string): Buffer => {
    let key = keyBuffers.get(symbol);
    if (key === undefined) {
      if (keyBuffers.size >= 10_000) keyBuffers.clear();
      key = Buffer.from(symbol);
      keyBuffers.set(symbol, key);
    }
    return key;
  };

  const produce = (event: MarketEvent, topic: string, value: Buffer, partition: number | null) =>
    new Promise<DeliveryReport>((resolve, reject) => {
      const pending: Pending = { resolve, reject, startedAt: Date.now(), topic };
      const symbol = event.kind === 'ticker' ? event.ticker.symbol : event.trade.symbol;
      const timestamp = event.kind === 'ticker' ? event.ticker.eventTime : event.trade.time;
      try {
        outstanding.add(pending);
        producer.produce(topic, partition, value, keyOf(symbol), timestamp, pending);
      } catch (e) {
        outstanding.delete(pending);
        failed++;
        reject(deliveryError(e, topic, partition ?? -1));
      }
    });

  const partitionFor = async (
    event: MarketEvent,
    topic: string,
    chosen: Exclude<Partitioning, 'key-hash'>,
  ): Promise<number> => {
    const count = await partitionsOf(topic);
    const partition = chosen === 'round-robin' ? roundRobinNext++ % count : chosen.explicit(event, count);
    if (!Number.isInteger(partition) || partition < 0 || partition >= count) {
      throw new ConfigError(`explicit partitioner returned ${partition} for a topic with ${count} partitions`);
    }
    return partition;
  };

  // Not async: the key-hash path (the default) stays one promise per record, settled by the delivery report.
  const send = (event: MarketEvent, sendOptions: { partition?: number } = {}): Promise<DeliveryReport> => {
    try {
      if (closed) throw new KandleError('CLIENT_CLOSED', 'producer is closed');
      const topic = event.kind === 'ticker' ? topics.tickers : topics.trades;
      const value = event.kind === 'ticker' ? encoders.ticker.encode(event.ticker) : encoders.trade.encode(event.trade);
      const partition = sendOptions.partition ?? null;
      if (partition === null && partitioning !== 'key-hash')
        return partitionFor(event, topic, partitioning).then((p) => produce(event, topic, value, p));
      return produce(event, topic, value, partition);
    } catch (e) {
      return Promise.reject(e);
    }
  };

  return {
    schemaIds: { tickers: tickerId, trades: tradeId },
    topics,
    send,
    sendTicker: (ticker, o) => send({ kind: 'ticker', ticker }, o),
    sendTrade: (trade, o) => send({ kind: 'trade', trade }, o),
    flush: (timeoutMs = 30_000) =>
      new Promise<void>((resolve, reject) =>
        producer.flush(timeoutMs, (err) => (err ? reject(deliveryError(err, '*', -1)) : resolve())),
      ),
    metrics,
    async close() {
      if (closed) return;
      closed = true;
      await new Promise<void>((resolve) => producer.flush(30_000, () => resolve()));
      // flush() returns once librdkafka has the acks; their delivery reports reach JS a moment later. Without this
      // wait, records already acknowledged were failed below as CLIENT_CLOSED (unhandled rejections in CI).
      for (let waited = 0; outstanding.size > 0 && waited < 5_000; waited += 20) {
        producer.poll();
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      await new Promise<void>((resolve) => producer.disconnect(() => resolve()));
      // A producer in a fatal state (or with brokers gone) can disconnect with records never reported.
      for (const pending of outstanding) {
        failed++;
        pending.reject(
          new KandleError('CLIENT_CLOSED', `producer closed before a record for ${pending.topic} was acknowledged`),
        );
      }
      outstanding.clear();
      if (diagnosisAdmin) await (await diagnosisAdmin.catch(() => null))?.close();
    },
  };
}

function isRegistryHandle(value: unknown): value is SchemaRegistryHandle {
  return !!value && typeof (value as SchemaRegistryHandle).register === 'function';
}

/** Maps a librdkafka error to kandle's typed errors. */
export function deliveryError(err: unknown, topic: string, partition: number): KandleError {
  const code = (err as { code?: number }).code;
  const message = (err as Error)?.message ?? String(err);
  const CODES = nativeCodes();
  const notEnoughReplicas =
    code === CODES.ERRORS.ERR_NOT_ENOUGH_REPLICAS || code === CODES.ERRORS.ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND;
  if (notEnoughReplicas || /not enough (in-sync )?replicas/i.test(message)) {
    return new NotEnoughReplicasError(topic, err);
  }
  if (code === CODES.ERRORS.ERR__UNKNOWN_TOPIC || code === CODES.ERRORS.ERR_UNKNOWN_TOPIC_OR_PART)
    return new UnknownTopicError(topic);
  return new DeliveryError(`could not deliver to ${topic}[${partition}]: ${message}`, { topic, partition, code }, err);
}
