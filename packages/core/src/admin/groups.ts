// Admin / pure-JS half: groups, committed and end offsets, topic creation and configs over KafkaJS, never the native binding.
//
// Why a second client: the native binding (@confluentinc/kafka-javascript ≤ 1.10.1) converts a NULL C string into a
// JS string when a DescribeGroups or OffsetFetch answer carries a per-group error (coordinator loading or moving,
// broker unreachable), and the process dies with SIGSEGV from the event loop, where no JS handler can catch it
// (confluentinc/confluent-kafka-javascript#531, #374). Those answers are exactly what a rebalance after a broker
// restart produces, so these calls are spoken from JS, where an error is an error. See docs/native-client.md.
import type { Admin, Kafka, SASLOptions } from 'kafkajs';
import type { KafkaConnection } from '../config';
import { ConfigError, GroupRequestError, KandleError, kandleErrorFrom } from '../errors';
import { retryRetriable, withTimeout } from '../retry';

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

// KafkaJS's own retries (about 8 s) cover some calls only: its fetchOffsets throws NOT_COORDINATOR at once, which a
// fresh cluster answers for many seconds while the leaders of __consumer_offsets settle.
const RETRY = { retries: 6, initialRetryTime: 200, maxRetryTime: 2_000 };

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

/** A lazily connected KafkaJS admin for one connection, and the group/offset/topic calls kandle routes through it. */
export class PureAdmin {
  private connecting: Promise<Admin> | undefined;

  constructor(
    private readonly connection: KafkaConnection,
    private readonly brokers: string,
    private readonly requestTimeoutMs: number,
  ) {}

  /** The connected KafkaJS admin (connects on first use). */
  admin(): Promise<Admin> {
    this.connecting ??= (async () => {
      const kafka = await pureKafkaFor(this.connection, this.brokers, this.requestTimeoutMs);
      const admin = kafka.admin({ retry: RETRY });
      await this.bounded('connect', admin.connect());
      return admin;
    })().catch((e) => {
      this.connecting = undefined;
      throw e;
    });
    return this.connecting;
  }

  /** Members and assignments of `groupId`; a group that does not exist is reported as `Dead` with no members. */
  describeGroup(groupId: string, options: GroupRequestOptions = {}): Promise<GroupState> {
    return this.groupRequest('describe group', groupId, options, async () => {
      const { groups } = await (await this.admin()).describeGroups([groupId]);
      const kafkajs = await loadKafkaJs();
      const group = groups.find((g) => g.groupId === groupId);
      if (!group) return { groupId, state: 'Dead', protocol: '', members: [] };
      return {
        groupId,
        state: group.state,
        protocol: group.protocol,
        members: group.members
          .map((m) => ({
            memberId: m.memberId,
            clientId: m.clientId,
            host: m.clientHost,
            assignment: decodeAssignment(kafkajs, group.protocolType, m.memberAssignment),
          }))
          .sort((a, b) => a.memberId.localeCompare(b.memberId)),
      };
    });
  }

  /** Committed offsets of every partition of `topic` for `groupId`, sorted by partition. */
  committedOffsets(groupId: string, topic: string, options: GroupRequestOptions = {}): Promise<CommittedOffset[]> {
    return this.groupRequest('fetch committed offsets', groupId, options, async () => {
      const result = await (await this.admin()).fetchOffsets({ groupId, topics: [topic] });
      return (result.find((t) => t.topic === topic)?.partitions ?? [])
        .map((p) => ({ partition: p.partition, offset: Number(p.offset), metadata: p.metadata ?? null }))
        .sort((a, b) => a.partition - b.partition);
    });
  }

  /** Low and high watermarks of every partition of `topic`. */
  endOffsets(topic: string, groupId = '', options: GroupRequestOptions = {}): Promise<PartitionEnds[]> {
    return this.groupRequest('fetch end offsets', groupId, options, async () =>
      (await (await this.admin()).fetchTopicOffsets(topic))
        .map((p) => ({ partition: p.partition, low: Number(p.low), high: Number(p.high) }))
        .sort((a, b) => a.partition - b.partition),
    );
  }

  /**
   * The named configs of `topic` (broker defaults included). Retried like group requests: right after a broker
   * stopped, KafkaJS's own retries end inside the leader election; a raw KafkaJS error crashed a member's start.
   */
  async topicConfigs(topic: string, names: string[]): Promise<Map<string, string>> {
    try {
      const described = await retryRetriable(
        async () =>
          this.bounded(
            'describe configs',
            (await this.admin()).describeConfigs({
              includeSynonyms: false,
              resources: [{ type: 2, name: topic, configNames: names }],
            }),
          ),
        isRetriable,
        { budgetMs: GROUP_REQUEST_BUDGET_MS },
      );
      const entries = described.resources[0]?.configEntries ?? [];
      return new Map(entries.map((e) => [e.configName, e.configValue]));
    } catch (e) {
      throw kandleErrorFrom('ADMIN_REQUEST_FAILED', `describe configs of ${topic}`, e, {
        retriable: isRetriable(e),
        details: { topic },
      });
    }
  }

