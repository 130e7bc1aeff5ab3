// Consumer / options: the public option and event types of createCandleConsumer, and their defaults resolved once.
import type { Assignor, TopicPartition } from '../assignors/types';
import { createCandleAggregator } from '../candles/aggregator';
import type { Candle, CandleInterval, CandleUpdate } from '../candles/types';
import type { KafkaConnection, RegistryConnection } from '../config';
import { ConfigError, type KandleError, type PoisonRecordError } from '../errors';
import type { ConsumerMetrics } from '../metrics';
import type { KandleLogger } from '../logger';
import type { SchemaRegistryHandle } from '../schema/avro';

/** Built-in strategies run natively in librdkafka; an {@link Assignor} object is run by kandle (see docs/assignors.md). */
export type AssignmentStrategy = 'range' | 'roundrobin' | 'cooperative-sticky' | Assignor;

/** Why the member's partitions changed. */
export interface RebalanceEvent {
  type: 'assigned' | 'revoked';
  partitions: TopicPartition[];
  /** Everything this member owns after the event. */
  owned: TopicPartition[];
}

/** A record that could not be decoded and went to the dead-letter topic. */
export interface PoisonRecord {
  topic: string;
  partition: number;
  offset: string;
  reason: string;
  error: PoisonRecordError;
}

/** Passed to the handler with each batch of candle updates. */
export interface BatchContext {
  /** Records in the batch (decoded or dead-lettered). */
  records: number;
  /** Partitions the batch came from. */
  partitions: TopicPartition[];
}

/** Options of {@link createCandleConsumer}. */
export interface CandleConsumerOptions {
  connection?: KafkaConnection;
  registry?: RegistryConnection | SchemaRegistryHandle;
  /** Consumer group. Members of one group share the partitions. */
  groupId: string;
  /** Shown in group descriptions. Default `<groupId>-<random>`. */
  clientId?: string;
  /** Topics to read. Default `{ tickers: 'tickers', trades: 'trades' }`; set one to `null` to skip it. */
  topics?: { tickers?: string | null; trades?: string | null };
  /** Default `'range'`. */
  assignment?: AssignmentStrategy;
  /** Where a group with no committed offset starts. Default `'earliest'`. */
  from?: 'earliest' | 'latest';
  /** Candle widths. Default `['1m']`. */
  intervals?: CandleInterval[];
  /** Out-of-order tolerance before a candle closes (see docs/candles.md). Default 5000 ms. */
  gracePeriodMs?: number;
  /**
   * The acknowledgement: called with each batch of candle updates (coalesced: the latest per candle).
   * Offsets covering the batch are committed only after the returned promise resolves; while it is
   * pending no new records are read, so a slow sink pauses consumption instead of buffering.
   * If it throws, the same updates are offered again (backoff 200 ms doubling to 5 s, reported through
   * `logger`) and offsets stay put, so nothing is skipped: make the handler idempotent.
   *
   * Without `onCandles`, iterate the consumer instead (`for await (const update of consumer)`): an update
   * counts as handled when the loop asks for the next one. Updates wait for the loop, one batch at a time
   * (reading pauses meanwhile, so memory stays bounded), also when iteration starts late; `break`,
   * `return` and `close()` commit nothing the loop did not finish (the update it broke on is offered
   * again to the next loop, or re-read by the partition's next owner). See docs/candles.md.
   */
  onCandles?: (updates: CandleUpdate[], context: BatchContext) => Promise<void> | void;
  onRebalance?: (event: RebalanceEvent) => void;
  onPoisonRecord?: (record: PoisonRecord) => void;
  /**
   * Receives the non-fatal problems the consumer handles by itself (registry hiccup, commit failure, handler retry)
   * as warnings: `logger.warn({ err, code, retriable }, message)`, `err` a {@link KandleError}. Default: silent
   * (see docs/logging.md).
   */
  logger?: KandleLogger;
  /**
   * Receives the same {@link KandleError}s as `logger.warn` (both are called when both are set).
   * @deprecated Use `logger`.
   */
  onWarning?: (error: KandleError) => void;
  /** Dead-letter topic for records that cannot be decoded. Default `kandle.dlq`; created if missing. */
  deadLetterTopic?: string;
  /** Records read per poll. Default 500. */
  batchSize?: number;
  /**
   * Minimum time between commits while running. Each commit first writes the changed open candles to the
   * changelog topic, then commits at the processed position (docs/candles.md). Default 1000 ms.
   */
  commitIntervalMs?: number;
  /** `session.timeout.ms`: how fast a crashed member is noticed. Default 10000. */
  sessionTimeoutMs?: number;
  statisticsIntervalMs?: number;
  onMetrics?: (metrics: ConsumerMetrics) => void;
  /**
   * Also produce every handled candle update to a Kafka topic, as Avro (`schemas/candle-update.avsc`, registered
   * under `<topic>-value`), keyed `symbol|interval|source|start` on the Java client's partition for that key, so
   * other Kafka consumers, Kafka Connect, Telegraf or another kandle can read candles. The topic is created if
   * missing: compacted (the last update per candle stays), replicated like the input. Default: no output.
   */
  output?: { topic: string; partitions?: number };
  /**
   * `'at-least-once'` (default): a crash re-reads records since the last commit, so the handler and the output
   * topic may see an update twice. `'exactly-once'`: candle output, changelog checkpoint, dead letters and consumed
   * offsets are committed in one Kafka transaction every `commitIntervalMs`; readers of the output topic with
   * `isolation.level=read_committed` see every update once, across crashes and rebalances, and a member fenced
   * out of the group commits nothing. The handler (or iterator) itself still sees updates at least once.
   * See docs/exactly-once.md.
   */
  processing?: 'at-least-once' | 'exactly-once';
  /**
   * `transaction.timeout.ms` in exactly-once mode: how long a crashed member's open transaction holds up
   * read_committed readers (and the changelog restore of its partitions) before the broker aborts it.
   * Default 10000 ms (Kafka Streams' exactly-once default).
   */
  transactionTimeoutMs?: number;
}

