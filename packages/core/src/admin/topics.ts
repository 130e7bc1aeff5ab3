// Admin / topics: creates a topic (or validates the existing one) and waits until every broker's metadata shows it.
import { ConfigError, KandleError, kandleErrorFrom, TopicMismatchError, UnknownTopicError } from '../errors';
import { backoffMs, retryRetriable, sleep } from '../retry';
import type { PureAdmin } from './groups';
import type { ClusterMetadata } from './metadata';
import type { KafkaProtocolError } from './wire/errors';
import type { NewTopic } from './wire/requests';

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

/** What topic creation needs from the admin: the topic list, the pure-JS half and the metadata reader. */
export interface TopicTools {
  listTopics(): Promise<string[]>;
  pure: PureAdmin;
  metadata: ClusterMetadata;
}

/**
 * How long a client that did not create its topics itself keeps asking before it calls one unknown: a topic created
 * a moment ago by another tool (`kafka-topics.sh`, a script) reaches each broker's metadata at its own pace, and a
 * client asks only one broker. A topic that really is missing costs this long to report.
 */
export const TOPIC_PROPAGATION_GRACE_MS = 3_000;

/** Runs `check` again while it throws `UnknownTopicError`, for at most {@link TOPIC_PROPAGATION_GRACE_MS}. */
export function allowingTopicPropagation<T>(check: () => Promise<T>): Promise<T> {
  return retryRetriable(check, (e) => e instanceof UnknownTopicError, {
    budgetMs: TOPIC_PROPAGATION_GRACE_MS,
    initialDelayMs: 100,
    maxDelayMs: 1_000,
  });
}

/** Creates the topic, or checks that the existing one matches `spec`; a mismatch throws `TopicMismatchError`. */
export async function ensureTopic(tools: TopicTools, spec: TopicSpec): Promise<'created' | 'exists'> {
  const partitions = spec.partitions ?? 2;
  const replicationFactor = spec.replicationFactor ?? 3;
  const minIsr = spec.minInsyncReplicas ?? 2;
  if (!spec.name || /[^a-zA-Z0-9._-]/.test(spec.name)) throw new ConfigError(`invalid topic name "${spec.name}"`);
  if (minIsr > replicationFactor)
    throw new ConfigError(`minInsyncReplicas ${minIsr} > replicationFactor ${replicationFactor}`);
  if (!(await tools.listTopics()).includes(spec.name)) {
    const configs = Object.entries({ 'min.insync.replicas': String(minIsr), ...spec.configs }).map(([name, value]) => ({
      name,
      value,
    }));
    const created = await createTopic(tools, { name: spec.name, partitions, replicationFactor, configs });
    if (created) {
      await untilVisible(tools, spec.name, partitions);
      return 'created';
    }
  }
  // Also after "already exists": an earlier attempt that timed out may have created it a moment ago, and
  // metadata lags behind the controller on a fresh cluster (was an UnknownTopicError in the examples).
  await untilVisible(tools, spec.name);
  const differences = await differencesFrom(tools, spec, { partitions, replicationFactor, minIsr });
  if (differences.length) throw new TopicMismatchError(spec.name, differences);
  return 'exists';
}

/** Creates `topic` with the broker defaults (partitions, replication) unless it exists. */
export async function createTopicIfMissing(tools: TopicTools, topic: string): Promise<void> {
  if ((await tools.listTopics()).includes(topic)) return;
  // −1: the broker's default partitions and replication factor (CreateTopics v4+).
  await tools.pure
    .createTopics([{ name: topic, partitions: -1, replicationFactor: -1, configs: [] }], 10_000)
    .catch((e: unknown) => {
      throw kandleErrorFrom('TOPIC_CREATE_FAILED', `could not create topic "${topic}"`, e, { details: { topic } });
    });
  await untilVisible(tools, topic);
}

/**
 * CreateTopics through the pure-JS half (librdkafka's was seen timing out for good after a broker restart). A broker
 * that just (re)started may not be registered yet: INVALID_REPLICATION_FACTOR ("larger than available brokers") and
 * timeouts pass within seconds, so they are retried for 30 s; bad configs, policies and ACLs are not. Resolves false
 * when the topic already existed (metadata was stale), so the caller validates it.
 */
async function createTopic(tools: TopicTools, topic: NewTopic): Promise<boolean> {
  const deadline = Date.now() + 30_000;
  for (let attempt = 0; ; attempt++) {
    try {
      // No wait for leaders here: untilVisible does that wait, on every broker.
      const [created] = await tools.pure.createTopics([topic], 10_000);
      return created ?? false;
    } catch (e) {
      const retriable = (e as { retriable?: boolean }).retriable === true;
      const permanent = !retriable && (e as KafkaProtocolError).type !== 'INVALID_REPLICATION_FACTOR';
      if (permanent || Date.now() > deadline)
        throw new KandleError(
          'TOPIC_CREATE_FAILED',
          `could not create topic "${topic.name}": ${(e as Error).message}`,
          {
            cause: e,
            retriable: !permanent,
            details: { topic: topic.name },
          },
        );
      await sleep(backoffMs(attempt, 250, 2_000));
    }
  }
}

/** How the existing topic differs from the spec (partitions, replication, min.insync.replicas, configs). */
async function differencesFrom(
  tools: TopicTools,
  spec: TopicSpec,
  wanted: { partitions: number; replicationFactor: number; minIsr: number },
): Promise<string[]> {
  const state = await tools.metadata.describeTopic(spec.name);
  const differences: string[] = [];
  if (state.length !== wanted.partitions) differences.push(`partitions ${state.length} (wanted ${wanted.partitions})`);
  const rf = state[0]?.replicas.length ?? 0;
  if (rf !== wanted.replicationFactor)
    differences.push(`replication factor ${rf} (wanted ${wanted.replicationFactor})`);
  const configs = await tools.pure.topicConfigs(spec.name, ['min.insync.replicas', ...Object.keys(spec.configs ?? {})]);
  const actualMinIsr = configs.get('min.insync.replicas');
  if (actualMinIsr !== String(wanted.minIsr))
    differences.push(`min.insync.replicas ${actualMinIsr} (wanted ${wanted.minIsr})`);
  for (const [name, value] of Object.entries(spec.configs ?? {})) {
    const actual = configs.get(name);
    if (actual !== value) differences.push(`${name} ${actual} (wanted ${value})`);
  }
  return differences;
}

/**
 * A created topic reaches every broker's metadata a moment later; clients started before that see "unknown topic".
 * Waits until every broker, asked directly, shows it with a leader for every partition (and `partitions` of them,
 * when given: with none, any count is accepted and the existing topic is validated afterwards). A broker's metadata
 * does not go back, so one complete answer from each is enough. Throws `UnknownTopicError` after 30 s.
 */
async function untilVisible(tools: TopicTools, topic: string, partitions?: number): Promise<void> {
  const deadline = Date.now() + 30_000;
  while ((await tools.pure.brokersNotShowing(topic, partitions).catch(() => [-1])).length > 0) {
    if (Date.now() > deadline) throw new UnknownTopicError(topic);
    await sleep(100);
  }
}
