// Metrics: the pipeline's producer, consumer, candle and sink counters as Prometheus text on the page's /metrics.
import type { CandleConsumer, ConsumerMetrics, CryptoProducer } from '@kandle/core';
import type { InfluxSink } from '@kandle/influx-sink';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

/** What the pipeline hands to {@link createPipelineMetrics}; the parts are read at scrape time. */
export interface PipelineMetricsOptions {
  producer: () => CryptoProducer | undefined;
  consumers: () => readonly CandleConsumer[];
  /** Present when INFLUX_HOST is configured; without it the `kandle_sink_*` series are not exported at all. */
  sink: InfluxSink | undefined;
  /** Also export Node's process metrics (CPU, memory, event-loop lag, GC). Default true. */
  processMetrics?: boolean;
}

/** The metrics of one running pipeline. */
export interface PipelineMetrics {
  /** `text/plain; version=0.0.4; charset=utf-8`. */
  readonly contentType: string;
  /** The Prometheus exposition text of every metric, collected now. */
  render(): Promise<string>;
  /** Records one delivery report's latency (send → acknowledged or failed). */
  observeDelivery(seconds: number): void;
  /** Takes a consumer's librdkafka statistics (lag per partition); call it from `onMetrics`. */
  consumerStats(clientId: string, metrics: ConsumerMetrics): void;
}

type Labels = Record<string, string>;

/**
 * Creates a private prom-client registry for one pipeline (not prom-client's global one, so two pipelines in one
 * process, as in the tests, do not clash). Counters mirror the components' own cumulative counters at scrape time,
 * so nothing is counted twice and nothing needs a hook in the data path except the delivery-latency histogram.
 *
 * @example
 * ```ts
 * const metrics = createPipelineMetrics({ producer: () => producer, consumers: () => consumers, sink: () => sink });
 * const text = await metrics.render();
 * ```
 */
export function createPipelineMetrics(options: PipelineMetricsOptions): PipelineMetrics {
  const registry = new Registry();
  if (options.processMetrics ?? true) collectDefaultMetrics({ register: registry });

  const deliveryLatency = new Histogram({
    name: 'kandle_producer_delivery_latency_seconds',
    help: 'Time from producer.send() to the broker acknowledgement (acks=all), per record.',
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  });
  new Gauge({
    name: 'kandle_producer_queue_records',
    help: "Records in librdkafka's producer queue, not yet acknowledged.",
    registers: [registry],
    collect() {
      const producer = options.producer();
      if (producer) this.set(producer.metrics().queueDepth);
    },
  });
  mirrorCounter(registry, 'kandle_producer_records_delivered_total', 'Records the brokers acknowledged.', [], () => {
    const producer = options.producer();
    return producer ? [[{}, producer.metrics().delivered]] : [];
  });
  mirrorCounter(registry, 'kandle_producer_records_failed_total', 'Records whose delivery failed.', [], () => {
    const producer = options.producer();
    return producer ? [[{}, producer.metrics().failed]] : [];
  });

  // librdkafka reports lag only in its periodic statistics, so the latest report per member is kept here.
  const lagByMember = new Map<string, ConsumerMetrics['lag']>();
  new Gauge({
    name: 'kandle_consumer_lag_records',
    help: "Records between a partition's end and the member's position (librdkafka consumer_lag).",
    labelNames: ['client_id', 'topic', 'partition'],
    registers: [registry],
    collect() {
      this.reset();
      // A member's last statistics may predate a rebalance and still list partitions it gave away: report only
      // what each member owns now, so a partition never has two owners here.
      const owned = new Map(
        options
          .consumers()
          .map((c) => [c.clientId, new Set(c.assignment().map((tp) => `${tp.topic}|${tp.partition}`))]),
      );
      for (const [clientId, lags] of lagByMember)
        for (const l of lags)
          if (l.lag >= 0 && owned.get(clientId)?.has(`${l.topic}|${l.partition}`))
            this.set({ client_id: clientId, topic: l.topic, partition: String(l.partition) }, l.lag);
    },
  });
  const perConsumer = (read: (stats: ReturnType<CandleConsumer['stats']>) => number) => (): Array<[Labels, number]> =>
    options.consumers().map((c) => [{ client_id: c.clientId }, read(c.stats())]);
  const consumerCounters: Array<[string, string, (s: ReturnType<CandleConsumer['stats']>) => number]> = [
    ['kandle_consumer_records_total', 'Records read and decoded by the member.', (s) => s.records],
    ['kandle_consumer_poison_records_total', 'Records that could not be decoded (dead-lettered).', (s) => s.poison],
    [
      'kandle_consumer_rebalances_total',
      'Partition assignments and revocations the member went through.',
      (s) => s.rebalances,
    ],
    ['kandle_consumer_commits_total', 'Offset commits of the member.', (s) => s.commits],
    [
      'kandle_candle_updates_total',
      'Candle updates (progress, closed, correction) the member emitted.',
      (s) => s.updates,
    ],
  ];
  for (const [name, help, read] of consumerCounters)
    mirrorCounter(registry, name, help, ['client_id'], perConsumer(read));

  if (options.sink) registerSinkMetrics(registry, options.sink);

  return {
    contentType: registry.contentType,
    render: () => registry.metrics(),
    observeDelivery: (seconds) => deliveryLatency.observe(seconds),
    consumerStats: (clientId, metrics) => lagByMember.set(clientId, metrics.lag),
  };
}

/** The InfluxDB sink's counters: points written, retried requests, points refused, points pending. */
function registerSinkMetrics(registry: Registry, sink: InfluxSink): void {
  const sinkCounter = (name: string, help: string, read: (s: ReturnType<InfluxSink['stats']>) => number) =>
    mirrorCounter(registry, name, help, [], () => [[{}, read(sink.stats())]]);
  sinkCounter('kandle_sink_points_written_total', 'Points InfluxDB accepted.', (s) => s.pointsWritten);
  sinkCounter(
    'kandle_sink_write_retries_total',
    'Write requests repeated after a retryable failure.',
    (s) => s.retries,
  );
  sinkCounter('kandle_sink_points_failed_total', 'Points InfluxDB refused for good.', (s) => s.failedPoints);
  new Gauge({
    name: 'kandle_sink_pending_points',
    help: 'Points buffered or in flight to InfluxDB.',
    registers: [registry],
    collect() {
      this.set(sink.stats().pendingPoints);
    },
  });
}

/**
 * A counter that shows a component's own cumulative count, read at scrape time. prom-client counters only go up
 * by `inc`, so each scrape resets and sets them to the source's total (still monotonic: the totals only grow).
 */
function mirrorCounter(
  registry: Registry,
  name: string,
  help: string,
  labelNames: string[],
  read: () => Array<[Labels, number]>,
): void {
  new Counter({
    name,
    help,
    labelNames,
    registers: [registry],
    collect() {
      this.reset();
      for (const [labels, value] of read()) if (value > 0) this.inc(labels, value);
    },
  });
}
