// Admin / pure-JS half: groups, committed and end offsets, topic creation and configs, spoken by kandle's own wire client.
//
// Why not the native binding: @confluentinc/kafka-javascript (≤ 1.10.1) converts a NULL C string into a JS string
// when a DescribeGroups or OffsetFetch answer carries a per-group error (coordinator loading or moving, broker
// unreachable), and the process dies with SIGSEGV from the event loop, where no JS handler can catch it
// (confluentinc/confluent-kafka-javascript#531, #374); it has no DescribeConfigs either. Those answers are exactly
// what a rebalance after a broker restart produces, so these requests are spoken from JS (./wire: the few Kafka
// requests they need and nothing else, in place of a second Kafka client library), where an error is an error.
// See docs/native-client.md.
import type { KafkaConnection } from '../config';
import { ConfigError, GroupRequestError, KandleError, kandleErrorFrom } from '../errors';
import { retryRetriable, withTimeout } from '../retry';
import { WireClient } from './wire/client';
import { KafkaProtocolError, throwIfError } from './wire/errors';
import {
  type CreatedTopic,
  createTopics,
  decodeMemberAssignment,
  describeConfigs,
  describeGroups,
  EARLIEST,
  LATEST,
  type ListedOffset,
  listOffsets,
  type MetadataAnswer,
  metadata,
  type NewTopic,
  offsetFetch,
} from './wire/requests';
import { saslAuthenticator } from './wire/sasl';

/** One group member and the partitions the coordinator assigned to it. */
export interface GroupMemberState {
  memberId: string;
  clientId: string;
  host: string;
  assignment: Array<{ topic: string; partition: number }>;
}

/** A consumer group as its coordinator describes it. */
export interface GroupState {
  groupId: string;
  /** Kafka's names: `Stable`, `PreparingRebalance`, `CompletingRebalance`, `Empty`, `Dead` (no such group), `Unknown`. */
  state: string;
  protocol: string;
  members: GroupMemberState[];
}

/** Committed offset and commit metadata of one partition (`offset` −1: nothing committed). */
export interface CommittedOffset {
  partition: number;
  offset: number;
  metadata: string | null;
}

/** Low and high watermark of one partition. */
export interface PartitionEnds {
  partition: number;
  low: number;
  high: number;
}

/**
 * Time a group request keeps retrying retriable answers (coordinator loading or moving, broker down) before it
 * throws a retriable `GroupRequestError`: long enough for a fresh cluster or a broker restart on a busy machine.
 */
export const GROUP_REQUEST_BUDGET_MS = 30_000;

/** Per-call options of the group requests (describe a group, committed and end offsets). */
export interface GroupRequestOptions {
  /**
   * The most time the call may take, retries of retriable answers and the request in flight included; past it the
   * call throws a retriable `GroupRequestError` ("no answer within … ms"). A page or a health probe wants an answer
   * within a couple of seconds, a tool that must get through a rebalance wants the default.
   * Default {@link GROUP_REQUEST_BUDGET_MS} (30 s).
   */
  budgetMs?: number;
}

/** The group/offset/topic calls kandle routes through its own wire client, connected lazily to `brokers`. */
export class PureAdmin {
  private wire: WireClient | undefined;

  constructor(
    private readonly connection: KafkaConnection,
    private readonly brokers: string,
    private readonly requestTimeoutMs: number,
  ) {}

  /** The wire client (sockets open on first request). */
  client(): WireClient {
    this.wire ??= wireClientFor(this.connection, this.brokers, this.requestTimeoutMs);
    return this.wire;
  }

  /** Members and assignments of `groupId`; a group that does not exist is reported as `Dead` with no members. */
  describeGroup(groupId: string, options: GroupRequestOptions = {}): Promise<GroupState> {
    return this.groupRequest('describe group', groupId, options, async () => {
      const groups = await this.client().toCoordinator(groupId, describeGroups, { groupIds: [groupId] });
      const group = groups.find((g) => g.groupId === groupId);
      // GROUP_ID_NOT_FOUND (69): how a group coordinator of Kafka 4 may say "no such group".
      if (!group || group.errorCode === 69) return { groupId, state: 'Dead', protocol: '', members: [] };
      throwIfError(group.errorCode, `DescribeGroups for group "${groupId}"`);
      return {
        groupId,
        state: group.state,
        protocol: group.protocol,
        members: group.members
          .map((m) => ({
            memberId: m.memberId,
            clientId: m.clientId,
            host: m.clientHost,
            assignment: decodeAssignment(group.protocolType, m.assignment),
          }))
          .sort((a, b) => a.memberId.localeCompare(b.memberId)),
      };
    });
  }