/** Where a member stands on one partition it owns; see {@link CandleConsumer.positions}. */
export interface PartitionPosition {
  topic: string;
  partition: number;
  processed: number | null;
  committed: number | null;
}

/** Counters since start. */
export interface CandleConsumerStats {
  records: number;
  tickers: number;
  trades: number;
  poison: number;
  /** Late drops, once per record and interval: the candle it belongs to closed longer ago than the aggregator remembers (docs/candles.md). */
  late: number;
  updates: number;
  commits: number;
  rebalances: number;
}

/**
 * A consumer-group member that turns tickers and trades into candles. Its open candles are checkpointed to a
 * compacted changelog topic per input topic, `<groupId>-<topic>-changelog` (created on start), so committed
 * offsets follow processing and a partition's next owner restores them instead of re-reading the input.
 *
 * @example
 * ```ts
 * const consumer = await createCandleConsumer({
 *   groupId: 'candles', assignment: 'cooperative-sticky', intervals: ['1m', '5m'],
 *   onCandles: (updates) => sink.write(updates), // offsets are committed after this resolves
 * });
 * // or: for await (const update of consumer) console.log(update.kind, update.candle);
 * await consumer.close();
 * ```
 */
export interface CandleConsumer extends AsyncIterable<CandleUpdate> {
  readonly groupId: string;
  readonly clientId: string;
  /** Partitions this member reads right now. */
  assignment(): TopicPartition[];
  /** Current candles of the partitions this member owns. */
  candles(symbol?: string, interval?: CandleInterval): Candle[];
  stats(): CandleConsumerStats;
  /**
   * Per owned partition: `processed`, the next offset after the last record whose updates were handled, and
   * `committed`, the offset last committed (with its checkpoint); null until known. Their difference is what a
   * crash now would make the next owner read again.
   */
  positions(): PartitionPosition[];
  /**
   * Lets a handler call in flight finish (an iterator batch the loop did not finish is dropped, uncommitted),
   * checkpoints and commits what was handled, leaves the group.
   */
  close(): Promise<void>;
  /** Resolves when the member owns at least one partition (or `timeoutMs` passes: rejects). */
  waitForAssignment(timeoutMs?: number): Promise<TopicPartition[]>;
}

/** The options with every default applied: what the units of the consumer read. */
export interface ConsumerSettings {
  groupId: string;
  clientId: string;
  topics: { tickers: string | null; trades: string | null };
  /** The topics actually read. */
  subscribed: string[];
  strategy: AssignmentStrategy;
  from: 'earliest' | 'latest';
  intervals: CandleInterval[];
  gracePeriodMs: number;
  deadLetterTopic: string;
  batchSize: number;
  commitIntervalMs: number;
  sessionTimeoutMs: number;
  statisticsIntervalMs: number;
  output: { topic: string; partitions?: number } | null;
  processing: 'at-least-once' | 'exactly-once';
  transactionTimeoutMs: number;
}

/** Applies the defaults and validates; throws `ConfigError` before anything connects. */
export function resolveConsumerSettings(options: CandleConsumerOptions): ConsumerSettings {
  if (!options.groupId) throw new ConfigError('groupId is required');
  const topics = {
    tickers: options.topics?.tickers === undefined ? 'tickers' : options.topics.tickers,
    trades: options.topics?.trades === undefined ? 'trades' : options.topics.trades,
  };
  const subscribed = [topics.tickers, topics.trades].filter((t): t is string => !!t);
  if (subscribed.length === 0) throw new ConfigError('topics: at least one of tickers/trades is needed');
  const intervals = options.intervals ?? ['1m'];
  const gracePeriodMs = options.gracePeriodMs ?? 5000;
  // Validate the intervals now, not at the first record.
  createCandleAggregator({ intervals, gracePeriodMs });
  const processing = options.processing ?? 'at-least-once';
  if (processing !== 'at-least-once' && processing !== 'exactly-once')
    throw new ConfigError(`processing: 'at-least-once' or 'exactly-once', not ${JSON.stringify(processing)}`);
  if (options.output && (!options.output.topic || subscribed.includes(options.output.topic)))
    throw new ConfigError('output.topic: a topic name other than the input topics is required');
  if (options.transactionTimeoutMs !== undefined && !(options.transactionTimeoutMs >= 1000))
    throw new ConfigError('transactionTimeoutMs: at least 1000 ms');
  return {
    groupId: options.groupId,
    clientId: options.clientId ?? `${options.groupId}-${Math.random().toString(36).slice(2, 8)}`,
    topics,
    subscribed,
    strategy: options.assignment ?? 'range',
    from: options.from ?? 'earliest',
    intervals,
    gracePeriodMs,
    deadLetterTopic: options.deadLetterTopic ?? 'kandle.dlq',
    batchSize: options.batchSize ?? 500,
    commitIntervalMs: options.commitIntervalMs ?? 1000,
    sessionTimeoutMs: options.sessionTimeoutMs ?? 10_000,
    statisticsIntervalMs: options.statisticsIntervalMs ?? 0,
    output: options.output ?? null,
    processing,
    transactionTimeoutMs: options.transactionTimeoutMs ?? 10_000,
  };
}
