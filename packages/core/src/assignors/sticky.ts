// Assignment step (sticky strategy): a balanced assignment that keeps as many previously owned partitions as possible.

import {
  type Assignor,
  type GroupMember,
  type TopicPartition,
  compareStrings,
  compareTopicPartitions,
  partitionsOf,
  sortAssignment,
  sortMembers,
  sortTopicPartitions,
  topicPartitionKey,
} from './types';
import { validateGroup } from './validate';

/**
 * Apache Kafka's `StickyAssignor` semantics: the result is balanced, and among balanced results it keeps as many
 * of each member's `owned` partitions as possible.
 *
 * - When every member subscribes to the same topics (Kafka's "constrained" case) partition counts differ by at
 *   most one, following the Java client's algorithm (same results in Kafka's own tests, except where Java's HashMap
 *   order breaks ties): each member keeps up to its quota of owned partitions (lowest first), the rest are dealt
 *   round-robin to members below quota. A member leaving moves only
 *   its partitions; a member joining takes only the partitions it needs, and nothing else moves.
 * - With different subscriptions, owned partitions are kept, the rest go one by one (partitions with the fewest
 *   candidate members first) to the least-loaded subscriber, then partitions are handed over — directly or along a
 *   chain of members — until no member could give one to a member holding at least two fewer.
 *
 * Stale `owned` entries (topics no longer subscribed, partitions that no longer exist) are ignored; a partition
 * claimed by several members stays with the one whose `memberId` sorts first.
 *
 * @example
 * ```ts
 * const topics = ['A', 'B'];
 * const before = stickyAssignor.assign(['C1', 'C2', 'C3'].map((memberId) => ({ memberId, topics })), { A: 2, B: 2 });
 * // C2 dies: C1 and C3 keep what they had, only C2's partition moves.
 * const after = stickyAssignor.assign(
 *   ['C1', 'C3'].map((memberId) => ({ memberId, topics, owned: before[memberId] ?? [] })),
 *   { A: 2, B: 2 },
 * );
 * ```
 */
export const stickyAssignor: Assignor = {
  name: 'sticky',
  assign(members, partitionsPerTopic) {
    validateGroup(members, partitionsPerTopic);
    const sorted = sortMembers(members);
    const subscriptions = new Map(
      sorted.map((m) => [m.memberId, new Set(m.topics.filter((t) => Object.hasOwn(partitionsPerTopic, t)))]),
    );
    const partitions = partitionsOf(
      members.flatMap((m) => m.topics),
      partitionsPerTopic,
    );
    const owned = claimOwnedPartitions(sorted, subscriptions, partitionsPerTopic);
    const memberIds = sorted.map((m) => m.memberId);
    const result = subscribeToSameTopics(subscriptions)
      ? assignEqualSubscriptions(memberIds, partitions, owned)
      : assignMixedSubscriptions(memberIds, subscriptions, partitions, owned);
    return sortAssignment(Object.fromEntries(result));
  },
};

type Subscriptions = Map<string, Set<string>>;
type Holdings = Map<string, TopicPartition[]>;

/** Each member's still-valid owned partitions, sorted; a partition claimed twice goes to the first member. */
function claimOwnedPartitions(
  sortedMembers: readonly GroupMember[],
  subscriptions: Subscriptions,
  partitionsPerTopic: Record<string, number>,
): Holdings {
  const claimed = new Set<string>();
  const owned: Holdings = new Map();
  for (const member of sortedMembers) {
    const topics = subscriptions.get(member.memberId);
    const kept: TopicPartition[] = [];
    for (const tp of sortTopicPartitions(member.owned ?? [])) {
      const key = topicPartitionKey(tp);
      if (!topics?.has(tp.topic) || tp.partition >= (partitionsPerTopic[tp.topic] ?? 0) || claimed.has(key)) continue;
      claimed.add(key);
      kept.push({ topic: tp.topic, partition: tp.partition });
    }
    owned.set(member.memberId, kept);
  }
  return owned;
}