  /** Committed offsets of every partition of `topic` for `groupId` (−1: none), sorted by partition. */
  committedOffsets(groupId: string, topic: string, options: GroupRequestOptions = {}): Promise<CommittedOffset[]> {
    return this.groupRequest('fetch committed offsets', groupId, options, async () => {
      // Every partition is asked for by number, so one without a commit answers −1 instead of being left out.
      const partitions = (await this.partitionsOf(topic)).map((p) => p.partition);
      const answer = await this.client().toCoordinator(groupId, offsetFetch, {
        groupId,
        topics: [{ name: topic, partitions }],
      });
      throwIfError(answer.errorCode, `OffsetFetch for group "${groupId}"`);
      const answered = answer.topics.find((t) => t.name === topic)?.partitions ?? [];
      for (const p of answered) throwIfError(p.errorCode, `OffsetFetch for ${topic}[${p.partition}]`);
      return answered
        .map((p) => ({ partition: p.partition, offset: p.offset, metadata: p.metadata }))
        .sort((a, b) => a.partition - b.partition);
    });
  }

  /** Low and high (last stable) watermarks of every partition of `topic`, each asked of its leader. */
  endOffsets(topic: string, groupId = '', options: GroupRequestOptions = {}): Promise<PartitionEnds[]> {
    return this.groupRequest('fetch end offsets', groupId, options, async () => {
      const byLeader = new Map<number, number[]>();
      for (const p of await this.partitionsOf(topic)) {
        if (p.leader < 0) throw new KafkaProtocolError(5, `ListOffsets for ${topic}[${p.partition}]`);
        byLeader.set(p.leader, [...(byLeader.get(p.leader) ?? []), p.partition]);
      }
      const ask = (leader: number, partitions: number[], timestamp: number) =>
        this.client().toNode(leader, listOffsets, { topic, partitions, timestamp });
      const answers = await Promise.all(
        [...byLeader].map(async ([leader, partitions]) => {
          const [low, high] = await Promise.all([ask(leader, partitions, EARLIEST), ask(leader, partitions, LATEST)]);
          return { low, high };
        }),
      );
      const offsets = (listed: ListedOffset[]) => {
        for (const p of listed) throwIfError(p.errorCode, `ListOffsets for ${topic}[${p.partition}]`);
        return new Map(listed.map((p) => [p.partition, p.offset]));
      };
      const low = offsets(answers.flatMap((a) => a.low));
      return [...offsets(answers.flatMap((a) => a.high))]
        .map(([partition, high]) => ({ partition, low: low.get(partition) ?? 0, high }))
        .sort((a, b) => a.partition - b.partition);
    });
  }

  /**
   * The named configs of `topic` (broker defaults included). Retried like group requests: right after a broker
   * stopped, the first answers come from inside the leader election; a raw error crashed a member's start.
   */
  async topicConfigs(topic: string, names: string[]): Promise<Map<string, string>> {
    try {
      // The resource's own error is checked inside the retried call: a topic created a moment ago is
      // UNKNOWN_TOPIC_OR_PARTITION (retriable) on a broker whose metadata has not caught up yet.
      const resource = await retryRetriable(
        async () => {
          const described = await this.bounded(
            'describe configs',
            this.client().any(describeConfigs, { topic, names }),
          );
          const found = described.find((r) => r.name === topic);
          if (!found) throw new KafkaProtocolError(3, `DescribeConfigs for ${topic}`, 'the topic is not in the answer');
          throwIfError(found.errorCode, `DescribeConfigs for ${topic}`, found.errorMessage);
          return found;
        },
        isRetriable,
        { budgetMs: GROUP_REQUEST_BUDGET_MS },
      );
      return new Map(resource.configs.flatMap((c) => (c.value === null ? [] : [[c.name, c.value] as const])));
    } catch (e) {
      throw kandleErrorFrom('ADMIN_REQUEST_FAILED', `describe configs of ${topic}`, e, {
        retriable: isRetriable(e),
        details: { topic },
      });
    }
  }

  /**
   * One CreateTopics attempt (no retries: the caller decides), bounded by the request timeout. Resolves per topic
   * whether it was created; false when it already existed. Any other per-topic error throws a KafkaProtocolError
   * carrying the broker's message (e.g. INVALID_REPLICATION_FACTOR while brokers are still registering).
   */
  async createTopics(topics: NewTopic[], timeoutMs: number): Promise<boolean[]> {
    const answers: CreatedTopic[] = await this.bounded(
      'create topics',
      this.client().any(createTopics, { topics, timeoutMs }),
    );
    return topics.map((topic) => {
      const answer = answers.find((a) => a.name === topic.name);
      if (!answer) throw new KafkaProtocolError(-1, `CreateTopics for ${topic.name}`, 'the topic is not in the answer');
      if (answer.errorCode === 36) return false; // TOPIC_ALREADY_EXISTS
      throwIfError(answer.errorCode, `CreateTopics for ${topic.name}`, answer.errorMessage);
      return true;
    });
  }

