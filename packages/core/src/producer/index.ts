// Producer: market events → Avro (Confluent framing) → Kafka with acks=all, idempotence and Java-compatible keys.
import { connectNative } from '../connect-native';
import { createKafkaAdmin, type KafkaAdmin } from '../admin';
import { allowingTopicPropagation } from '../admin/topics';
import { type ResolvedKafkaConnection, resolveKafkaConnection } from '../config';
import { ConfigError, KandleError, kandleErrorFrom } from '../errors';
import { type KandleLogger, logWarning } from '../logger';
import { parseRdkafkaStats } from '../metrics';
import { DELIVERY_POLL_INTERVAL_MS, disconnectProducer, loadNativeClient, type Producer } from '../rdkafka';
import { createAvroEncoder, registryHandleFor, valueSubject } from '../schema/avro';
import { type Ticker, type Trade, tickerSchema, tradeSchema } from '../schema/types.generated';
import type { MarketEvent } from '../sources/source';
import { Deliveries, deliveryError, type Pending } from './deliveries';
import type { CryptoProducer, CryptoProducerOptions, DeliveryReport } from './options';
import { ThrottledReport } from '../throttled-report';
import { Routing } from './routing';

export type { CryptoProducer, CryptoProducerOptions, DeliveryReport, Partitioning } from './options';

/** Connects, registers the schemas (TopicNameStrategy subjects) and returns a ready producer. */
export function createCryptoProducer(options: CryptoProducerOptions = {}): Promise<CryptoProducer> {
  return openCryptoProducer(options, {});
}

/**
 * Internal: {@link createCryptoProducer} with parts a `Kandle` client shares (resolved connection, admin). A borrowed
 * admin's `close()` does nothing: the client closes it.
 */
