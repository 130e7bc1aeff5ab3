// Assignment step (shapes): what a consumer group, an assignor and a rebalance plan look like, and their ordering.

/** One partition of one topic. */
export type TopicPartition = { topic: string; partition: number };

/**
 * One consumer of a group as the group leader sees it when it computes an assignment.
 *
 * @example
 * ```ts
 * const member: GroupMember = { memberId: 'C1', topics: ['criptomonedas'], owned: [{ topic: 'criptomonedas', partition: 0 }] };
 * ```
 */
export interface GroupMember {
  /** Unique id of the member within the group; assignors order members by it. */
  memberId: string;
  /** Topics the member subscribes to. */
  topics: string[];
  /**
   * Partitions the member held in the previous generation. Only sticky strategies read it; entries for topics the
   * member no longer subscribes to, or for partitions that no longer exist, are ignored as stale.
   */
  owned?: TopicPartition[];
  /** Opaque bytes the member sent with its subscription; available to custom assignors, ignored by the built-ins. */
  userData?: Uint8Array;
}

/**
 * A partition assignment strategy: maps every subscribed partition to exactly one subscribed member.
 *
 * Implementations must be pure: the same input always gives the same output, whichever process computes it.
 *
 * @example
 * ```ts
 * const everythingToFirst: Assignor = {
 *   name: 'everything-to-first',
 *   assign(members, partitionsPerTopic) {
 *     const [first, ...rest] = [...members].sort((a, b) => (a.memberId < b.memberId ? -1 : 1));
 *     const result: Record<string, TopicPartition[]> = Object.fromEntries(rest.map((m) => [m.memberId, []]));
 *     if (first) result[first.memberId] = first.topics.flatMap((topic) =>
 *       Array.from({ length: partitionsPerTopic[topic] ?? 0 }, (_, partition) => ({ topic, partition })));
 *     return result;
 *   },
 * };
 * ```
 */
export interface Assignor {
  /** Strategy name as announced in the group protocol, e.g. `range`, `roundrobin`, `sticky`. */
  name: string;
  /**
   * Computes the assignment of one generation.
   *
   * @param members - every member of the group, with its subscription (and, for sticky strategies, what it owned).
   * @param partitionsPerTopic - partition count of every topic known to exist.
   * @returns memberId → partitions; every member is a key (possibly with an empty list), lists sorted.
   */
  assign(members: GroupMember[], partitionsPerTopic: Record<string, number>): Record<string, TopicPartition[]>;
}

/** A change to a group that triggers a rebalance, as simulated by `planRebalance`. */
export type RebalanceChange =
  | { type: 'join'; member: GroupMember }
  | { type: 'leave'; memberId: string }
  /** `partitions` new partitions are appended to `topic` (which is created when absent). */
  | { type: 'partitions-added'; topic: string; partitions: number };

/** Input of `planRebalance`. */
export interface PlanRebalanceOptions {
  /** Strategy to simulate; a custom one is checked with `validateAssignment`. */
  assignor: Assignor;
  /** The group before the change; `owned` is ignored (the plan starts from a fresh assignment). */
  members: GroupMember[];
  /** Partition counts before the change. */
  partitionsPerTopic: Record<string, number>;
  /** What happens to the group. */
  change: RebalanceChange;
}

/** A partition whose owner differs before and after a rebalance; `from`/`to` are absent when nobody owned it. */
export type PartitionMove = { topic: string; partition: number; from?: string; to?: string };

/** Result of `planRebalance`. */
export interface RebalancePlan {
  /** Assignment of the group before the change. */
  before: Record<string, TopicPartition[]>;
  /** Assignment after the change, computed with each surviving member owning its `before` partitions. */
  after: Record<string, TopicPartition[]>;
  /** Every partition that changes owner (or gains/loses one), sorted by topic then partition. */
  moved: PartitionMove[];
  /** For every member of the group after the change: partitions it held before and must give up. */
  revoked: Record<string, TopicPartition[]>;
  /** Number of partitions that keep the same owner. */
  unchanged: number;
}

// Kafka orders topics with Java's String.compareTo (UTF-16 code units), which is what `<` does; localeCompare would not.
export function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export function compareTopicPartitions(a: TopicPartition, b: TopicPartition): number {
  return compareStrings(a.topic, b.topic) || a.partition - b.partition;
}

export function sortTopicPartitions(partitions: TopicPartition[]): TopicPartition[] {
  return [...partitions].sort(compareTopicPartitions);
}

/** Map key of a partition; the NUL separator cannot occur in a Kafka topic name. */
export function topicPartitionKey(tp: TopicPartition): string {
  return `${tp.topic}\u0000${tp.partition}`;
}

export function sortMembers<M extends GroupMember>(members: readonly M[]): M[] {
  return [...members].sort((a, b) => compareStrings(a.memberId, b.memberId));
}

/** All partitions of `topics` that exist in `partitionsPerTopic`, sorted by topic then partition. */
export function partitionsOf(topics: Iterable<string>, partitionsPerTopic: Record<string, number>): TopicPartition[] {
  const result: TopicPartition[] = [];
  for (const topic of [...new Set(topics)].sort(compareStrings)) {
    const count = Object.hasOwn(partitionsPerTopic, topic) ? (partitionsPerTopic[topic] ?? 0) : 0;
    for (let partition = 0; partition < count; partition++) result.push({ topic, partition });
  }
  return result;
}

/** Every member id as a key with an empty list, so that idle members still appear in a result. */
export function emptyAssignment(members: readonly GroupMember[]): Record<string, TopicPartition[]> {
  const result: Record<string, TopicPartition[]> = {};
  for (const member of members) result[member.memberId] = [];
  return result;
}

/** Sorts each member's list in place and returns the same object. */
export function sortAssignment(assignment: Record<string, TopicPartition[]>): Record<string, TopicPartition[]> {
  for (const list of Object.values(assignment)) list.sort(compareTopicPartitions);
  return assignment;
}
