// Consumer / side producer: the idempotent acks=all producer that writes the consumer's own records (dead letters, checkpoints).
import { connectNative } from '../connect-native';
import type { ResolvedKafkaConnection, RdkafkaSettings } from '../config';
import { isFatalClientError } from '../errors';
import { DELIVERY_POLL_INTERVAL_MS, disconnectProducer, loadNativeClient, type Producer } from '../rdkafka';

/** One record to write; `partition: null` lets librdkafka choose. */
export interface SideRecord {
  topic: string;
  partition: number | null;
  key: Buffer | string | null;
  value: Buffer | null;
  timestamp?: number;
  headers?: Array<Record<string, string>>;
}

/** Writes records and says when each is durable (acks=all). */
export interface SideProducer {
  /** Resolves once the record is acknowledged by all in-sync replicas; rejects with the delivery error. */
  send(record: SideRecord): Promise<void>;
  close(): Promise<void>;
}

/**
 * Connects the producer. Idempotence keeps records of one partition in order across retries, which the
 * checkpoint relies on (its position record must land after the candle records it covers).
 */
export async function createSideProducer(
  resolved: ResolvedKafkaConnection,
  userSettings: RdkafkaSettings,
  clientId: string,
): Promise<SideProducer> {
  const connect = () => connectProducer(resolved, { 'client.id': `${clientId}-side` }, userSettings);
  let producer = await connect();
  // A fatally failed idempotent producer (seen after broker kills: "Local: Fatal error") refuses every later record;
  // kept, it would fail every checkpoint and dead letter from then on, so no offset would ever be committed again.
  let replacing: Promise<void> | undefined;
  const replace = (failed: Producer) => {
    replacing ??= connect()
      .then((fresh) => {
        if (producer === failed) producer = fresh;
        void disconnectProducer(failed);
      })
      .catch(() => undefined) // still unreachable: the next fatal error tries again
      .finally(() => {
        replacing = undefined;
      });
  };
  return {
    async send(record) {
      await replacing;
      const used = producer;
      try {
        await sendRecord(used, record);
      } catch (e) {
        if (isFatalClientError(e)) replace(used);
        throw e;
      }
    },
    async close() {
      await replacing;
      await new Promise<void>((resolve) => producer.flush(10_000, () => resolve()));
      await disconnectProducer(producer);
    },
  };
}

/**
 * An idempotent acks=all producer whose delivery reports settle {@link sendRecord}'s promises. `settings` add to
 * kandle's defaults; the connection's raw settings win over both (KafkaConnection.rdkafka).
 */
export async function connectProducer(
  resolved: ResolvedKafkaConnection,
  settings: RdkafkaSettings,
  userSettings: RdkafkaSettings,
): Promise<Producer> {
  const { Producer } = (await loadNativeClient()).RdKafka;
  const producer = new Producer({
    ...resolved.rdkafka,
    'enable.idempotence': true,
    acks: -1,
    dr_cb: true,
    ...settings,
    ...userSettings,
  } as never);
  await connectNative(producer, resolved);
  producer.setPollInterval(DELIVERY_POLL_INTERVAL_MS);
  producer.on('delivery-report', (err, report) => {
    const done = report.opaque as ((e?: unknown) => void) | undefined;
    done?.(err ?? undefined);
  });
  return producer;
}

/** Produces one record on a {@link connectProducer} producer; resolves once it is acknowledged. */
export function sendRecord(producer: Producer, record: SideRecord): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    try {
      produceRecord(producer, record, (e) => (e ? reject(e) : resolve()));
    } catch (e) {
      reject(e); // queue full, unknown partition, or no transaction to produce in: the caller decides
    }
  });
}

/** Hands one record to librdkafka; `delivered` gets its delivery report. Throws when librdkafka refuses it. */
export function produceRecord(producer: Producer, record: SideRecord, delivered: (e?: unknown) => void): void {
  producer.produce(
    record.topic,
    record.partition,
    record.value,
    record.key,
    record.timestamp ?? Date.now(),
    delivered,
    (record.headers ?? []) as never,
  );
}
