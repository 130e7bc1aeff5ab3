// Test support for the assignment step: compact builders and Kafka's own validity/balance checks.

import { expect } from 'vitest';
import type { GroupMember, TopicPartition } from '../../src/assignors';
import { validateAssignment } from '../../src/assignors';

export function tp(topic: string, partition: number): TopicPartition {
  return { topic, partition };
}

/** `group({ C1: ['t0'], C2: ['t0', 't1'] })` → members with those subscriptions. */
export function group(subscriptions: Record<string, string[]>): GroupMember[] {
  return Object.entries(subscriptions).map(([memberId, topics]) => ({ memberId, topics }));
}

/** Members of `previous` assignment re-joining with what they held as `owned`. */
export function withOwned(members: GroupMember[], previous: Record<string, TopicPartition[]>): GroupMember[] {
  return members.map((m) => ({ ...m, owned: previous[m.memberId] ?? [] }));
}

export function sizes(assignment: Record<string, TopicPartition[]>): number[] {
  return Object.values(assignment).map((list) => list.length);
}

export function isFullyBalanced(assignment: Record<string, TopicPartition[]>): boolean {
  const counts = sizes(assignment);
  return counts.length === 0 || Math.max(...counts) - Math.min(...counts) <= 1;
}

/**
 * Port of Kafka's `verifyValidityAndBalance`: the assignment honours the group contract, every member is a key,
 * and whenever one member holds two or more partitions more than another, the lighter one cannot take any of them.
 */
export function expectValidAndBalanced(
  members: GroupMember[],
  partitionsPerTopic: Record<string, number>,
  assignment: Record<string, TopicPartition[]>,
): void {
  validateAssignment(members, partitionsPerTopic, assignment);
  expect(Object.keys(assignment).sort()).toEqual(members.map((m) => m.memberId).sort());
  for (const heavy of members) {
    for (const light of members) {
      const heavyList = assignment[heavy.memberId] ?? [];
      const lightList = assignment[light.memberId] ?? [];
      if (heavyList.length <= lightList.length + 1) continue;
      const movable = heavyList.filter((p) => light.topics.includes(p.topic));
      expect(
        movable,
        `${heavy.memberId} (${heavyList.length}) could give to ${light.memberId} (${lightList.length})`,
      ).toEqual([]);
    }
  }
}

/** Partition key → owner, to compare two generations. */
export function owners(assignment: Record<string, TopicPartition[]>): Map<string, string> {
  const result = new Map<string, string>();
  for (const [memberId, list] of Object.entries(assignment))
    for (const p of list) result.set(`${p.topic}-${p.partition}`, memberId);
  return result;
}

/** Partitions whose owner changed between two generations (ignoring partitions absent from `before`). */
export function movedPartitions(
  before: Record<string, TopicPartition[]>,
  after: Record<string, TopicPartition[]>,
): string[] {
  const ownerAfter = owners(after);
  return [...owners(before)].filter(([key, owner]) => ownerAfter.get(key) !== owner).map(([key]) => key);
}
