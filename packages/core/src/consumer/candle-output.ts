// Consumer / candle output: produces each handled candle update as Avro to the candles topic (key symbol|interval|source|start, compacted).
import type { KafkaAdmin } from '../admin';
import type { CandleUpdate } from '../candles/types';
import { partitionForKey } from '../partitioner';
import { createAvroEncoder, type SchemaRegistryHandle, valueSubject } from '../schema/avro';
import { type CandleRecord, candleRecordSchema } from '../schema/types.generated';
import { ensureTopicLike } from './checkpoint';
import type { SideProducer } from './side-producer';

/** Where candle updates go; see `CandleConsumerOptions.output`. */
export interface CandleOutputSettings {
  topic: string;
  /** Partitions when the topic is created. Default: as many as the first input topic. */
  partitions?: number;
}

export interface CandleOutput {
  readonly topic: string;
  /** Sends every update; resolves once all are acknowledged (or, in a transaction, part of it). */
  write(updates: CandleUpdate[]): Promise<void>;
}

/** The record key: one per candle, so compaction keeps each candle's last update. */
export const candleRecordKey = (c: CandleUpdate['candle']) => `${c.symbol}|${c.interval}|${c.source}|${c.start}`;

/** Creates (or checks) the compacted candles topic, registers the CandleRecord schema, and returns the writer. */
export async function createCandleOutput(options: {
  settings: CandleOutputSettings;
  admin: KafkaAdmin;
  registry: SchemaRegistryHandle;
  producer: SideProducer;
  /** An input topic whose replication the candles topic copies. */
  like: string;
}): Promise<CandleOutput> {
  const { topic } = options.settings;
  await ensureTopicLike(
    options.admin,
    topic,
    options.like,
    { 'cleanup.policy': 'compact' },
    options.settings.partitions,
  );
  const partitions = (await options.admin.describeTopic(topic)).length;
  const schemaId = await options.registry.register(valueSubject(topic), candleRecordSchema);
  const encoder = createAvroEncoder<CandleRecord>(candleRecordSchema, schemaId);
  return {
    topic,
    async write(updates) {
      await Promise.all(
        updates.map(({ kind, candle }) => {
          const key = candleRecordKey(candle);
          return options.producer.send({
            topic,
            // The Java client's partition for this key, so Kafka Streams or Connect can join on it.
            partition: partitionForKey(key, partitions),
            key,
            value: encoder.encode({ kind, ...candle, interval: String(candle.interval) }),
          });
        }),
      );
    },
  };
}
