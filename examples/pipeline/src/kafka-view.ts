// Kafka view: what the page shows about Kafka (brokers, partitions, leaders, ISR, writes, members, lag, rates), each part fetched and degraded on its own.
import {
  type CandleConsumer,
  type CryptoProducer,
  type GroupState,
  type KafkaAdmin,
  type LiveBroker,
  type PartitionLag,
  type PartitionState,
  partitionForKey,
  type ProducerMetrics,
  withTimeout,
} from '@kandle/core';
import type { FaultLab, FaultLabView } from './fault-lab';
import type { Timeline, TimelineEvent } from './timeline';
import type { LedgerView, WriteLedger } from './write-ledger';

/** One partition of a topic. */
export interface PartitionView {
  partition: number;
  /** Broker id of the leader; −1 while the partition has none. */
  leader: number;
  replicas: number[];
  isr: number[];
  /** ISR smaller than the replica set. */
  underReplicated: boolean;
  /** Whether an `acks=all` write is accepted now: ISR ≥ `min.insync.replicas` and a leader. */
  writable: boolean;
  /** Symbols whose key hashes (murmur2, like the Java client) to this partition. */
  symbols: string[];
  /** Log end offset (last known). */
  endOffset: number;
  /**
   * Next offset after the last record whose candle updates were handled, as the member of this process reading it
   * reports (`consumer.positions()`); null when no consumer here owns it yet.
   */
  processed: number | null;
  /** The group's committed offset, or null before its first commit. */
  committed: number | null;
  /** End − committed: what a restart would read again, plus what is not processed yet. */
  lag: number;
  /** Client id of the group member reading it, as the coordinator reports it. */
  member: string | null;
}

export interface TopicView {
  name: string;
  partitions: PartitionView[];
}

export interface MemberView {
  memberId: string;
  clientId: string;
  host: string;
  assignment: Array<{ topic: string; partition: number }>;
  /** Sum of the lag of its partitions. */
  lag: number;
}

/** One broker: `up` from the cluster metadata (null when the metadata could not be read), `jvm` from the lab. */
export interface BrokerView {
  id: number;
  up: boolean | null;
  /** Partitions (of the pipeline's topics) it leads. */
  leaderOf: number;
  /** Whether the lab's JVM of this broker runs; null when the lab is off (brokers kandle did not start). */
  jvm: 'running' | 'stopped' | null;
}

/** What `acks=all` + `min.insync.replicas` mean for one topic right now. */
export interface WritesView {
  topic: string;
  minInsyncReplicas: number;
  replicationFactor: number;
  /** The smallest ISR among the topic's partitions. */
  inSync: number;
  accepted: boolean;
  /** "writes accepted: 2 of 3 replicas in sync" / "writes refused: 1 of 3 replicas in sync (min.insync.replicas 2)". */
  summary: string;
}

/** Freshness of one part of the view: `at` is when it was last fetched, `error` why the latest fetch failed. */
export interface PartStatus {
  ok: boolean;
  /** Unix ms of the last successful fetch, or null if there was none yet. */
  at: number | null;
  error: string | null;
}

/** One snapshot of the Kafka side of the pipeline. */
export interface KafkaView {
  /** When it was taken, Unix ms. */
  at: number;
  /** Each part from the cluster, with its freshness: `metadata` (brokers, leaders, ISR), `group`, `offsets`. */
  parts: { metadata: PartStatus; group: PartStatus; offsets: PartStatus };
  brokers: BrokerView[];
  topics: TopicView[];
  writes: WritesView[];
  group: { groupId: string; state: string; protocol: string; members: MemberView[] };
  /** Records per second since the previous snapshot. */
  rates: { producedPerSecond: number; consumedPerSecond: number };
  producer: ProducerMetrics;
  /** What each member of this process reads and has done, by client id. */
  consumers: Array<{ clientId: string; records: number; commits: number; rebalances: number }>;
  /** The producer's records produced, acknowledged, refused, lost; null when the viewer has no ledger. */
  ledger: LedgerView | null;
  timeline: TimelineEvent[];
  lab: FaultLabView;
}

/** Options of {@link createKafkaViewer}. */
export interface KafkaViewerOptions {
  admin: KafkaAdmin;
  groupId: string;
  topics: string[];
  symbols: readonly string[];
  producer: CryptoProducer;
  consumers: readonly CandleConsumer[];
  /** The topics' `min.insync.replicas`, for the writes summary. Default 2. */
  minInsyncReplicas?: number;
  /**
   * The longest a snapshot waits for any part; a part that has not answered by then is shown as last known with
   * "no answer within … ms", and the fetch in flight keeps going (one per part at a time). Default 1500 ms.
   */
  partTimeoutMs?: number;
  ledger?: WriteLedger;
  timeline?: Timeline;
  lab?: FaultLab;
}

