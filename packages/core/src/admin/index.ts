// Admin: creates and validates topics, and describes topics and groups for the dashboard and tests (a façade over its parts).
import { connectFailure } from '../connect-native';
import { type KafkaConnection, resolveKafkaConnection } from '../config';
import { BrokerUnreachableError, KandleError } from '../errors';
import { loadNativeClient } from '../rdkafka';
import { withTimeout } from '../retry';
import { GROUP_REQUEST_BUDGET_MS, type GroupRequestOptions, type GroupState, PureAdmin } from './groups';
import { ClusterMetadata, type LiveBroker, type MetadataRequestOptions, type PartitionState } from './metadata';
import { createTopicIfMissing, ensureTopic, type TopicSpec, type TopicTools } from './topics';

export type { GroupMemberState, GroupRequestOptions, GroupState } from './groups';
export { GROUP_REQUEST_BUDGET_MS } from './groups';
export type { LiveBroker, MetadataRequestOptions, PartitionState } from './metadata';
export type { TopicSpec } from './topics';
export { withTimeout } from '../retry';

/** Committed offset, end offset and lag of one partition for a group. */
export interface PartitionLag {
  topic: string;
  partition: number;
  committed: number | null;
  end: number;
  lag: number;
}

/**
 * Topic and group administration over one connection.
 *
 * @example
 * ```ts
 * const admin = await createKafkaAdmin({ brokers: '127.0.0.1:19092' });
 * await admin.ensureTopic({ name: 'prices', partitions: 2, replicationFactor: 3, minInsyncReplicas: 2 });
 * console.log(await admin.describeTopic('prices'));
 * await admin.close();
 * ```
 */
export interface KafkaAdmin {
  /**
   * Creates the topic, or checks that the existing one matches; a mismatch throws `TopicMismatchError`. Resolves once
   * every broker, asked on its own, lists it with a leader for each partition: a producer or consumer started next
   * finds it whichever broker it asks.
   */
  ensureTopic(spec: TopicSpec): Promise<'created' | 'exists'>;
  /** Partitions with leader, replicas and ISR. Throws `UnknownTopicError`. */
  describeTopic(topic: string, options?: MetadataRequestOptions): Promise<PartitionState[]>;
  /** The brokers the metadata lists now, sorted by id: a broker that is down (fenced) is missing. */
  liveBrokers(options?: MetadataRequestOptions): Promise<LiveBroker[]>;
  /**
   * Every partition of every topic whose ISR is smaller than its replica set: empty once a cluster has fully
   * recovered from a broker outage (Kafka's `UnderReplicatedPartitions`).
   */
  underReplicatedPartitions(): Promise<Array<PartitionState & { topic: string }>>;
  /**
   * Members and their assignments as the group coordinator sees them; a group that does not exist is `Dead` with no
   * members. Throws `GroupRequestError` (with `retriable`) when the coordinator cannot answer.
   */
  describeGroup(groupId: string, options?: GroupRequestOptions): Promise<GroupState>;
  /** Committed offsets and lag per partition of `topic` for `groupId`. Throws `GroupRequestError`. */
  groupLag(groupId: string, topic: string, options?: GroupRequestOptions): Promise<PartitionLag[]>;
  listTopics(): Promise<string[]>;
  /** Creates `topic` with the broker defaults (partitions, replication) unless it exists. */
  createTopicIfMissing(topic: string): Promise<void>;
  /** Committed offset (−1: none) and commit metadata of every partition of `topic` for `groupId`. Throws `GroupRequestError`. */
  committedOffsets(
    groupId: string,
    topic: string,
  ): Promise<Array<{ partition: number; offset: number; metadata: string | null }>>;
  /** The topic's `min.insync.replicas` (the broker default when the topic does not override it). */
  minInsyncReplicas(topic: string): Promise<number>;
  deleteTopic(topic: string): Promise<void>;
  close(): Promise<void>;
}

/** Connects an admin client; throws `BrokerUnreachableError` when no broker answers within `connectTimeoutMs`. */
export async function createKafkaAdmin(connection: KafkaConnection = {}): Promise<KafkaAdmin> {
  const resolved = resolveKafkaConnection(connection);
  const { KafkaJS } = await loadNativeClient();
  const kafka = new KafkaJS.Kafka({ ...resolved.rdkafka, kafkaJS: { logLevel: KafkaJS.logLevel.NOTHING } } as never);
  const admin = kafka.admin();
  await withTimeout(
    admin.connect(),
    resolved.connectTimeoutMs,
    () => new BrokerUnreachableError(resolved.brokers, resolved.connectTimeoutMs),
  );
  // Fail fast when nothing answers: librdkafka's connect() resolves before any broker replied.
  await withTimeout(
    admin.listTopics({ timeout: resolved.connectTimeoutMs }),
    resolved.connectTimeoutMs + 1000,
    () => new BrokerUnreachableError(resolved.brokers, resolved.connectTimeoutMs),
  ).catch(async (e) => {
    void admin.disconnect().catch(() => undefined);
    throw e instanceof KandleError && e.code !== 'BROKER_UNREACHABLE' ? e : await connectFailure(resolved, e);
  });

  // kandle's own wire client (pure JS) speaks what the native binding cannot do safely: group descriptions and
  // offset fetches (it segfaults on their error answers), DescribeConfigs (missing) and CreateTopics (stalls after
  // broker restarts).
  const pure = new PureAdmin(connection, resolved.brokers, resolved.connectTimeoutMs);
  const metadata = new ClusterMetadata(resolved);
  const topics: TopicTools = { listTopics: () => admin.listTopics(), pure, metadata };

  return {
    ensureTopic: (spec) => ensureTopic(topics, spec),
    describeTopic: (topic, options) => metadata.describeTopic(topic, options),
    liveBrokers: (options) => metadata.liveBrokers(options),
    underReplicatedPartitions: () => metadata.underReplicatedPartitions(),
    describeGroup: (groupId, options) => pure.describeGroup(groupId, options),
    async groupLag(groupId, topic, options = {}) {
      const [committed, ends] = await Promise.all([
        pure.committedOffsets(groupId, topic, options),
        metadata.watermarks(topic, groupId, options.budgetMs ?? GROUP_REQUEST_BUDGET_MS),
      ]);
      const byPartition = new Map(committed.map((p) => [p.partition, p.offset]));
      return ends.map((e) => {
        const c = byPartition.get(e.partition);
        const committedOffset = c === undefined || c < 0 ? null : c;
        return {
          topic,
          partition: e.partition,
          committed: committedOffset,
          end: e.high,
          lag: e.high - (committedOffset ?? e.low),
        };
      });
    },
    listTopics: () => admin.listTopics(),
    createTopicIfMissing: (topic) => createTopicIfMissing(topics, topic),
    committedOffsets: (groupId, topic) => pure.committedOffsets(groupId, topic),
    async deleteTopic(topic) {
      await admin.deleteTopics({ topics: [topic] });
    },
    async minInsyncReplicas(topic) {
      return Number((await pure.topicConfigs(topic, ['min.insync.replicas'])).get('min.insync.replicas') ?? 1);
    },
    async close() {
      await Promise.all([admin.disconnect(), pure.close(), metadata.close()]);
    },
  };
}
