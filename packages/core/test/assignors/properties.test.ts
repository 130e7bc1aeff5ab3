// Property tests of the assignment step: random groups, every built-in assignor, the group contract and stickiness.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type Assignor,
  type GroupMember,
  type RebalanceChange,
  type TopicPartition,
  planRebalance,
  rangeAssignor,
  roundRobinAssignor,
  stickyAssignor,
  validateAssignment,
} from '../../src/assignors';
import { expectValidAndBalanced, isFullyBalanced, withOwned } from './helpers';

type Group = { members: GroupMember[]; partitionsPerTopic: Record<string, number> };

const memberIds = fc.uniqueArray(fc.stringMatching(/^[A-Za-z0-9_-]{1,6}$/), { minLength: 1, maxLength: 8 });
const topicsAndCounts = fc
  .integer({ min: 1, max: 4 })
  .chain((n) => fc.array(fc.integer({ min: 1, max: 24 }), { minLength: n, maxLength: n }))
  .map((counts) => Object.fromEntries(counts.map((count, i) => [`topic${i}`, count])));

/** 1–8 members, 1–4 topics of 1–24 partitions, each member subscribed to a random subset (possibly none). */
const anyGroup: fc.Arbitrary<Group> = fc.tuple(memberIds, topicsAndCounts).chain(([ids, partitionsPerTopic]) =>
  fc
    .array(fc.subarray(Object.keys(partitionsPerTopic)), { minLength: ids.length, maxLength: ids.length })
    .map((subscriptions) => ({
      members: ids.map((memberId, i) => ({ memberId, topics: subscriptions[i] ?? [] })),
      partitionsPerTopic,
    })),
);

/** Like {@link anyGroup}, but every member subscribes to the same non-empty set of topics. */
const sameSubscriptionGroup: fc.Arbitrary<Group> = fc
  .tuple(memberIds, topicsAndCounts)
  .chain(([ids, partitionsPerTopic]) =>
    fc.subarray(Object.keys(partitionsPerTopic), { minLength: 1 }).map((topics) => ({
      members: ids.map((memberId) => ({ memberId, topics })),
      partitionsPerTopic,
    })),
  );

const builtIns: Assignor[] = [rangeAssignor, roundRobinAssignor, stickyAssignor];

function counts(assignment: Record<string, TopicPartition[]>, memberIds: string[], topic?: string): number[] {
  return memberIds.map((id) => (assignment[id] ?? []).filter((p) => topic === undefined || p.topic === topic).length);
}

function spread(values: number[]): number {
  return values.length === 0 ? 0 : Math.max(...values) - Math.min(...values);
}

describe.each(builtIns)('$name: group contract on random groups', (assignor) => {
  it('assigns every subscribed partition exactly once, to a subscribed member, every member a key, lists sorted', () => {
    fc.assert(
      fc.property(anyGroup, ({ members, partitionsPerTopic }) => {
        const assignment = assignor.assign(members, partitionsPerTopic);
        validateAssignment(members, partitionsPerTopic, assignment);
        expect(Object.keys(assignment).sort()).toEqual(members.map((m) => m.memberId).sort());
        for (const list of Object.values(assignment)) {
          const sorted = [...list].sort((a, b) =>
            a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : a.partition - b.partition,
          );
          expect(list).toEqual(sorted);
        }
      }),
    );
  });

  it('does not depend on the order members are listed in', () => {
    fc.assert(
      fc.property(
        anyGroup.chain((g) =>
          fc.shuffledSubarray(g.members, { minLength: g.members.length }).map((shuffled) => ({ g, shuffled })),
        ),
        ({ g, shuffled }) => {
          expect(assignor.assign(shuffled, g.partitionsPerTopic)).toEqual(
            assignor.assign(g.members, g.partitionsPerTopic),
          );
        },
      ),
    );
  });
});