/** A part of the view fetched from the cluster: one fetch in flight at most, last good value kept. */
interface Part<T> {
  value: T | undefined;
  status(): PartStatus;
  /** Starts a fetch unless one is in flight and waits for it up to `timeoutMs`; never rejects. */
  refresh(timeoutMs: number): Promise<void>;
}

function createPart<T>(fetch: () => Promise<T>): Part<T> {
  let at: number | null = null;
  let error: string | null = null;
  let inFlight: Promise<void> | undefined;
  const part: Part<T> = {
    value: undefined,
    status: () => ({ ok: error === null && at !== null, at, error }),
    async refresh(timeoutMs) {
      inFlight ??= fetch()
        .then(
          (value) => {
            part.value = value;
            at = Date.now();
            error = null;
          },
          (e: Error) => {
            error = e.message;
          },
        )
        .finally(() => {
          inFlight = undefined;
        });
      await withTimeout(inFlight, timeoutMs, () => new Error(`no answer within ${timeoutMs} ms`)).catch((e: Error) => {
        error = e.message;
      });
    },
  };
  return part;
}

/**
 * Builds {@link KafkaView} snapshots from three parts fetched in parallel, each within `partTimeoutMs`: metadata
 * (live brokers, leaders, ISR), the group (members, assignments) and offsets (end, committed, lag). A part that fails
 * or is slow keeps its last known value and says so; the rest stays live. Rates and the ledger come from this process.
 *
 * @example
 * ```ts
 * const viewer = createKafkaViewer({ admin, groupId: 'candles', topics: ['tickers', 'trades'], symbols, producer, consumers });
 * const view = await viewer.snapshot(); // within about partTimeoutMs, whatever the cluster does
 * ```
 */
export function createKafkaViewer(options: KafkaViewerOptions): { snapshot(): Promise<KafkaView> } {
  const { admin, groupId } = options;
  const timeoutMs = options.partTimeoutMs ?? 1500;
  const minIsr = options.minInsyncReplicas ?? 2;
  const rates = rateMeter();
  const metadata = createPart(async () => {
    const [live, ...described] = await Promise.all([
      admin.liveBrokers({ timeoutMs }),
      ...options.topics.map((topic) => admin.describeTopic(topic, { timeoutMs })),
    ]);
    return { live: live as LiveBroker[], described: described as PartitionState[][] };
  });
  const group = createPart(() => admin.describeGroup(groupId, { budgetMs: timeoutMs }));
  // The ledger's mark first: only records acknowledged before the end offsets were read can be missing from them.
  const offsets = createPart(async () => {
    const mark = options.ledger?.mark();
    const lags = await Promise.all(options.topics.map((t) => admin.groupLag(groupId, t, { budgetMs: timeoutMs })));
    return { lags: lags.flat(), mark };
  });

  return {
    async snapshot() {
      await Promise.all([metadata.refresh(timeoutMs), group.refresh(timeoutMs), offsets.refresh(timeoutMs)]);
      const lags = offsets.value?.lags ?? [];
      const lagOf = new Map<string, PartitionLag>(lags.map((l) => [`${l.topic}|${l.partition}`, l]));
      const groupState: GroupState = group.value ?? { groupId, state: 'Unknown', protocol: '', members: [] };
      const topics = topicViews(options, metadata.value?.described, lagOf, groupState, minIsr);
      const lab = options.lab?.view() ?? { enabled: false as const, reason: 'no fault lab in this process' };
      const brokers = brokerViews(metadata.value?.live, metadata.status().ok, topics, lab);
      options.timeline?.observe({
        ...(metadata.status().ok
          ? {
              brokers,
              partitions: topics.flatMap((t) => t.partitions.map((p) => ({ topic: t.name, ...p }))),
            }
          : {}),
        ...(group.status().ok ? { group: groupState } : {}),
      });
      const producer = options.producer.metrics();
      const consumers = options.consumers.map((c) => {
        const { records, commits, rebalances } = c.stats();
        return { clientId: c.clientId, records, commits, rebalances };
      });
      const at = Date.now();
      const members = groupState.members.map(
        (m): MemberView => ({
          ...m,
          lag: m.assignment.reduce((sum, tp) => sum + (lagOf.get(`${tp.topic}|${tp.partition}`)?.lag ?? 0), 0),
        }),
      );
      return {
        at,
        parts: { metadata: metadata.status(), group: group.status(), offsets: offsets.status() },
        brokers,
        topics,
        writes: topics.map((t) => writesView(t, minIsr)),
        group: { groupId, state: groupState.state, protocol: groupState.protocol, members },
        rates: rates(
          at,
          producer.delivered,
          consumers.reduce((sum, c) => sum + c.records, 0),
        ),
        producer,
        consumers,
        ledger:
          options.ledger?.view(
            offsets.value ? new Map(lags.map((l) => [`${l.topic}|${l.partition}`, l.end])) : undefined,
            offsets.value?.mark,
          ) ?? null,
        timeline: options.timeline?.events() ?? [],
        lab,
      };
    },
  };
}

