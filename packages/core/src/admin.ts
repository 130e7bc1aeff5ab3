// Admin: creates and validates topics, and describes topics and groups for the dashboard and tests.
import { type KafkaConnection, resolveKafkaConnection } from './config';
import {
  BrokerUnreachableError,
  ConfigError,
  GroupRequestError,
  KandleError,
  TopicMismatchError,
  UnknownTopicError,
} from './errors';
import { GROUP_REQUEST_BUDGET_MS, type GroupRequestOptions, type GroupState, PureAdmin } from './pure-admin';
import { backoffMs, sleep, withTimeout } from './retry';
import { loadNativeClient, type Producer } from './rdkafka';

export type { GroupMemberState, GroupRequestOptions, GroupState } from './pure-admin';
export { GROUP_REQUEST_BUDGET_MS } from './pure-admin';
export { withTimeout } from './retry';

/** What a topic should look like. */
export interface TopicSpec {
  name: string;
  /** Default 2 (the original kafka-python project's). */
  partitions?: number;
  /** Default 3. */
  replicationFactor?: number;
  /** `min.insync.replicas`; with `acks=all` a write needs this many replicas in sync. Default 2. */
  minInsyncReplicas?: number;
  /** Extra topic configs (`retention.ms`, `cleanup.policy`, …). */
  configs?: Record<string, string>;
}

/** A partition as the cluster reports it. */
export interface PartitionState {
  partition: number;
  leader: number;
  replicas: number[];
  isr: number[];
}

