// Tests of the rebalance simulation, including the seed README's "C2 dies" example for every built-in assignor.

import { describe, expect, it } from 'vitest';
import {
  type Assignor,
  type GroupMember,
  planRebalance,
  rangeAssignor,
  roundRobinAssignor,
  stickyAssignor,
} from '../../src/assignors';
import { group, tp } from './helpers';

// The seed's picture: topics A and B with partitions P0 and P1, consumers C1, C2, C3 subscribed to both.
const seedGroup = group({ C1: ['A', 'B'], C2: ['A', 'B'], C3: ['A', 'B'] });
const seedPartitions = { A: 2, B: 2 };
const c2Dies = { type: 'leave', memberId: 'C2' } as const;

describe('planRebalance: the seed example, C2 dies', () => {
  it('sticky: only C2’s partition moves, to C3', () => {
    const plan = planRebalance({
      assignor: stickyAssignor,
      members: seedGroup,
      partitionsPerTopic: seedPartitions,
      change: c2Dies,
    });
    expect(plan.before).toEqual({ C1: [tp('A', 0), tp('B', 1)], C2: [tp('A', 1)], C3: [tp('B', 0)] });
    expect(plan.after).toEqual({ C1: [tp('A', 0), tp('B', 1)], C3: [tp('A', 1), tp('B', 0)] });
    expect(plan.moved).toEqual([{ topic: 'A', partition: 1, from: 'C2', to: 'C3' }]);
    expect(plan.revoked).toEqual({ C1: [], C3: [] });
    expect(plan.unchanged).toBe(3);
  });

  it('roundrobin: the survivors trade partitions too', () => {
    const plan = planRebalance({
      assignor: roundRobinAssignor,
      members: seedGroup,
      partitionsPerTopic: seedPartitions,
      change: c2Dies,
    });
    expect(plan.before).toEqual({ C1: [tp('A', 0), tp('B', 1)], C2: [tp('A', 1)], C3: [tp('B', 0)] });
    expect(plan.after).toEqual({ C1: [tp('A', 0), tp('B', 0)], C3: [tp('A', 1), tp('B', 1)] });
    expect(plan.moved).toEqual([
      { topic: 'A', partition: 1, from: 'C2', to: 'C3' },
      { topic: 'B', partition: 0, from: 'C3', to: 'C1' },
      { topic: 'B', partition: 1, from: 'C1', to: 'C3' },
    ]);
    expect(plan.revoked).toEqual({ C1: [tp('B', 1)], C3: [tp('B', 0)] });
    expect(plan.unchanged).toBe(1);
  });

  it('range: with this layout C3 was idle, so only C2’s partitions move (to C3)', () => {
    const plan = planRebalance({
      assignor: rangeAssignor,
      members: seedGroup,
      partitionsPerTopic: seedPartitions,
      change: c2Dies,
    });
    expect(plan.before).toEqual({ C1: [tp('A', 0), tp('B', 0)], C2: [tp('A', 1), tp('B', 1)], C3: [] });
    expect(plan.after).toEqual({ C1: [tp('A', 0), tp('B', 0)], C3: [tp('A', 1), tp('B', 1)] });
    expect(plan.moved).toEqual([
      { topic: 'A', partition: 1, from: 'C2', to: 'C3' },
      { topic: 'B', partition: 1, from: 'C2', to: 'C3' },
    ]);
    expect(plan.unchanged).toBe(2);
  });

  it('range: when the first member dies, every range shifts and survivors lose partitions', () => {
    const plan = planRebalance({
      assignor: rangeAssignor,
      members: group({ C1: ['coins'], C2: ['coins'], C3: ['coins'] }),
      partitionsPerTopic: { coins: 6 },
      change: { type: 'leave', memberId: 'C1' },
    });
    expect(plan.moved).toEqual([
      { topic: 'coins', partition: 0, from: 'C1', to: 'C2' },
      { topic: 'coins', partition: 1, from: 'C1', to: 'C2' },
      { topic: 'coins', partition: 3, from: 'C2', to: 'C3' },
    ]);
    expect(plan.revoked).toEqual({ C2: [tp('coins', 3)], C3: [] });
  });
});