function topicViews(
  options: KafkaViewerOptions,
  described: PartitionState[][] | undefined,
  lagOf: Map<string, PartitionLag>,
  group: GroupState,
  minIsr: number,
): TopicView[] {
  const readerOf = new Map<string, string>();
  for (const m of group.members) for (const tp of m.assignment) readerOf.set(`${tp.topic}|${tp.partition}`, m.clientId);
  // Straight from the members in this process: live even while the offsets part cannot be fetched.
  const processedOf = new Map<string, number | null>();
  for (const c of options.consumers)
    for (const p of c.positions()) processedOf.set(`${p.topic}|${p.partition}`, p.processed);
  return options.topics.map((name, i): TopicView => {
    const partitions = described?.[i] ?? [];
    return {
      name,
      partitions: partitions.map((p) => {
        const lag = lagOf.get(`${name}|${p.partition}`);
        return {
          partition: p.partition,
          leader: p.leader,
          replicas: p.replicas,
          isr: p.isr,
          underReplicated: p.isr.length < p.replicas.length,
          writable: p.leader >= 0 && p.isr.length >= minIsr,
          symbols: options.symbols.filter((s) => partitionForKey(s, partitions.length) === p.partition),
          endOffset: lag?.end ?? 0,
          processed: processedOf.get(`${name}|${p.partition}`) ?? null,
          committed: lag?.committed ?? null,
          lag: lag?.lag ?? 0,
          member: readerOf.get(`${name}|${p.partition}`) ?? null,
        };
      }),
    };
  });
}

/** Every broker named by the metadata, a replica set or the lab; up when the metadata lists it now. */
function brokerViews(
  live: LiveBroker[] | undefined,
  metadataFresh: boolean,
  topics: TopicView[],
  lab: FaultLabView,
): BrokerView[] {
  const ids = new Set<number>(live?.map((b) => b.id) ?? []);
  for (const t of topics) for (const p of t.partitions) for (const id of p.replicas) ids.add(id);
  const running = new Map(lab.enabled ? lab.brokers.map((b) => [b.id, b.running]) : []);
  for (const id of running.keys()) ids.add(id);
  return [...ids]
    .sort((a, b) => a - b)
    .map((id) => ({
      id,
      up: metadataFresh && live ? live.some((b) => b.id === id) : null,
      leaderOf: topics.reduce((n, t) => n + t.partitions.filter((p) => p.leader === id).length, 0),
      jvm: running.has(id) ? (running.get(id) ? 'running' : 'stopped') : null,
    }));
}

function writesView(topic: TopicView, minIsr: number): WritesView {
  const replicationFactor = topic.partitions[0]?.replicas.length ?? 0;
  const inSync = topic.partitions.length === 0 ? 0 : Math.min(...topic.partitions.map((p) => p.isr.length));
  const accepted = topic.partitions.length > 0 && topic.partitions.every((p) => p.writable);
  const summary = accepted
    ? `writes accepted: ${inSync} of ${replicationFactor} replicas in sync (min.insync.replicas ${minIsr})`
    : topic.partitions.length === 0
      ? 'writes: unknown (no metadata yet)'
      : `writes refused: ${inSync} of ${replicationFactor} replicas in sync (min.insync.replicas ${minIsr})`;
  return { topic: topic.name, minInsyncReplicas: minIsr, replicationFactor, inSync, accepted, summary };
}

/** Records per second over at least a second, so two snapshots taken back to back do not report noise. */
function rateMeter(): (at: number, produced: number, consumed: number) => KafkaView['rates'] {
  let previous: { at: number; produced: number; consumed: number } | undefined;
  let last: KafkaView['rates'] = { producedPerSecond: 0, consumedPerSecond: 0 };
  return (at, produced, consumed) => {
    if (!previous) previous = { at, produced, consumed };
    const seconds = (at - previous.at) / 1000;
    if (seconds < 1) return last;
    last = {
      producedPerSecond: round1((produced - previous.produced) / seconds),
      consumedPerSecond: round1((consumed - previous.consumed) / seconds),
    };
    previous = { at, produced, consumed };
    return last;
  };
}

function round1(n: number): number {
  return Math.round(n * 10) / 10;
}
