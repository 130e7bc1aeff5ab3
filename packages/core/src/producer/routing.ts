// Producer / routing: which partition a record goes to (key-hash by librdkafka, roundrobin or explicit here) and its key bytes.
import type { ResolvedKafkaConnection } from '../config';
import { ConfigError, UnknownTopicError } from '../errors';
import type { Producer } from '../rdkafka';
import type { MarketEvent } from '../sources/source';
import type { Partitioning } from './options';

/** Partition counts (read once per topic), record keys, and the partitioners that are not librdkafka's. */
export class Routing {
  private readonly partitionCounts = new Map<string, number>();
  // Keys are symbols, a small set: one Buffer each instead of one per record (bounded for unusual streams).
  private readonly keyBuffers = new Map<string, Buffer>();
  private roundRobinNext = 0;

  constructor(
    private readonly producer: Producer,
    private readonly resolved: ResolvedKafkaConnection,
  ) {}

  /** The topic's partition count from the cluster's metadata; throws `UnknownTopicError` for a missing topic. */
  async partitionsOf(topic: string): Promise<number> {
    let count = this.partitionCounts.get(topic);
    if (count === undefined) {
      const meta = await new Promise<{ topics: Array<{ name: string; partitions: unknown[] }> }>((resolve, reject) =>
        this.producer.getMetadata({ topic, timeout: this.resolved.connectTimeoutMs }, (err, data) =>
          err ? reject(err) : resolve(data as never),
        ),
      );
      count = meta.topics.find((t) => t.name === topic)?.partitions.length ?? 0;
      if (count === 0) throw new UnknownTopicError(topic);
      this.partitionCounts.set(topic, count);
    }
    return count;
  }

  /** The partition `partitioning` picks for `event` (key-hash is left to librdkafka's murmur2_random). */
  async partitionFor(
    event: MarketEvent,
    topic: string,
    partitioning: Exclude<Partitioning, 'key-hash' | 'round-robin'>,
  ): Promise<number> {
    const count = await this.partitionsOf(topic);
    const partition =
      partitioning === 'roundrobin' ? this.roundRobinNext++ % count : partitioning.explicit(event, count);
    if (!Number.isInteger(partition) || partition < 0 || partition >= count) {
      throw new ConfigError(`explicit partitioner returned ${partition} for a topic with ${count} partitions`);
    }
    return partition;
  }

  /** The record key: the symbol's bytes. */
  keyOf(symbol: string): Buffer {
    let key = this.keyBuffers.get(symbol);
    if (key === undefined) {
      if (this.keyBuffers.size >= 10_000) this.keyBuffers.clear();
      key = Buffer.from(symbol);
      this.keyBuffers.set(symbol, key);
    }
    return key;
  }
}