  /**
   * Node ids of the brokers whose own metadata does not yet show `topic` with a leader for every partition (and
   * `partitions` of them, when given). Each broker is asked directly: in KRaft every broker replays the metadata log
   * at its own pace, and a client asking "any broker" may hit one that is seconds behind on a busy machine (a fresh
   * consumer's "unknown topic" right after ensureTopic, seen in CI). A broker that does not answer is left out: no
   * client can ask it either.
   */
  async brokersNotShowing(topic: string, partitions?: number): Promise<number[]> {
    const cluster = await this.bounded('topic metadata', this.client().metadata([topic]));
    const asked = await Promise.all(
      cluster.brokers.map(async ({ nodeId }) => {
        try {
          const answer = await this.bounded(
            'topic metadata',
            this.client().toNode(nodeId, metadata, { topics: [topic] }),
          );
          return showsTopic(answer, topic, partitions) ? undefined : nodeId;
        } catch (e) {
          // An error answer means the broker is up and does not know the topic yet; anything else (refused,
          // no answer in time) means it is down or stopped.
          return e instanceof KafkaProtocolError ? nodeId : undefined;
        }
      }),
    );
    return asked.filter((n): n is number => n !== undefined);
  }

  /** Partitions (with leaders) of `topic` from fresh metadata; an unknown topic is a retriable error, as before. */
  private async partitionsOf(topic: string): Promise<Array<{ partition: number; leader: number }>> {
    const answer = await this.client().metadata([topic]);
    const described = answer.topics.find((t) => t.name === topic);
    if (!described) throw new KafkaProtocolError(3, `Metadata for ${topic}`);
    throwIfError(described.errorCode, `Metadata for ${topic}`);
    if (described.partitions.length === 0) throw new KafkaProtocolError(3, `Metadata for ${topic}`, 'no partitions');
    return described.partitions.map((p) => ({ partition: p.partition, leader: p.leader }));
  }

  /**
   * `promise`, or a retriable timeout after `requestTimeoutMs`: the bound of one attempt (the connection has its own
   * per-request timer too; this one also covers connecting and authenticating).
   */
  bounded<T>(request: string, promise: Promise<T>): Promise<T> {
    return withTimeout(
      promise,
      this.requestTimeoutMs,
      () =>
        new KandleError('GROUP_REQUEST_FAILED', `${request} got no answer within ${this.requestTimeoutMs} ms`, {
          retriable: true,
        }),
    );
  }

  /**
   * Runs one group request within `options.budgetMs`, each attempt bounded by {@link bounded}, and maps whatever
   * the wire client throws to a {@link GroupRequestError} carrying its `retriable`. The budget bounds the attempt in flight
   * too, so a short budget (the live page's) answers in time.
   */
  private async groupRequest<T>(
    request: string,
    groupId: string,
    options: GroupRequestOptions,
    call: () => Promise<T>,
  ): Promise<T> {
    const budgetMs = options.budgetMs ?? GROUP_REQUEST_BUDGET_MS;
    if (!(budgetMs > 0)) throw new ConfigError(`budgetMs must be > 0 (got ${budgetMs})`);
    try {
      return await withTimeout(
        retryRetriable(() => this.bounded(request, call()), isRetriable, { budgetMs }),
        budgetMs,
        () => new GroupRequestError(request, groupId, true, new Error(`no answer within ${budgetMs} ms`)),
      );
    } catch (e) {
      if (e instanceof GroupRequestError) throw e;
      if (e instanceof KandleError && e.code !== 'GROUP_REQUEST_FAILED') throw e;
      throw new GroupRequestError(request, groupId, isRetriable(e), e);
    }
  }

  async close(): Promise<void> {
    this.wire?.close();
    this.wire = undefined;
  }
}

// Consumer-protocol groups carry the assignment in the consumer protocol's own encoding; others (Connect) do not.
function decodeAssignment(protocolType: string, buffer: Buffer): Array<{ topic: string; partition: number }> {
  if (protocolType !== 'consumer' || buffer.length === 0) return [];
  return decodeMemberAssignment(buffer).sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition);
}

// Kafka error codes carry Kafka's retriability (wire/errors.ts); a broker down, a lost connection or a timeout is
// retriable by nature (BrokerConnectionError, the bounded() timeout); malformed answers and bad credentials are not.
function isRetriable(error: unknown): boolean {
  const e = error as { retriable?: boolean; cause?: unknown };
  if (e?.retriable === true) return true;
  return e?.cause !== undefined && e.cause !== error ? isRetriable(e.cause) : false;
}

/** A wire client for the same brokers and security as `connection`. */
function wireClientFor(connection: KafkaConnection, brokers: string, requestTimeoutMs: number): WireClient {
  const security = connection.security;
  const tls = security?.protocol === 'ssl' || security?.protocol === 'sasl_ssl';
  return new WireClient(brokers, {
    clientId: connection.clientId ?? 'kandle-admin',
    requestTimeoutMs,
    connectTimeoutMs: Math.min(requestTimeoutMs, 5_000),
    ...(tls ? { tls: security?.caPem ? { ca: security.caPem } : {} } : {}),
    ...(security?.sasl ? { authenticate: saslAuthenticator(security.sasl) } : {}),
  });
}

/** Whether one broker's metadata answer lists `topic` complete: no error, every partition led, `partitions` of them. */
function showsTopic(answer: MetadataAnswer, topic: string, partitions: number | undefined): boolean {
  const described = answer.topics.find((t) => t.name === topic);
  if (described?.errorCode !== 0 || described.partitions.length === 0) return false;
  if (partitions !== undefined && described.partitions.length !== partitions) return false;
  return described.partitions.every((p) => p.leader >= 0);
}