describe('planRebalance: other changes', () => {
  it('join with sticky: the newcomer takes one partition, nothing else moves', () => {
    const plan = planRebalance({
      assignor: stickyAssignor,
      members: seedGroup,
      partitionsPerTopic: seedPartitions,
      change: { type: 'join', member: { memberId: 'C4', topics: ['A', 'B'], owned: [tp('A', 0)] } },
    });
    // The newcomer's own `owned` is ignored: it held nothing in `before`.
    expect(plan.moved).toEqual([{ topic: 'B', partition: 1, from: 'C1', to: 'C4' }]);
    expect(plan.revoked).toEqual({ C1: [tp('B', 1)], C2: [], C3: [], C4: [] });
    expect(plan.unchanged).toBe(3);
  });

  it('partitions-added appends partitions; new ones have no previous owner', () => {
    const plan = planRebalance({
      assignor: stickyAssignor,
      members: seedGroup,
      partitionsPerTopic: seedPartitions,
      change: { type: 'partitions-added', topic: 'A', partitions: 2 },
    });
    expect(plan.after).toEqual({
      C1: [tp('A', 0), tp('B', 1)],
      C2: [tp('A', 1), tp('A', 2)],
      C3: [tp('A', 3), tp('B', 0)],
    });
    expect(plan.moved).toEqual([
      { topic: 'A', partition: 2, to: 'C2' },
      { topic: 'A', partition: 3, to: 'C3' },
    ]);
    expect(plan.moved[0]).not.toHaveProperty('from');
    expect(plan.unchanged).toBe(4);
  });

  it('partitions-added can create a topic the group already subscribes to', () => {
    const plan = planRebalance({
      assignor: roundRobinAssignor,
      members: group({ C1: ['A', 'new'] }),
      partitionsPerTopic: { A: 1 },
      change: { type: 'partitions-added', topic: 'new', partitions: 1 },
    });
    expect(plan.after).toEqual({ C1: [tp('A', 0), tp('new', 0)] });
  });

  it('ignores owned partitions in the starting group', () => {
    const members: GroupMember[] = seedGroup.map((m) => ({ ...m, owned: [tp('A', 0)] }));
    const plan = planRebalance({
      assignor: stickyAssignor,
      members,
      partitionsPerTopic: seedPartitions,
      change: c2Dies,
    });
    expect(plan.before).toEqual({ C1: [tp('A', 0), tp('B', 1)], C2: [tp('A', 1)], C3: [tp('B', 0)] });
  });

  it('rejects impossible changes', () => {
    const base = { assignor: stickyAssignor, members: seedGroup, partitionsPerTopic: seedPartitions };
    expect(() => planRebalance({ ...base, change: { type: 'leave', memberId: 'C9' } })).toThrow(
      /"C9": it is not in the group/,
    );
    expect(() =>
      planRebalance({ ...base, change: { type: 'join', member: { memberId: 'C1', topics: ['A'] } } }),
    ).toThrow(/already in the group/);
    expect(() => planRebalance({ ...base, change: { type: 'partitions-added', topic: 'A', partitions: 0 } })).toThrow(
      /positive integer/,
    );
  });

  it('guards custom assignors: a broken one fails with an AssignmentError naming it', () => {
    const dropsEverything: Assignor = {
      name: 'drops-everything',
      assign: (members) => Object.fromEntries(members.map((m) => [m.memberId, []])),
    };
    expect(() =>
      planRebalance({
        assignor: dropsEverything,
        members: seedGroup,
        partitionsPerTopic: seedPartitions,
        change: c2Dies,
      }),
    ).toThrow(
      expect.objectContaining({
        code: 'ASSIGNMENT_INVALID',
        message: expect.stringMatching(/assignor "drops-everything" left 4/),
      }),
    );
  });

  it('runs a valid custom assignor', () => {
    const everythingToFirst: Assignor = {
      name: 'everything-to-first',
      assign(members, partitionsPerTopic) {
        const [first, ...rest] = [...members].sort((a, b) => (a.memberId < b.memberId ? -1 : 1));
        const result: Record<string, { topic: string; partition: number }[]> = Object.fromEntries(
          rest.map((m) => [m.memberId, []]),
        );
        if (first) {
          result[first.memberId] = first.topics.flatMap((topic) =>
            Array.from({ length: partitionsPerTopic[topic] ?? 0 }, (_, partition) => ({ topic, partition })),
          );
        }
        return result;
      },
    };
    const plan = planRebalance({
      assignor: everythingToFirst,
      members: seedGroup,
      partitionsPerTopic: seedPartitions,
      change: { type: 'leave', memberId: 'C1' },
    });
    expect(plan.after.C2).toHaveLength(4);
    expect(plan.moved.every((move) => move.from === 'C1' && move.to === 'C2')).toBe(true);
    expect(plan.unchanged).toBe(0);
  });
});