describe('balance on random groups', () => {
  it('range: per topic, the subscribers’ counts differ by at most one', () => {
    fc.assert(
      fc.property(anyGroup, ({ members, partitionsPerTopic }) => {
        const assignment = rangeAssignor.assign(members, partitionsPerTopic);
        for (const topic of Object.keys(partitionsPerTopic)) {
          const subscribers = members.filter((m) => m.topics.includes(topic)).map((m) => m.memberId);
          expect(spread(counts(assignment, subscribers, topic))).toBeLessThanOrEqual(1);
        }
      }),
    );
  });

  it.each([roundRobinAssignor, stickyAssignor])('$name: identical subscriptions give counts within one', (assignor) => {
    fc.assert(
      fc.property(sameSubscriptionGroup, ({ members, partitionsPerTopic }) => {
        expect(isFullyBalanced(assignor.assign(members, partitionsPerTopic))).toBe(true);
      }),
    );
  });

  it('sticky: with any subscriptions, no member can hand a partition to one holding two fewer (Kafka’s check)', () => {
    fc.assert(
      fc.property(anyGroup, ({ members, partitionsPerTopic }) => {
        expectValidAndBalanced(members, partitionsPerTopic, stickyAssignor.assign(members, partitionsPerTopic));
      }),
    );
  });
});

describe('sticky: stickiness on random groups', () => {
  it('re-assigning with owned = the current assignment moves nothing', () => {
    fc.assert(
      fc.property(anyGroup, ({ members, partitionsPerTopic }) => {
        const first = stickyAssignor.assign(members, partitionsPerTopic);
        expect(stickyAssignor.assign(withOwned(members, first), partitionsPerTopic)).toEqual(first);
      }),
    );
  });

  it('when one member leaves, only its partitions move (identical subscriptions)', () => {
    fc.assert(
      fc.property(
        sameSubscriptionGroup.filter((g) => g.members.length >= 2),
        fc.nat(),
        ({ members, partitionsPerTopic }, pick) => {
          const leaver = members[pick % members.length]?.memberId ?? '';
          const plan = planRebalance({
            assignor: stickyAssignor,
            members,
            partitionsPerTopic,
            change: { type: 'leave', memberId: leaver },
          });
          expect(plan.moved.every((move) => move.from === leaver)).toBe(true);
          expect(plan.moved).toHaveLength(plan.before[leaver]?.length ?? -1);
          expect(Object.values(plan.revoked).flat()).toEqual([]);
          expect(isFullyBalanced(plan.after)).toBe(true);
        },
      ),
    );
  });

  it('when one member joins, partitions move only to the newcomer, and only as many as balance needs', () => {
    fc.assert(
      fc.property(sameSubscriptionGroup, ({ members, partitionsPerTopic }) => {
        const topics = members[0]?.topics ?? [];
        const newcomer = { memberId: `${members.map((m) => m.memberId).join('')}+`, topics };
        const plan = planRebalance({
          assignor: stickyAssignor,
          members,
          partitionsPerTopic,
          change: { type: 'join', member: newcomer },
        });
        expect(plan.moved.every((move) => move.to === newcomer.memberId)).toBe(true);
        const total = topics.reduce((sum, t) => sum + (partitionsPerTopic[t] ?? 0), 0);
        expect(plan.moved).toHaveLength(Math.floor(total / (members.length + 1)));
        expect(isFullyBalanced(plan.after)).toBe(true);
      }),
    );
  });

  it('with any subscriptions, a leave or join keeps the result valid and balanced', () => {
    fc.assert(
      fc.property(anyGroup, fc.nat(), fc.boolean(), ({ members, partitionsPerTopic }, pick, join) => {
        const newcomer: GroupMember = { memberId: '~newcomer', topics: Object.keys(partitionsPerTopic) };
        const leaver = members[pick % members.length]?.memberId ?? '';
        const change: RebalanceChange = join ? { type: 'join', member: newcomer } : { type: 'leave', memberId: leaver };
        const plan = planRebalance({ assignor: stickyAssignor, members, partitionsPerTopic, change });
        const after = join ? [...members, newcomer] : members.filter((m) => m.memberId !== leaver);
        expectValidAndBalanced(after, partitionsPerTopic, plan.after);
      }),
    );
  });
});