export async function openCryptoProducer(
  options: CryptoProducerOptions,
  shared: { resolved?: ResolvedKafkaConnection; admin?: KafkaAdmin },
): Promise<CryptoProducer> {
  const resolved = shared.resolved ?? resolveKafkaConnection(options.connection);
  const acks = options.acks ?? 'all';
  const idempotence = options.idempotence ?? acks === 'all';
  if (idempotence && acks !== 'all') throw new ConfigError("idempotence needs acks: 'all'", { acks });
  const partitioning = options.partitioning === 'round-robin' ? 'roundrobin' : (options.partitioning ?? 'key-hash');
  const topics = { tickers: options.topics?.tickers ?? 'tickers', trades: options.topics?.trades ?? 'trades' };
  const registry = registryHandleFor(options.registry);
  const [tickerId, tradeId] = await Promise.all([
    registry.register(valueSubject(topics.tickers), tickerSchema),
    registry.register(valueSubject(topics.trades), tradeSchema),
  ]);
  const encoders = {
    ticker: createAvroEncoder<Ticker>(tickerSchema, tickerId),
    trade: createAvroEncoder<Trade>(tradeSchema, tradeId),
  };

  // The diagnosis admin is opened only when a record times out (or borrowed from a Kandle client).
  let diagnosisAdmin: Promise<KafkaAdmin> | null = shared.admin ? Promise.resolve(shared.admin) : null;
  const deliveries = new Deliveries({
    admin: () => (diagnosisAdmin ??= createKafkaAdmin(options.connection)),
    acksAll: acks === 'all',
    minInsyncReplicas: options.minInsyncReplicas,
  });
  const producer = await connectProducer(options, resolved, { acks, idempotence }, deliveries);
  const routing = new Routing(producer, resolved);
  // Validate both topics up front: an unknown topic should fail here, not as 30 s of delivery timeouts.
  await allowingTopicPropagation(() =>
    Promise.all([routing.partitionsOf(topics.tickers), routing.partitionsOf(topics.trades)]),
  ).catch(async (e: unknown) => {
    // Nothing was sent yet, and a connected handle would keep its threads and the caller's process alive.
    await disconnectProducer(producer);
    throw e;
  });
  let closed = false;

  const produce = (event: MarketEvent, topic: string, value: Buffer, partition: number | null) =>
    new Promise<DeliveryReport>((resolve, reject) => {
      const pending: Pending = { resolve, reject, startedAt: Date.now(), topic };
      const symbol = event.kind === 'ticker' ? event.ticker.symbol : event.trade.symbol;
      const timestamp = event.kind === 'ticker' ? event.ticker.eventTime : event.trade.time;
      try {
        deliveries.track(pending);
        producer.produce(topic, partition, value, routing.keyOf(symbol), timestamp, pending);
      } catch (e) {
        deliveries.refused(pending, e, partition);
      }
    });

  // Not async: the key-hash path (the default) stays one promise per record, settled by the delivery report.
  const send = (event: MarketEvent, sendOptions: { partition?: number } = {}): Promise<DeliveryReport> => {
    try {
      if (closed) throw new KandleError('CLIENT_CLOSED', 'producer is closed');
      const topic = event.kind === 'ticker' ? topics.tickers : topics.trades;
      const value = event.kind === 'ticker' ? encoders.ticker.encode(event.ticker) : encoders.trade.encode(event.trade);
      const partition = sendOptions.partition ?? null;
      if (partition === null && partitioning !== 'key-hash')
        return routing.partitionFor(event, topic, partitioning).then((p) => produce(event, topic, value, p));
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
    metrics: () => deliveries.metrics(),
    async close() {
      if (closed) return;
      closed = true;
      await new Promise<void>((resolve) => producer.flush(30_000, () => resolve()));
      await deliveries.drain(producer, 5_000);
      await disconnectProducer(producer);
      deliveries.failAll();
      if (diagnosisAdmin) await (await diagnosisAdmin.catch(() => null))?.close();
    },
  };
}

/** Internal: librdkafka's client errors (it retries them itself) as throttled warnings: a broker down raises thousands. */
export function reportClientErrors(producer: Pick<Producer, 'on'>, logger: KandleLogger): void {
  const report = new ThrottledReport<unknown>(5_000, (error, repeated) =>
    logWarning(
      logger,
      kandleErrorFrom(
        'BROKER_UNREACHABLE',
        `producer client error${repeated > 0 ? ` (and ${repeated} more like it)` : ''}`,
        error,
        { retriable: true },
      ),
    ),
  );
  producer.on('event.error', (error) => report.report(error));
}

/**
 * 20 ms, not librdkafka's 5. On this project's 2-core machines, with 3 brokers and `acks=all`, a raw librdkafka
 * producer at 1,000 records/s (and a consumer in the same process) measured a delivery p99 of 243–480 ms and
 * 503–714 µs of CPU per record with 5 ms batches, and 31–38 ms and 220–250 µs with 20 ms ones: smaller batches mean
 * more produce requests, and the brokers and the client's own threads paid for each. See docs/benchmarks.md.
 */
const DEFAULT_LINGER_MS = 20;

/** The librdkafka producer with kandle's defaults (the connection's raw settings win), connected, reporting to `deliveries`. */
async function connectProducer(
  options: CryptoProducerOptions,
  resolved: ResolvedKafkaConnection,
  settings: { acks: 'all' | 0 | 1; idempotence: boolean },
  deliveries: Deliveries,
): Promise<Producer> {
  const statsMs = options.statisticsIntervalMs ?? 0;
  const { Producer: RdProducer } = (await loadNativeClient()).RdKafka;
  const producer = new RdProducer({
    // murmur2_random is the Java client's partitioner; librdkafka's default (consistent_random, CRC32) is not.
    partitioner: 'murmur2_random',
    'enable.idempotence': settings.idempotence,
    acks: settings.acks === 'all' ? -1 : settings.acks,
    'linger.ms': options.lingerMs ?? DEFAULT_LINGER_MS,
    'message.timeout.ms': options.deliveryTimeoutMs ?? 30_000,
    'compression.type': 'lz4',
    dr_cb: true,
    'statistics.interval.ms': statsMs,
    ...resolved.rdkafka,
  } as never);
  producer.on('delivery-report', (err, report) => deliveries.onReport(err, report as never));
  if (options.logger) reportClientErrors(producer, options.logger);
  if (statsMs > 0) {
    producer.on('event.stats', (event) => {
      deliveries.noteStats(parseRdkafkaStats(event.message));
      options.onMetrics?.(deliveries.metrics());
    });
  }
  await connectNative(producer, resolved);
  producer.setPollInterval(DELIVERY_POLL_INTERVAL_MS);
  return producer;
}