  /**
   * `promise`, or a retriable timeout after `requestTimeoutMs`. KafkaJS's own request timer is off
   * (`enforceRequestTimeout: false`): it rejects requests nobody awaits any more, which surfaced as unhandled
   * `KafkaJSRequestTimeoutError`s and crashed an example under load (KafkaJS #796, #1691).
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
   * KafkaJS throws to a {@link GroupRequestError} carrying its `retriable`. The budget bounds the attempt in flight
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
    const admin = await this.connecting?.catch(() => undefined);
    this.connecting = undefined;
    await admin?.disconnect();
  }
}

// Consumer-protocol groups carry the assignment in the consumer protocol's own encoding; others (Connect) do not.
function decodeAssignment(
  kafkajs: KafkaJsModule,
  protocolType: string,
  buffer: Buffer,
): Array<{ topic: string; partition: number }> {
  if (protocolType !== 'consumer' || !buffer || buffer.length === 0) return [];
  const decoded = kafkajs.AssignerProtocol.MemberAssignment.decode(buffer);
  return Object.entries(decoded?.assignment ?? {})
    .flatMap(([topic, partitions]) => partitions.map((partition) => ({ topic, partition })))
    .sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition);
}

// KafkaJS marks protocol errors retriable per Kafka's table; its retrier gives up with a wrapper that loses the flag
// (KafkaJSNumberOfRetriesExceeded), and connection failures (a broker down) are retriable by nature.
function isRetriable(error: unknown): boolean {
  const e = error as { retriable?: boolean; name?: string; cause?: unknown; originalError?: unknown };
  if (e?.name === 'KafkaJSNumberOfRetriesExceeded' || e?.name === 'KafkaJSConnectionError') return true;
  if (e?.name === 'KafkaJSRequestTimeoutError' || e?.name === 'KafkaJSBrokerNotFound') return true;
  if (e?.retriable) return true;
  const inner = e?.originalError ?? e?.cause;
  return inner !== undefined && inner !== error ? isRetriable(inner) : false;
}

type KafkaJsModule = typeof import('kafkajs');
let kafkaJsModule: Promise<KafkaJsModule> | undefined;

// Loaded on first admin use, like the native client: `import '@kandle/core'` stays cheap.
function loadKafkaJs(): Promise<KafkaJsModule> {
  kafkaJsModule ??= import('kafkajs').then(
    (module) => ('Kafka' in module ? module : (module as { default: KafkaJsModule }).default) as KafkaJsModule,
  );
  return kafkaJsModule;
}

/** A KafkaJS client for the same brokers and security as `connection`. */
async function pureKafkaFor(connection: KafkaConnection, brokers: string, requestTimeoutMs = 10_000): Promise<Kafka> {
  const { Kafka, logLevel } = await loadKafkaJs();
  const security = connection.security;
  return new Kafka({
    clientId: connection.clientId ?? 'kandle-admin',
    brokers: brokers.split(','),
    logLevel: logLevel.NOTHING,
    requestTimeout: requestTimeoutMs,
    // Each call is bounded by PureAdmin.bounded instead (see there).
    enforceRequestTimeout: false,
    connectionTimeout: Math.min(requestTimeoutMs, 5_000),
    retry: RETRY,
    ...(security?.protocol === 'ssl' || security?.protocol === 'sasl_ssl'
      ? { ssl: security.caPem ? { ca: [security.caPem] } : true }
      : {}),
    ...(security?.sasl ? { sasl: saslFor(security.sasl) } : {}),
  });
}

function saslFor(sasl: NonNullable<NonNullable<KafkaConnection['security']>['sasl']>): SASLOptions {
  if (sasl.mechanism !== 'OAUTHBEARER') {
    const mechanism = sasl.mechanism.toLowerCase() as 'plain' | 'scram-sha-256' | 'scram-sha-512';
    return { mechanism, username: sasl.username, password: sasl.password } as SASLOptions;
  }
  const { tokenEndpointUrl, clientId, clientSecret, scope } = sasl.oidc;
  // The same OIDC client-credentials exchange librdkafka runs for `sasl.oauthbearer.method=oidc`.
  return {
    mechanism: 'oauthbearer',
    oauthBearerProvider: async () => {
      const body = new URLSearchParams({ grant_type: 'client_credentials', ...(scope ? { scope } : {}) });
      const response = await fetch(tokenEndpointUrl, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          authorization: `Basic ${Buffer.from(`${clientId}:${clientSecret}`).toString('base64')}`,
        },
        body,
        signal: AbortSignal.timeout(10_000),
      });
      const token = response.ok ? ((await response.json()) as { access_token?: string }).access_token : undefined;
      if (!token) throw new ConfigError(`OIDC token endpoint ${tokenEndpointUrl} answered ${response.status}`);
      return { value: token };
    },
  };
}
