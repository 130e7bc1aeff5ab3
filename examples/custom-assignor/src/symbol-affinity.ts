// Custom assignor (assignment step): pins the partitions holding chosen symbols to dedicated members, spreads the rest.
import {
  AssignmentError,
  type Assignor,
  ConfigError,
  type GroupMember,
  partitionForKey,
  type TopicPartition,
} from '@kandle/core';

/** Options of {@link createSymbolAffinityAssignor}. */
export interface SymbolAffinityOptions {
  /**
   * Symbols whose partitions go to the dedicated member(s). A symbol's partition in a topic of `n` partitions is
   * `partitionForKey(symbol, n)`: where kandle's producer (and the Java client) puts records keyed by it.
   * Default `['tBTCUSD']`.
   */
  symbols?: readonly string[];
  /**
   * Tells whether a member is dedicated. In a live group `memberId` is the consumer's `clientId`.
   * Default: `memberId.startsWith(dedicatedMemberPrefix)`. Give this or `dedicatedMemberPrefix`, not both.
   */
  isDedicated?: (memberId: string) => boolean;
  /** Client-id prefix of dedicated members, used when `isDedicated` is not given. Default `'dedicated-'`. */
  dedicatedMemberPrefix?: string;
  /**
   * Keep partitions with the member that `owned` them in the previous generation, as far as balance allows
   * (like Kafka's sticky assignor, within each group of interchangeable members). Default true.
   */
  sticky?: boolean;
  /** Name announced for the strategy. Default `'symbol-affinity'`. */
  name?: string;
}

/**
 * An assignor that gives the partitions holding `symbols` to dedicated members and spreads every other partition
 * evenly over the remaining members, so one hot symbol gets a consumer of its own.
 *
 * For each partition of a subscribed topic, among the members subscribed to that topic:
 * - a **pinned** partition (one holding a pinned symbol) goes to the dedicated members, balanced over them when
 *   there are several;
 * - any other partition goes to the non-dedicated members, balanced over them;
 * - with **no dedicated member** the pinned partitions are spread like the rest (never left unread);
 * - with **only dedicated members** they take every partition.
 *
 * Other symbols that hash to a pinned partition travel with it: affinity is per partition, not per record.
 * "Balanced": partitions are dealt in topic/partition order, each to the eligible member holding the fewest
 * partitions of the same kind (then the fewest overall, then the id that sorts first), so the counts within each
 * kind differ by at most one; with the same subscriptions everywhere that is round robin. With `sticky`, a member
 * first keeps what it `owned`, up to its fair share: when a worker leaves or joins, only the partitions needed to
 * rebalance move, and the dedicated member keeps its pinned partitions. The result is a pure function of the input: it does not depend on the order of
 * `members`, and every member (keyed by `memberId`, possibly with an empty list) appears in it.
 *
 * @throws ConfigError for malformed options (empty symbol, both `isDedicated` and `dedicatedMemberPrefix`).
 * @throws AssignmentError from `assign` for malformed input (empty or duplicate `memberId`, bad partition count).
 *
 * @example
 * ```ts
 * const consumer = await createCandleConsumer({
 *   groupId: 'candles',
 *   clientId: 'dedicated-btc', // or 'worker-1', 'worker-2', …
 *   assignment: createSymbolAffinityAssignor({ symbols: ['tBTCUSD'] }),
 * });
 * ```
 */
export function createSymbolAffinityAssignor(options: SymbolAffinityOptions = {}): Assignor {
  const symbols = [...(options.symbols ?? ['tBTCUSD'])];
  if (symbols.some((s) => typeof s !== 'string' || s === ''))
    throw new ConfigError('symbols must be non-empty strings', { symbols });
  if (options.isDedicated !== undefined && options.dedicatedMemberPrefix !== undefined)
    throw new ConfigError('give isDedicated or dedicatedMemberPrefix, not both');
  const prefix = options.dedicatedMemberPrefix ?? 'dedicated-';
  if (prefix === '') throw new ConfigError('dedicatedMemberPrefix must not be empty (every member would be dedicated)');
  const isDedicated = options.isDedicated ?? ((memberId: string) => memberId.startsWith(prefix));
  const sticky = options.sticky ?? true;

  return {
    name: options.name ?? 'symbol-affinity',
    assign(members, partitionsPerTopic) {
      checkInput(members, partitionsPerTopic);
      const sorted = [...members].sort((a, b) => compareStrings(a.memberId, b.memberId));
      const dedicated = new Set(sorted.filter((m) => isDedicated(m.memberId)).map((m) => m.memberId));

      // A partition's pool: the members that may take it. Pools are balanced one by one.
      const pools = new Map<string, Pool>();
      const dealOrder: Array<{ tp: TopicPartition; pool: Pool }> = [];
      for (const topic of subscribedTopics(sorted, partitionsPerTopic)) {
        const count = partitionsPerTopic[topic] ?? 0;
        const subscribers = sorted.filter((m) => m.topics.includes(topic)).map((m) => m.memberId);
        const dedicatedHere = subscribers.filter((id) => dedicated.has(id));
        const others = subscribers.filter((id) => !dedicated.has(id));
        const pinned = new Set(count > 0 ? symbols.map((symbol) => partitionForKey(symbol, count)) : []);
        for (let partition = 0; partition < count; partition++) {
          const eligible =
            pinned.has(partition) && dedicatedHere.length > 0
              ? dedicatedHere
              : others.length > 0
                ? others
                : dedicatedHere;
          const key = JSON.stringify(eligible);
          const pool: Pool = pools.get(key) ?? { members: eligible, partitions: [], share: new Map() };
          pools.set(key, pool);
          const tp = { topic, partition };
          pool.partitions.push(tp);
          dealOrder.push({ tp, pool });
        }
      }

      const result: Record<string, TopicPartition[]> = {};
      const load = new Map<string, number>();
      for (const m of sorted) {
        result[m.memberId] = [];
        load.set(m.memberId, 0);
      }
      const give = (tp: TopicPartition, memberId: string, pool: Pool) => {
        result[memberId]?.push(tp);
        load.set(memberId, (load.get(memberId) ?? 0) + 1);
        pool.share.set(memberId, (pool.share.get(memberId) ?? 0) + 1);
      };

      const kept = sticky ? keepOwned(sorted, pools.values(), give) : new Set<string>();
      for (const { tp, pool } of dealOrder) {
        if (kept.has(keyOf(tp))) continue;
        // Fewest partitions of this pool first (so each pool is balanced), then fewest overall, then member order.
        const fewer = (a: string, b: string) => {
          const byPool = (pool.share.get(a) ?? 0) - (pool.share.get(b) ?? 0);
          return byPool !== 0 ? byPool < 0 : (load.get(a) ?? 0) < (load.get(b) ?? 0);
        };
        const taker = pool.members.reduce((best, id) => (fewer(id, best) ? id : best));
        give(tp, taker, pool);
      }
      for (const list of Object.values(result)) list.sort(compareTopicPartitions);
      return result;
    },
  };
}