function subscribeToSameTopics(subscriptions: Subscriptions): boolean {
  const [first, ...rest] = [...subscriptions.values()];
  return rest.every((topics) => topics.size === first?.size && [...topics].every((t) => first.has(t)));
}

/**
 * Kafka's constrained assignment: quotas are ⌊P/N⌋ for everyone plus one for P mod N members. Granting the extra
 * slots to members that own more than the minimum keeps the largest possible number of owned partitions.
 */
function assignEqualSubscriptions(memberIds: string[], partitions: TopicPartition[], owned: Holdings): Holdings {
  const result: Holdings = new Map();
  if (memberIds.length === 0) return result;
  const minQuota = Math.floor(partitions.length / memberIds.length);
  let extraSlots = partitions.length % memberIds.length;
  const kept = new Set<string>();
  for (const memberId of memberIds) {
    const mine = owned.get(memberId) ?? [];
    let quota = minQuota;
    if (mine.length > minQuota && extraSlots > 0) {
      quota++;
      extraSlots--;
    }
    const keep = mine.slice(0, quota);
    for (const tp of keep) kept.add(topicPartitionKey(tp));
    result.set(memberId, keep);
  }
  const unassigned = partitions.filter((tp) => !kept.has(topicPartitionKey(tp)));
  let next = 0;
  let belowQuota = memberIds.filter((id) => holding(result, id).length < minQuota);
  while (belowQuota.length > 0 && next < unassigned.length) {
    for (const memberId of belowQuota) {
      const tp = unassigned[next];
      if (tp === undefined) break;
      holding(result, memberId).push(tp);
      next++;
    }
    belowQuota = belowQuota.filter((id) => holding(result, id).length < minQuota);
  }
  // What is left is exactly one partition for each extra slot nobody could fill with owned partitions.
  for (const memberId of memberIds) {
    const tp = unassigned[next];
    if (tp === undefined) break;
    const list = holding(result, memberId);
    if (list.length === minQuota) {
      list.push(tp);
      next++;
    }
  }
  return result;
}

function assignMixedSubscriptions(
  memberIds: string[],
  subscriptions: Subscriptions,
  partitions: TopicPartition[],
  owned: Holdings,
): Holdings {
  const subscribers = new Map<string, string[]>();
  for (const memberId of memberIds) {
    for (const topic of subscriptions.get(memberId) ?? [])
      subscribers.set(topic, [...(subscribers.get(topic) ?? []), memberId]);
  }
  const state: MixedState = { result: new Map(), heldTopics: new Map(), previousOwner: new Map(), subscribers };
  for (const memberId of memberIds) {
    holding(state.result, memberId);
    for (const tp of owned.get(memberId) ?? []) {
      state.previousOwner.set(topicPartitionKey(tp), memberId);
      give(state, memberId, tp);
    }
  }
  const candidates = (tp: TopicPartition) => subscribers.get(tp.topic) ?? [];
  const unassigned = partitions
    .filter((tp) => !state.previousOwner.has(topicPartitionKey(tp)))
    .sort((a, b) => candidates(a).length - candidates(b).length || compareTopicPartitions(a, b));
  for (const tp of unassigned) {
    const taker = leastLoaded(candidates(tp), state.result);
    if (taker !== undefined) give(state, taker, tp);
  }
  balance(memberIds, state);
  return state.result;
}

/** Holdings of the mixed-subscription case, indexed by topic so that hand-over chains are found quickly. */
interface MixedState {
  result: Holdings;
  /** memberId → topic → how many of its partitions the member holds (topics held at zero are removed). */
  heldTopics: Map<string, Map<string, number>>;
  /** partition key → member that owned it before this rebalance. */
  previousOwner: Map<string, string>;
  /** topic → subscribed member ids, sorted. */
  subscribers: Map<string, string[]>;
}

type HandOver = { from: string; to: string; topic: string };

