// Admin / metadata: brokers, leaders, ISR and end offsets through a plain librdkafka handle, answered by any live broker.
import { connectNative } from '../connect-native';
import type { ResolvedKafkaConnection } from '../config';
import { GroupRequestError, KandleError, UnknownTopicError } from '../errors';
import type { Producer } from '../rdkafka';
import { loadNativeClient } from '../rdkafka';
import { withTimeout } from '../retry';

/** A partition as the cluster reports it. */
export interface PartitionState {
  partition: number;
  leader: number;
  replicas: number[];
  isr: number[];
}

/** Per-call options of the metadata reads (`KafkaAdmin.describeTopic`, `KafkaAdmin.liveBrokers`). */
export interface MetadataRequestOptions {
  /** How long librdkafka may take to answer. Default the connection's `connectTimeoutMs` (15 s). */
  timeoutMs?: number;
}

/** A broker the cluster's metadata lists as registered and unfenced (a stopped broker drops out of it). */
export interface LiveBroker {
  id: number;
  host: string;
  port: number;
}

/** What librdkafka's getMetadata returns (the typings leave it loose). */
interface NativeMetadata {
  brokers: Array<{ id: number; host: string; port: number }>;
  topics: Array<{
    name: string;
    partitions: Array<{ id: number; leader: number; replicas: number[]; isrs: number[] }>;
  }>;
}

/**
 * Metadata through a plain librdkafka handle, connected on first use: the KafkaJS-compatible admin's
 * fetchTopicMetadata times out for as long as any broker of the cluster is down, exactly when a dashboard or a
 * failover test needs the ISR.
 */
export class ClusterMetadata {
  private handle: Promise<Producer> | undefined;

  constructor(private readonly resolved: ResolvedKafkaConnection) {}

  async describeTopic(topic: string, options: MetadataRequestOptions = {}): Promise<PartitionState[]> {
    const partitions = (await this.read(topic, options.timeoutMs)).topics.find((t) => t.name === topic)?.partitions;
    if (!partitions || partitions.length === 0) throw new UnknownTopicError(topic);
    return partitionStates(partitions);
  }

  async liveBrokers(options: MetadataRequestOptions = {}): Promise<LiveBroker[]> {
    return (await this.read(undefined, options.timeoutMs)).brokers
      .map((b) => ({ id: b.id, host: b.host, port: b.port }))
      .sort((a, b) => a.id - b.id);
  }

  async underReplicatedPartitions(): Promise<Array<PartitionState & { topic: string }>> {
    return (await this.read()).topics.flatMap((t) =>
      partitionStates(t.partitions)
        .filter((p) => p.isr.length < p.replicas.length)
        .map((p) => ({ topic: t.name, ...p })),
    );
  }

  /**
   * Low and high watermark of every partition of `topic`, within `budgetMs`. Through librdkafka, which follows a
   * leader change by itself: KafkaJS keeps asking the leader its metadata names (refreshed only every 5 minutes), and
   * answered "no leader … leadership election" for as long as a stopped broker stayed down. A ListOffsets answer is
   * not one of the group answers the binding crashes on.
   */
  async watermarks(
    topic: string,
    groupId: string,
    budgetMs: number,
  ): Promise<Array<{ partition: number; low: number; high: number }>> {
    const fetch = async () => {
      const handle = await this.connect();
      const partitions = await this.describeTopic(topic, { timeoutMs: budgetMs });
      return Promise.all(
        partitions.map(
          (p) =>
            new Promise<{ partition: number; low: number; high: number }>((resolve, reject) =>
              handle.queryWatermarkOffsets(topic, p.partition, budgetMs, (err, offsets) =>
                err
                  ? reject(err)
                  : resolve({ partition: p.partition, low: offsets.lowOffset, high: offsets.highOffset }),
              ),
            ),
        ),
      );
    };
    const timedOut = () => new GroupRequestError('fetch end offsets', groupId, true, `no answer within ${budgetMs} ms`);
    try {
      return await withTimeout(fetch(), budgetMs, timedOut);
    } catch (e) {
      if (e instanceof KandleError) throw e;
      throw new GroupRequestError('fetch end offsets', groupId, true, e);
    }
  }

  async close(): Promise<void> {
    const handle = await this.handle?.catch(() => undefined);
    if (handle) await new Promise<void>((resolve) => handle.disconnect(() => resolve()));
  }

  private connect(): Promise<Producer> {
    const { resolved } = this;
    this.handle ??= loadNativeClient().then(({ RdKafka }) => {
      const handle = new RdKafka.Producer({ ...resolved.rdkafka, log_level: 0 } as never);
      return connectNative(handle, resolved).then(() => handle);
    });
    return this.handle;
  }

  private async read(topic?: string, timeoutMs = this.resolved.connectTimeoutMs): Promise<NativeMetadata> {
    const handle = await this.connect();
    return new Promise<NativeMetadata>((resolve, reject) =>
      handle.getMetadata(topic ? { topic, timeout: timeoutMs } : { timeout: timeoutMs }, (err, data) =>
        err ? reject(err) : resolve(data as unknown as NativeMetadata),
      ),
    );
  }
}

function partitionStates(partitions: NativeMetadata['topics'][number]['partitions']): PartitionState[] {
  return partitions
    .map((p) => ({ partition: p.id, leader: p.leader, replicas: [...p.replicas].sort(), isr: [...p.isrs].sort() }))
    .sort((a, b) => a.partition - b.partition);
}
