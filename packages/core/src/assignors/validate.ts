// Assignment step (guard): rejects malformed group input and assignments that break the group contract.

import { AssignmentError } from '../errors';
import { type GroupMember, type TopicPartition, partitionsOf, topicPartitionKey } from './types';

/** How many offending partitions an error message lists before it says "…". */
const MAX_LISTED = 5;

/**
 * Checks the input every assignor receives: unique non-empty member ids, string topics, well-formed `owned`
 * entries and non-negative integer partition counts.
 *
 * @throws AssignmentError describing the first problem found.
 */
export function validateGroup(members: readonly GroupMember[], partitionsPerTopic: Record<string, number>): void {
  if (!Array.isArray(members)) throw new AssignmentError('group members must be an array');
  if (partitionsPerTopic === null || typeof partitionsPerTopic !== 'object' || Array.isArray(partitionsPerTopic)) {
    throw new AssignmentError('partitionsPerTopic must be an object of topic → partition count');
  }
  for (const [topic, count] of Object.entries(partitionsPerTopic)) {
    if (!Number.isSafeInteger(count) || count < 0) {
      throw new AssignmentError(
        `partition count of topic "${topic}" must be a non-negative integer, got ${String(count)}`,
        {
          topic,
        },
      );
    }
  }
  const seen = new Set<string>();
  for (const member of members) {
    const memberId: unknown = member?.memberId;
    if (typeof memberId !== 'string' || memberId === '') {
      throw new AssignmentError('every group member needs a non-empty string memberId');
    }
    // Results are plain objects keyed by member id; this key would replace their prototype instead.
    if (memberId === '__proto__') throw new AssignmentError('memberId "__proto__" is reserved');
    if (seen.has(memberId))
      throw new AssignmentError(`memberId "${memberId}" appears twice in the group`, { memberId });
    seen.add(memberId);
    if (!Array.isArray(member.topics) || (member.topics as unknown[]).some((t) => typeof t !== 'string' || t === '')) {
      throw new AssignmentError(`member "${memberId}" must subscribe with an array of non-empty topic names`, {
        memberId,
      });
    }
    if (member.owned !== undefined) {
      if (!Array.isArray(member.owned) || !member.owned.every(isTopicPartition)) {
        throw new AssignmentError(`member "${memberId}" has malformed owned partitions`, { memberId });
      }
    }
  }
}

/**
 * Checks that `assignment` honours the consumer-group contract for `members` and `partitionsPerTopic`:
 * every partition of a subscribed topic goes to exactly one member, that member exists and subscribes to the
 * partition's topic, and the partition exists. Members missing from `assignment` count as assigned nothing.
 *
 * The live consumer runs this on the output of custom assignors before acting on it.
 *
 * @param assignorName - named in error messages when given.
 * @throws AssignmentError whose `details` carry the offending member, topic and partition.
 *
 * @example
 * ```ts
 * const members = [{ memberId: 'C1', topics: ['coins'] }, { memberId: 'C2', topics: ['coins'] }];
 * validateAssignment(members, { coins: 2 }, { C1: [{ topic: 'coins', partition: 0 }], C2: [{ topic: 'coins', partition: 1 }] }); // ok
 * validateAssignment(members, { coins: 2 }, { C1: [{ topic: 'coins', partition: 0 }] }); // throws: coins[1] is not assigned
 * ```
 */
export function validateAssignment(
  members: GroupMember[],
  partitionsPerTopic: Record<string, number>,
  assignment: Record<string, TopicPartition[]>,
  assignorName?: string,
): void {
  validateGroup(members, partitionsPerTopic);
  const by = assignorName === undefined ? 'assignment' : `assignor "${assignorName}"`;
  if (assignment === null || typeof assignment !== 'object' || Array.isArray(assignment)) {
    throw new AssignmentError(`${by} must return an object of memberId → partitions`);
  }
  const subscriptions = new Map(members.map((m) => [m.memberId, new Set(m.topics)]));
  const ownerOf = new Map<string, string>();
  for (const [memberId, partitions] of Object.entries(assignment)) {
    const topics = subscriptions.get(memberId);
    if (!Array.isArray(partitions)) {
      throw new AssignmentError(`${by} gave member "${memberId}" something other than a list of partitions`, {
        memberId,
      });
    }
    if (topics === undefined && partitions.length > 0) {
      throw new AssignmentError(`${by} assigned partitions to unknown member "${memberId}"`, { memberId });
    }
    for (const tp of partitions) {
      if (!isTopicPartition(tp))
        throw new AssignmentError(`${by} gave member "${memberId}" a malformed partition`, { memberId });
      const at = { memberId, topic: tp.topic, partition: tp.partition };
      const count = Object.hasOwn(partitionsPerTopic, tp.topic) ? partitionsPerTopic[tp.topic] : undefined;
      if (count === undefined || tp.partition >= count) {
        throw new AssignmentError(`${by} assigned ${label(tp)}, which does not exist, to "${memberId}"`, at);
      }
      if (!topics?.has(tp.topic)) {
        throw new AssignmentError(
          `${by} assigned ${label(tp)} to "${memberId}", which does not subscribe to "${tp.topic}"`,
          at,
        );
      }
      const key = topicPartitionKey(tp);
      const previous = ownerOf.get(key);
      if (previous !== undefined) {
        throw new AssignmentError(`${by} assigned ${label(tp)} twice (to "${previous}" and "${memberId}")`, {
          ...at,
          otherMemberId: previous,
        });
      }
      ownerOf.set(key, memberId);
    }
  }
  const subscribedTopics = members.flatMap((m) => m.topics);
  const missing = partitionsOf(subscribedTopics, partitionsPerTopic).filter(
    (tp) => !ownerOf.has(topicPartitionKey(tp)),
  );
  if (missing.length > 0) {
    const listed = missing.slice(0, MAX_LISTED).map(label).join(', ') + (missing.length > MAX_LISTED ? ', …' : '');
    throw new AssignmentError(`${by} left ${missing.length} subscribed partition(s) unassigned: ${listed}`, {
      unassigned: missing.length,
      topic: missing[0]?.topic,
      partition: missing[0]?.partition,
    });
  }
}

function isTopicPartition(value: unknown): value is TopicPartition {
  if (value === null || typeof value !== 'object') return false;
  const { topic, partition } = value as Partial<TopicPartition>;
  return typeof topic === 'string' && topic !== '' && Number.isSafeInteger(partition) && (partition as number) >= 0;
}

function label(tp: TopicPartition): string {
  return `${tp.topic}[${tp.partition}]`;
}