/**
 * Repeatedly relieves the most loaded member that can be relieved: one partition travels along the shortest chain
 * of hand-overs to a member holding at least two fewer. Every chain lowers the sum of squared loads, so the loop
 * ends; when it does, no chain of moves could narrow the spread between any two members.
 */
function balance(memberIds: string[], state: MixedState): void {
  const load = (id: string) => holding(state.result, id).length;
  for (;;) {
    const minLoad = Math.min(...memberIds.map(load));
    const sources = memberIds
      .filter((id) => load(id) >= minLoad + 2)
      .sort((a, b) => load(b) - load(a) || compareStrings(a, b));
    let chain: HandOver[] | undefined;
    for (const source of sources) {
      chain = findReliefChain(source, state);
      if (chain !== undefined) break;
    }
    if (chain === undefined) return;
    for (const { from, to, topic } of chain) give(state, to, take(state, from, topic));
  }
}

/** Breadth-first search for the shortest chain of hand-overs from `source` to a member with ≥ 2 fewer partitions. */
function findReliefChain(source: string, state: MixedState): HandOver[] | undefined {
  const limit = holding(state.result, source).length - 2;
  const reachedVia = new Map<string, HandOver>();
  const visited = new Set([source]);
  // Once a topic has been followed, all its subscribers are visited: following it again finds nobody new.
  const followedTopics = new Set<string>();
  let frontier = [source];
  while (frontier.length > 0) {
    const layer: string[] = [];
    for (const from of frontier) {
      for (const topic of state.heldTopics.get(from)?.keys() ?? []) {
        if (followedTopics.has(topic)) continue;
        followedTopics.add(topic);
        for (const to of state.subscribers.get(topic) ?? []) {
          if (visited.has(to)) continue;
          visited.add(to);
          reachedVia.set(to, { from, to, topic });
          layer.push(to);
        }
      }
    }
    const reachable = layer.filter((id) => holding(state.result, id).length <= limit).sort(compareStrings);
    const target = leastLoaded(reachable, state.result);
    if (target !== undefined) {
      const chain: HandOver[] = [];
      for (let step = reachedVia.get(target); step !== undefined; step = reachedVia.get(step.from)) chain.unshift(step);
      return chain;
    }
    frontier = layer;
  }
  return undefined;
}

function give(state: MixedState, memberId: string, tp: TopicPartition): void {
  holding(state.result, memberId).push(tp);
  const topics = state.heldTopics.get(memberId) ?? new Map<string, number>();
  topics.set(tp.topic, (topics.get(tp.topic) ?? 0) + 1);
  state.heldTopics.set(memberId, topics);
}

/** Removes one of `memberId`'s partitions of `topic`, preferring one it did not own before: stickiness is spent last. */
function take(state: MixedState, memberId: string, topic: string): TopicPartition {
  const list = holding(state.result, memberId);
  let index = -1;
  for (let i = list.length - 1; i >= 0; i--) {
    const tp = list[i];
    if (tp?.topic !== topic) continue;
    if (index === -1) index = i;
    if (state.previousOwner.get(topicPartitionKey(tp)) !== memberId) {
      index = i;
      break;
    }
  }
  const [tp] = list.splice(index, 1);
  // A chain only follows topics the member holds, so index is never -1 here.
  if (tp === undefined) throw new Error(`sticky assignor: ${memberId} holds no partition of ${topic}`);
  const topics = state.heldTopics.get(memberId);
  const left = (topics?.get(topic) ?? 1) - 1;
  if (left > 0) topics?.set(topic, left);
  else topics?.delete(topic);
  return tp;
}

/** The member with the fewest partitions; ties go to the smallest memberId (`ids` is sorted). */
function leastLoaded(ids: readonly string[], result: Holdings): string | undefined {
  let best: string | undefined;
  for (const id of ids) if (best === undefined || holding(result, id).length < holding(result, best).length) best = id;
  return best;
}

function holding(result: Holdings, memberId: string): TopicPartition[] {
  let list = result.get(memberId);
  if (list === undefined) {
    list = [];
    result.set(memberId, list);
  }
  return list;
}
