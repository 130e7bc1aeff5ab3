// Kafka view: what the page shows about Kafka (partitions, leaders, ISR, symbols, members, lag, rates), read from the cluster.
import {
  type CandleConsumer,
  type CryptoProducer,
  type KafkaAdmin,
  type PartitionLag,
  partitionForKey,
  type ProducerMetrics,
} from '@kandle/core';

/** One partition of a topic. */
export interface PartitionView {
  partition: number;
  leader: number;
  replicas: number[];
  isr: number[];
  /** Symbols whose key hashes (murmur2, like the Java client) to this partition. */
  symbols: string[];
  /** Log end offset. */
  endOffset: number;
  /** The group's committed offset, or null before its first commit. */
  committed: number | null;
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

/** One snapshot of the Kafka side of the pipeline. */
export interface KafkaView {
  /** When it was taken, Unix ms. */
  at: number;
  topics: TopicView[];
  group: { groupId: string; state: string; protocol: string; members: MemberView[] };
  /** Records per second since the previous snapshot. */
  rates: { producedPerSecond: number; consumedPerSecond: number };
  producer: ProducerMetrics;
  /** What each member of this process reads and has done, by client id. */
  consumers: Array<{ clientId: string; records: number; commits: number; rebalances: number }>;
}

/** Options of {@link createKafkaViewer}. */
export interface KafkaViewerOptions {
  admin: KafkaAdmin;
  groupId: string;
  topics: string[];
  symbols: readonly string[];
  producer: CryptoProducer;
  consumers: readonly CandleConsumer[];
}

/**
 * Builds {@link KafkaView} snapshots: partitions with leader and ISR from `describeTopic`, members and their
 * assignments from `describeGroup`, lag from `groupLag`, rates from the producer's and consumers' counters.
 *
 * @example
 * ```ts
 * const viewer = createKafkaViewer({ admin, groupId: 'candles', topics: ['tickers', 'trades'], symbols, producer, consumers });
 * const view = await viewer.snapshot();
 * ```
 */
export function createKafkaViewer(options: KafkaViewerOptions): { snapshot(): Promise<KafkaView> } {
  let previous: { at: number; produced: number; consumed: number } | undefined;
  let lastRates: KafkaView['rates'] = { producedPerSecond: 0, consumedPerSecond: 0 };

  // Rates over at least a second, so two snapshots taken back to back do not report noise.
  const rates = (at: number, produced: number, consumed: number): KafkaView['rates'] => {
    if (!previous) previous = { at, produced, consumed };
    const seconds = (at - previous.at) / 1000;
    if (seconds < 1) return lastRates;
    lastRates = {
      producedPerSecond: round1((produced - previous.produced) / seconds),
      consumedPerSecond: round1((consumed - previous.consumed) / seconds),
    };
    previous = { at, produced, consumed };
    return lastRates;
  };

  return {
    async snapshot() {
      const { admin, groupId } = options;
      const [group, described, lags] = await Promise.all([
        admin.describeGroup(groupId),
        Promise.all(options.topics.map((topic) => admin.describeTopic(topic))),
        Promise.all(options.topics.map((topic) => admin.groupLag(groupId, topic))),
      ]);
      const lagOf = new Map<string, PartitionLag>(lags.flat().map((l) => [`${l.topic}|${l.partition}`, l]));
      const readerOf = new Map<string, string>();
      for (const m of group.members)
        for (const tp of m.assignment) readerOf.set(`${tp.topic}|${tp.partition}`, m.clientId);

      const topics = options.topics.map((name, i): TopicView => {
        const partitions = described[i] ?? [];
        return {
          name,
          partitions: partitions.map((p) => {
            const lag = lagOf.get(`${name}|${p.partition}`);
            return {
              partition: p.partition,
              leader: p.leader,
              replicas: p.replicas,
              isr: p.isr,
              symbols: options.symbols.filter((s) => partitionForKey(s, partitions.length) === p.partition),
              endOffset: lag?.end ?? 0,
              committed: lag?.committed ?? null,
              lag: lag?.lag ?? 0,
              member: readerOf.get(`${name}|${p.partition}`) ?? null,
            };
          }),
        };
      });

      const members = group.members.map(
        (m): MemberView => ({
          ...m,
          lag: m.assignment.reduce((sum, tp) => sum + (lagOf.get(`${tp.topic}|${tp.partition}`)?.lag ?? 0), 0),
        }),
      );
      const producer = options.producer.metrics();
      const consumers = options.consumers.map((c) => ({ clientId: c.clientId, ...c.stats() }));
      const at = Date.now();
      return {
        at,
        topics,
        group: { groupId, state: group.state, protocol: group.protocol, members },
        rates: rates(
          at,
          producer.delivered,
          consumers.reduce((sum, c) => sum + c.records, 0),
        ),
        producer,
        consumers: consumers.map(({ clientId, records, commits, rebalances }) => ({
          clientId,
          records,
          commits,
          rebalances,
        })),
      };
    },
  };
}

function round1(n: number): number {
  return Math.round(n * 10) / 10;
}
