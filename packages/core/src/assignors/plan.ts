// Assignment step (rebalance simulation): what an assignor does to a group when a member joins or leaves or a topic grows.

import { AssignmentError } from '../errors';
import {
  type GroupMember,
  type PartitionMove,
  type PlanRebalanceOptions,
  type RebalanceChange,
  type RebalancePlan,
  type TopicPartition,
  compareTopicPartitions,
  topicPartitionKey,
} from './types';
import { validateAssignment } from './validate';

/**
 * Simulates one rebalance without a broker: assigns the group fresh (`before`), applies `change`, assigns again
 * with every surviving member owning its `before` partitions (`after`), and reports which partitions move.
 * Both assignments are checked with {@link validateAssignment}, so a faulty custom assignor fails loudly here.
 *
 * `partitions-added` appends `partitions` partitions to `topic` (creating it when absent).
 *
 * @throws AssignmentError for an invalid group or change (unknown member leaving, duplicate member joining, a
 * non-positive partition count) or an assignment that breaks the group contract.
 *
 * @example
 * ```ts
 * // The original kafka-python project's README's example: C2 dies. With sticky, only C2's partition moves (to C3).
 * const topics = ['A', 'B'];
 * const plan = planRebalance({
 *   assignor: stickyAssignor,
 *   members: ['C1', 'C2', 'C3'].map((memberId) => ({ memberId, topics })),
 *   partitionsPerTopic: { A: 2, B: 2 },
 *   change: { type: 'leave', memberId: 'C2' },
 * });
 * plan.moved; // → [{ topic: 'A', partition: 1, from: 'C2', to: 'C3' }]
 * plan.unchanged; // → 3
 * ```
 */
export function planRebalance(options: PlanRebalanceOptions): RebalancePlan {
  const { assignor, members, partitionsPerTopic, change } = options;
  const freshMembers = members.map(withoutOwned);
  const before = assignor.assign(freshMembers, { ...partitionsPerTopic });
  validateAssignment(freshMembers, partitionsPerTopic, before, assignor.name);

  const changed = applyChange(freshMembers, partitionsPerTopic, change);
  const afterMembers = changed.members.map((m) => ({
    ...m,
    owned: (before[m.memberId] ?? []).map((tp) => ({ ...tp })),
  }));
  const after = assignor.assign(afterMembers, { ...changed.partitionsPerTopic });
  validateAssignment(afterMembers, changed.partitionsPerTopic, after, assignor.name);

  const ownerBefore = ownersOf(before);
  const ownerAfter = ownersOf(after);
  const moved: PartitionMove[] = [];
  let unchanged = 0;
  for (const key of new Set([...ownerBefore.keys(), ...ownerAfter.keys()])) {
    const from = ownerBefore.get(key);
    const to = ownerAfter.get(key);
    const tp = (from ?? to)?.tp;
    if (tp === undefined) continue;
    if (from?.memberId === to?.memberId) {
      unchanged++;
      continue;
    }
    moved.push({
      topic: tp.topic,
      partition: tp.partition,
      ...(from && { from: from.memberId }),
      ...(to && { to: to.memberId }),
    });
  }
  moved.sort(compareTopicPartitions);

  const revoked: Record<string, TopicPartition[]> = {};
  for (const member of afterMembers) {
    revoked[member.memberId] = member.owned.filter(
      (tp) => ownerAfter.get(topicPartitionKey(tp))?.memberId !== member.memberId,
    );
  }
  return { before, after, moved, revoked, unchanged };
}

function withoutOwned(member: GroupMember): GroupMember {
  const { owned: _ignored, ...rest } = member;
  return { ...rest, topics: [...member.topics] };
}

function applyChange(
  members: GroupMember[],
  partitionsPerTopic: Record<string, number>,
  change: RebalanceChange,
): { members: GroupMember[]; partitionsPerTopic: Record<string, number> } {
  switch (change.type) {
    case 'join': {
      const memberId: unknown = change.member?.memberId;
      if (typeof memberId !== 'string') throw new AssignmentError('a joining member needs a memberId');
      if (members.some((m) => m.memberId === memberId)) {
        throw new AssignmentError(`cannot join member "${memberId}": it is already in the group`, { memberId });
      }
      return { members: [...members, withoutOwned(change.member)], partitionsPerTopic };
    }
    case 'leave': {
      if (!members.some((m) => m.memberId === change.memberId)) {
        throw new AssignmentError(`cannot remove member "${change.memberId}": it is not in the group`, {
          memberId: change.memberId,
        });
      }
      return { members: members.filter((m) => m.memberId !== change.memberId), partitionsPerTopic };
    }
    case 'partitions-added': {
      if (!Number.isSafeInteger(change.partitions) || change.partitions <= 0) {
        throw new AssignmentError(`partitions-added needs a positive integer count, got ${String(change.partitions)}`, {
          topic: change.topic,
        });
      }
      const current = Object.hasOwn(partitionsPerTopic, change.topic) ? (partitionsPerTopic[change.topic] ?? 0) : 0;
      return { members, partitionsPerTopic: { ...partitionsPerTopic, [change.topic]: current + change.partitions } };
    }
    default:
      throw new AssignmentError(`unknown rebalance change type "${String((change as { type?: unknown }).type)}"`);
  }
}

function ownersOf(assignment: Record<string, TopicPartition[]>): Map<string, { memberId: string; tp: TopicPartition }> {
  const owners = new Map<string, { memberId: string; tp: TopicPartition }>();
  for (const [memberId, list] of Object.entries(assignment)) {
    for (const tp of list) owners.set(topicPartitionKey(tp), { memberId, tp });
  }
  return owners;
}