/** Members that may take the same partitions, the partitions, and how many of them each member has so far. */
interface Pool {
  members: string[];
  partitions: TopicPartition[];
  share: Map<string, number>;
}

/**
 * Sticky phase, per pool of `n` members sharing `p` partitions: each member keeps up to ⌊p/n⌋ of the partitions it
 * owned, then (in member order) one more while fewer than `p mod n` members hold ⌈p/n⌉, so that dealing the rest
 * still ends balanced, and a group that owns its own assignment gets it again. A partition claimed by two members
 * stays with the one that sorts first. Returns the keys of the kept partitions.
 */
function keepOwned(
  sorted: readonly GroupMember[],
  pools: Iterable<Pool>,
  give: (tp: TopicPartition, memberId: string, pool: Pool) => void,
): Set<string> {
  const kept = new Set<string>();
  const ownedBy = new Map(sorted.map((m) => [m.memberId, new Set((m.owned ?? []).map(keyOfUnchecked))]));
  const owns = (id: string, tp: TopicPartition) => ownedBy.get(id)?.has(keyOf(tp)) === true;
  for (const pool of pools) {
    const floor = Math.floor(pool.partitions.length / pool.members.length);
    let extras = pool.partitions.length % pool.members.length;
    const keep = (tp: TopicPartition, id: string) => {
      kept.add(keyOf(tp));
      give(tp, id, pool);
    };
    for (const tp of pool.partitions) {
      const owner = pool.members.find((id) => owns(id, tp) && (pool.share.get(id) ?? 0) < floor);
      if (owner !== undefined) keep(tp, owner);
    }
    for (const id of pool.members) {
      if (extras === 0) break;
      const extra = pool.partitions.find((tp) => !kept.has(keyOf(tp)) && owns(id, tp));
      if (extra === undefined) continue;
      keep(extra, id);
      extras--;
    }
  }
  return kept;
}

/** The checks the assignor itself relies on; the full contract check is `validateAssignment` (run by the consumer). */
function checkInput(members: readonly GroupMember[], partitionsPerTopic: Record<string, number>): void {
  for (const [topic, count] of Object.entries(partitionsPerTopic)) {
    if (!Number.isSafeInteger(count) || count < 0)
      throw new AssignmentError(`partition count of topic "${topic}" must be a non-negative integer`, { topic });
  }
  const seen = new Set<string>();
  for (const { memberId, topics } of members) {
    if (typeof memberId !== 'string' || memberId === '' || memberId === '__proto__')
      throw new AssignmentError('every member needs a non-empty memberId other than "__proto__"', { memberId });
    if (seen.has(memberId)) throw new AssignmentError(`memberId "${memberId}" appears twice`, { memberId });
    if (!Array.isArray(topics)) throw new AssignmentError(`member "${memberId}" has no topic list`, { memberId });
    seen.add(memberId);
  }
}

/** Topics someone subscribes to and that exist, in Kafka's order. */
function subscribedTopics(members: readonly GroupMember[], partitionsPerTopic: Record<string, number>): string[] {
  const topics = new Set(members.flatMap((m) => m.topics));
  return [...topics].filter((t) => Object.hasOwn(partitionsPerTopic, t)).sort(compareStrings);
}

// Java's String.compareTo order (UTF-16 code units), the order Kafka's own assignors sort members and topics in.
function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function compareTopicPartitions(a: TopicPartition, b: TopicPartition): number {
  return compareStrings(a.topic, b.topic) || a.partition - b.partition;
}

// NUL cannot occur in a Kafka topic name, so the key is unambiguous.
function keyOf(tp: TopicPartition): string {
  return `${tp.topic}\u0000${tp.partition}`;
}

// `owned` comes from other processes' commit metadata: a malformed entry simply matches no partition.
function keyOfUnchecked(tp: unknown): string {
  const { topic, partition } = (tp ?? {}) as Partial<TopicPartition>;
  return typeof topic === 'string' && Number.isSafeInteger(partition)
    ? keyOf({ topic, partition: partition as number })
    : '';
}