/** Per-call options of the metadata reads ({@link KafkaAdmin.describeTopic}, {@link KafkaAdmin.liveBrokers}). */
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
  /** Creates the topic, or checks that the existing one matches; a mismatch throws `TopicMismatchError`. */
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
  const { KafkaJS, RdKafka } = await loadNativeClient();
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
  ).catch((e) => {
    void admin.disconnect().catch(() => undefined);
    throw e instanceof KandleError ? e : new BrokerUnreachableError(resolved.brokers, resolved.connectTimeoutMs, e);
  });

  // KafkaJS (pure JS) speaks what the native binding cannot do safely: group descriptions and offset fetches
  // (it segfaults on their error answers), DescribeConfigs (missing) and CreateTopics (stalls after broker restarts).
  const pure = new PureAdmin(connection, resolved.brokers, resolved.connectTimeoutMs);
  const pureAdmin = () => pure.admin();

  // A created topic reaches every broker's metadata a moment later; clients started before that see "unknown topic".
  // With no `partitions`, any partition count is accepted (an existing topic is validated afterwards).
  const untilVisible = async (topic: string, partitions?: number): Promise<void> => {
    const deadline = Date.now() + 30_000;
    let seen = 0;
    while (seen < 3) {
      const state = await describeTopic(topic).catch(() => []);
      const complete = state.length > 0 && (partitions === undefined || state.length === partitions);
      seen = complete && state.every((p) => p.leader >= 0) ? seen + 1 : 0;
      if (Date.now() > deadline) throw new UnknownTopicError(topic);
      if (seen < 3) await new Promise((r) => setTimeout(r, 100));
    }
  };

  // Metadata through a plain librdkafka handle: the KafkaJS-compatible admin's fetchTopicMetadata times out for as
  // long as any broker of the cluster is down, exactly when a dashboard or a failover test needs the ISR.
  let metadataClient: Promise<Producer> | undefined;
  const metadataHandle = () => {
    metadataClient ??= new Promise((resolve, reject) => {
      const handle = new RdKafka.Producer({ ...resolved.rdkafka, log_level: 0 } as never);
      handle.connect({ timeout: resolved.connectTimeoutMs }, (err) =>
        err ? reject(new BrokerUnreachableError(resolved.brokers, resolved.connectTimeoutMs, err)) : resolve(handle),
      );
    });
    return metadataClient;
  };
  const metadata = async (topic?: string, timeoutMs = resolved.connectTimeoutMs): Promise<NativeMetadata> => {
    const handle = await metadataHandle();
    return new Promise<NativeMetadata>((resolve, reject) =>
      handle.getMetadata(topic ? { topic, timeout: timeoutMs } : { timeout: timeoutMs }, (err, data) =>
        err ? reject(err) : resolve(data as unknown as NativeMetadata),
      ),
    );
  };
  const partitionStates = (partitions: NativeMetadata['topics'][number]['partitions']): PartitionState[] =>
    partitions
      .map((p) => ({ partition: p.id, leader: p.leader, replicas: [...p.replicas].sort(), isr: [...p.isrs].sort() }))
      .sort((a, b) => a.partition - b.partition);
  const describeTopic = async (topic: string, options: MetadataRequestOptions = {}): Promise<PartitionState[]> => {
    const partitions =
      (await metadata(topic, options.timeoutMs)).topics.find((t) => t.name === topic)?.partitions ?? [];
    if (partitions.length === 0) throw new UnknownTopicError(topic);
    return partitionStates(partitions);
  };

  // End offsets through librdkafka, which follows a leader change by itself: KafkaJS keeps asking the leader its
  // metadata names (refreshed only every 5 minutes), and answered "no leader … leadership election" for as long as
  // a stopped broker stayed down. A ListOffsets answer is not one of the group answers the binding crashes on.
  const watermarks = async (topic: string, groupId: string, budgetMs: number) => {
    const fetch = async () => {
      const handle = await metadataHandle();
      const partitions = await describeTopic(topic, { timeoutMs: budgetMs });
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
  };

  return {
    async ensureTopic(spec) {
      const partitions = spec.partitions ?? 2;
      const replicationFactor = spec.replicationFactor ?? 3;
      const minIsr = spec.minInsyncReplicas ?? 2;
      if (!spec.name || /[^a-zA-Z0-9._-]/.test(spec.name)) throw new ConfigError(`invalid topic name "${spec.name}"`);
      if (minIsr > replicationFactor)
        throw new ConfigError(`minInsyncReplicas ${minIsr} > replicationFactor ${replicationFactor}`);
      const exists = (await admin.listTopics()).includes(spec.name);
      if (!exists) {
        const request = {
          topics: [
            {
              topic: spec.name,
              numPartitions: partitions,
              replicationFactor,
              configEntries: Object.entries({ 'min.insync.replicas': String(minIsr), ...spec.configs }).map(
                ([name, value]) => ({ name, value }),
              ),
            },
          ],
        };
        // Through KafkaJS: librdkafka's CreateTopics was seen timing out for good after a broker restart.
        // A broker that just (re)started may not be registered yet: "replication factor larger than available
        // brokers" and timeouts pass within seconds, so they are retried; bad configs and ACLs are not.
        const deadline = Date.now() + 30_000;
        for (let attempt = 0; ; attempt++) {
          try {
            // KafkaJS semantics: false means the topic already existed (metadata was stale), so validate it below.
            // waitForLeaders off: KafkaJS's leader wait let an UNKNOWN_TOPIC_OR_PARTITION escape as an uncaught
            // exception (a member crashed starting mid-rebalance); untilVisible below does that wait instead.
            if (
              await pure.bounded(
                'create topics',
                (await pureAdmin()).createTopics({ ...request, timeout: 10_000, waitForLeaders: false }),
              )
            ) {
              await untilVisible(spec.name, partitions);
              return 'created';
            }
            break;
          } catch (e) {
            if (/already exists/i.test(String((e as Error).message))) break;
            // KafkaJS wraps the broker's answer per topic: say what the broker said.
            const nested = ((e as { errors?: Array<{ message?: string }> }).errors ?? []).map((n) => n.message);
            const detail = [(e as Error).message, ...nested].join(': ');
            if (/already exists/i.test(detail)) break;
            const permanent = /authoriz|policy|invalid config|invalid partitions|topic name/i.test(detail);
            if (permanent || e instanceof UnknownTopicError || Date.now() > deadline)
              throw new KandleError('TOPIC_CREATE_FAILED', `could not create topic "${spec.name}": ${detail}`, {
                cause: e,
                retriable: !permanent,
                details: { topic: spec.name },
              });
            await sleep(backoffMs(attempt, 250, 2_000));
          }
        }
      }
      // Also after "already exists": an earlier attempt that timed out may have created it a moment ago, and
      // metadata lags behind the controller on a fresh cluster (was an UnknownTopicError in the examples).
      await untilVisible(spec.name);
      const state = await describeTopic(spec.name);
      const differences: string[] = [];
      if (state.length !== partitions) differences.push(`partitions ${state.length} (wanted ${partitions})`);
      const rf = state[0]?.replicas.length ?? 0;
      if (rf !== replicationFactor) differences.push(`replication factor ${rf} (wanted ${replicationFactor})`);
      const configs = await pure.topicConfigs(spec.name, ['min.insync.replicas', ...Object.keys(spec.configs ?? {})]);
      const actualMinIsr = configs.get('min.insync.replicas');
      if (actualMinIsr !== String(minIsr)) differences.push(`min.insync.replicas ${actualMinIsr} (wanted ${minIsr})`);
      for (const [name, value] of Object.entries(spec.configs ?? {})) {
        const actual = configs.get(name);
        if (actual !== value) differences.push(`${name} ${actual} (wanted ${value})`);
      }
      if (differences.length) throw new TopicMismatchError(spec.name, differences);
      return 'exists';
    },
    describeTopic,
    async liveBrokers(options = {}) {
      return (await metadata(undefined, options.timeoutMs)).brokers
        .map((b) => ({ id: b.id, host: b.host, port: b.port }))
        .sort((a, b) => a.id - b.id);
    },
    async underReplicatedPartitions() {
      return (await metadata()).topics.flatMap((t) =>
        partitionStates(t.partitions)
          .filter((p) => p.isr.length < p.replicas.length)
          .map((p) => ({ topic: t.name, ...p })),
      );
    },
    describeGroup: (groupId, options) => pure.describeGroup(groupId, options),
    async groupLag(groupId, topic, options = {}) {
      const [committed, ends] = await Promise.all([
        pure.committedOffsets(groupId, topic, options),
        watermarks(topic, groupId, options.budgetMs ?? GROUP_REQUEST_BUDGET_MS),
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
    async createTopicIfMissing(topic) {
      if ((await admin.listTopics()).includes(topic)) return;
      try {
        await pure.bounded(
          'create topics',
          (await pureAdmin()).createTopics({ topics: [{ topic }], timeout: 10_000, waitForLeaders: false }),
        );
      } catch (e) {
        if (!/already exists/i.test(String((e as Error).message))) throw e;
      }
      await untilVisible(topic);
    },
    committedOffsets: (groupId, topic) => pure.committedOffsets(groupId, topic),
    async deleteTopic(topic) {
      await admin.deleteTopics({ topics: [topic] });
    },
    async minInsyncReplicas(topic) {
      return Number((await pure.topicConfigs(topic, ['min.insync.replicas'])).get('min.insync.replicas') ?? 1);
    },
    async close() {
      const handle = await metadataClient?.catch(() => undefined);
      await Promise.all([
        admin.disconnect(),
        pure.close(),
        handle && new Promise<void>((resolve) => handle.disconnect(() => resolve())),
      ]);
    },
  };
}

/** What librdkafka's getMetadata returns (the typings leave it loose). */
interface NativeMetadata {
  brokers: Array<{ id: number; host: string; port: number }>;
  topics: Array<{
    name: string;
    partitions: Array<{ id: number; leader: number; replicas: number[]; isrs: number[] }>;
  }>;
}
