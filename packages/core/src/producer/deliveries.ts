// Producer / deliveries: every record awaiting its delivery report, settled by it, counted and timed; timeouts explained.
import type { KafkaAdmin } from '../admin';
import { DeliveryError, KandleError, NotEnoughReplicasError, UnknownTopicError } from '../errors';
import { LatencyWindow, type ProducerMetrics } from '../metrics';
import { isUnknownTopicCode, nativeCodes, type Producer } from '../rdkafka';
import { withTimeout } from '../retry';
import type { DeliveryReport } from './options';

/** One record handed to librdkafka, waiting for its delivery report (it is the record's opaque). */
export interface Pending {
  resolve: (report: DeliveryReport) => void;
  reject: (error: Error) => void;
  startedAt: number;
  topic: string;
}

/** How a delivery timeout is diagnosed: the admin to ask, and whether `acks=all` makes the ISR matter. */
export interface TimeoutDiagnosis {
  admin: () => Promise<KafkaAdmin>;
  acksAll: boolean;
  /** The topics' `min.insync.replicas` when the caller knows it; else asked from the cluster. */
  minInsyncReplicas: number | undefined;
}

/**
 * The records a producer has in flight. Every one is settled exactly once: by its delivery report, by a `produce()`
 * that throws, or by {@link failAll} on close, so no `send()` promise stays unsettled.
 */
export class Deliveries {
  private readonly outstanding = new Set<Pending>();
  private readonly latency = new LatencyWindow();
  private delivered = 0;
  private failed = 0;
  private lastStats = { queueDepth: 0, brokers: [] as ProducerMetrics['brokers'] };

  constructor(private readonly diagnosis: TimeoutDiagnosis) {}

  get size(): number {
    return this.outstanding.size;
  }

  /** Registers a record about to be produced; `settle` it with {@link onReport} or {@link refused}. */
  track(pending: Pending): void {
    this.outstanding.add(pending);
  }

  /** librdkafka refused the record at once (queue full, unknown partition): it never got in flight. */
  refused(pending: Pending, error: unknown, partition: number | null): void {
    this.outstanding.delete(pending);
    this.failed++;
    pending.reject(deliveryError(error, pending.topic, partition ?? -1));
  }

  /** The `delivery-report` listener. */
  onReport(err: unknown, report: { opaque?: unknown; topic: string; partition: number; offset?: number }): void {
    const pending = report.opaque as Pending | undefined;
    if (!pending || !this.outstanding.delete(pending)) return;
    if (err) {
      this.failed++;
      const error = deliveryError(err, pending.topic, report.partition);
      if ((err as { code?: number }).code === nativeCodes().ERRORS.ERR__MSG_TIMED_OUT)
        void this.explainTimeout(error, pending.topic, report.partition).then(pending.reject);
      else pending.reject(error);
      return;
    }
    this.delivered++;
    this.latency.add(Date.now() - pending.startedAt);
    pending.resolve({ topic: report.topic, partition: report.partition, offset: String(report.offset) });
  }

  noteStats(stats: { queueDepth: number; brokers: ProducerMetrics['brokers'] }): void {
    this.lastStats = { queueDepth: stats.queueDepth, brokers: stats.brokers };
  }

  metrics(): ProducerMetrics {
    return {
      queueDepth: this.lastStats.queueDepth,
      deliveryLatencyMs: this.latency.percentiles(),
      brokers: this.lastStats.brokers,
      delivered: this.delivered,
      failed: this.failed,
    };
  }

  /**
   * flush() returns once librdkafka has the acks; their delivery reports reach JS a moment later. Without this wait
   * (at most `ms`), records already acknowledged were failed on close as CLIENT_CLOSED (unhandled rejections in CI).
   */
  async drain(producer: Producer, ms: number): Promise<void> {
    for (let waited = 0; this.outstanding.size > 0 && waited < ms; waited += 20) {
      producer.poll();
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  /** Fails what is still unreported (a producer in a fatal state, or with brokers gone, can disconnect so). */
  failAll(): void {
    for (const pending of this.outstanding) {
      this.failed++;
      pending.reject(
        new KandleError('CLIENT_CLOSED', `producer closed before a record for ${pending.topic} was acknowledged`),
      );
    }
    this.outstanding.clear();
  }

  /**
   * librdkafka retries NOT_ENOUGH_REPLICAS until the record times out and then reports only the timeout; asking
   * the cluster why turns "timed out" into the error that says what is wrong. Best effort: the timeout itself is
   * still a true and typed answer.
   */
  private async explainTimeout(timeout: KandleError, topic: string, partition: number): Promise<KandleError> {
    const { diagnosis } = this;
    try {
      const admin = await withTimeout(diagnosis.admin(), 10_000, () => timeout);
      const [state, minIsr] = await withTimeout(
        Promise.all([admin.describeTopic(topic), diagnosis.minInsyncReplicas ?? admin.minInsyncReplicas(topic)]),
        10_000,
        () => timeout,
      );
      const isr = state.find((p) => p.partition === partition)?.isr ?? [];
      if (diagnosis.acksAll && isr.length < minIsr)
        return new NotEnoughReplicasError(topic, timeout, { partition, isr, minInsyncReplicas: minIsr });
    } catch {
      // See above: the timeout stands.
    }
    return timeout;
  }
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
  if (isUnknownTopicCode(code)) return new UnknownTopicError(topic);
  return new DeliveryError(`could not deliver to ${topic}[${partition}]: ${message}`, { topic, partition, code }, err);
}
