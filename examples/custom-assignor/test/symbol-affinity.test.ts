// Symbol-affinity assignor: the group contract (property-based), pinned partitions, each documented edge case, stickiness.
import {
  AssignmentError,
  ConfigError,
  type GroupMember,
  partitionForKey,
  planRebalance,
  type TopicPartition,
  validateAssignment,
} from '@kandle/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createSymbolAffinityAssignor } from '../src/symbol-affinity';

const TOPICS = ['tickers', 'trades'];
const SIX = { tickers: 6, trades: 6 };
const group = (...ids: string[]): GroupMember[] => ids.map((memberId) => ({ memberId, topics: TOPICS }));
const keys = (list: readonly TopicPartition[] = []) => list.map((tp) => `${tp.topic}/${tp.partition}`).sort();
const everyPartition = (partitionsPerTopic: Record<string, number>) =>
  Object.entries(partitionsPerTopic).flatMap(([topic, n]) =>
    Array.from({ length: n }, (_, partition) => ({ topic, partition })),
  );
const pinnedOf = (symbols: string[], partitionsPerTopic: Record<string, number>) =>
  everyPartition(partitionsPerTopic).filter((tp) =>
    symbols.some((s) => partitionForKey(s, partitionsPerTopic[tp.topic] as number) === tp.partition),
  );
const sizes = (assignment: Record<string, TopicPartition[]>, ids: string[]) =>
  ids.map((id) => assignment[id]?.length ?? 0);
const spread = (counts: number[]) => Math.max(...counts) - Math.min(...counts);

describe('symbol affinity: the running example', () => {
  it('gives dedicated-btc exactly the partitions holding tBTCUSD and deals the rest evenly to the workers', () => {
    const assignor = createSymbolAffinityAssignor();
    const members = group('worker-2', 'dedicated-btc', 'worker-1');
    const result = assignor.assign(members, SIX);

    validateAssignment(members, SIX, result, assignor.name);
    const pinned = pinnedOf(['tBTCUSD'], SIX);
    expect(pinned).toHaveLength(2); // one partition per topic
    expect(keys(result['dedicated-btc'])).toEqual(keys(pinned));
    const rest = keys(everyPartition(SIX)).filter((k) => !keys(pinned).includes(k));
    expect(keys([...(result['worker-1'] ?? []), ...(result['worker-2'] ?? [])])).toEqual(rest);
    expect(sizes(result, ['worker-1', 'worker-2'])).toEqual([5, 5]);
    expect(Object.keys(result).sort()).toEqual(['dedicated-btc', 'worker-1', 'worker-2']);
  });

  it('lists each member’s partitions sorted by topic then partition', () => {
    const result = createSymbolAffinityAssignor().assign(group('dedicated-btc', 'w'), SIX);
    for (const list of Object.values(result)) {
      const sorted = [...list].sort((a, b) =>
        a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : a.partition - b.partition,
      );
      expect(list).toEqual(sorted);
    }
  });
});

describe('symbol affinity: edge cases', () => {
  it('without a dedicated member, pinned partitions are spread like the rest (never left unread)', () => {
    const assignor = createSymbolAffinityAssignor();
    const members = group('worker-1', 'worker-2', 'worker-3');
    const result = assignor.assign(members, SIX);
    validateAssignment(members, SIX, result, assignor.name);
    expect(spread(sizes(result, ['worker-1', 'worker-2', 'worker-3']))).toBeLessThanOrEqual(1);
    const owned = Object.values(result).flat();
    for (const tp of pinnedOf(['tBTCUSD'], SIX)) expect(keys(owned)).toContain(`${tp.topic}/${tp.partition}`);
  });

  it('with only dedicated members, they take everything, balanced', () => {
    const assignor = createSymbolAffinityAssignor();
    const members = group('dedicated-a', 'dedicated-b');
    const result = assignor.assign(members, SIX);
    validateAssignment(members, SIX, result, assignor.name);
    expect(sizes(result, ['dedicated-a', 'dedicated-b'])).toEqual([6, 6]);
  });

  it('with several dedicated members, the pinned partitions are spread over them and only them', () => {
    const partitionsPerTopic = { tickers: 8, trades: 8 };
    const symbols = ['tBTCUSD', 'tETHUSD', 'tADAUSD']; // three different partitions of 8
    const pinned = pinnedOf(symbols, partitionsPerTopic);
    expect(pinned).toHaveLength(6);
    const assignor = createSymbolAffinityAssignor({ symbols });
    const members = group('dedicated-1', 'dedicated-2', 'worker-1', 'worker-2');
    const result = assignor.assign(members, partitionsPerTopic);
    validateAssignment(members, partitionsPerTopic, result, assignor.name);
    expect(keys([...(result['dedicated-1'] ?? []), ...(result['dedicated-2'] ?? [])])).toEqual(keys(pinned));
    expect(sizes(result, ['dedicated-1', 'dedicated-2'])).toEqual([3, 3]);
    expect(sizes(result, ['worker-1', 'worker-2'])).toEqual([5, 5]);
  });

  it('pins a partition once when two symbols hash to it, and other symbols on it travel with it', () => {
    const n = 6;
    const same = ['tETHUSD', 'tSOLUSD'];
    expect(partitionForKey(same[0] as string, n)).toBe(partitionForKey(same[1] as string, n));
    const result = createSymbolAffinityAssignor({ symbols: same }).assign(group('dedicated-x', 'w1'), SIX);
    expect(keys(result['dedicated-x'])).toEqual(keys(pinnedOf(['tETHUSD'], SIX)));
  });

  it('follows isDedicated when given instead of the prefix', () => {
    const assignor = createSymbolAffinityAssignor({ isDedicated: (id) => id === 'btc-reader' });
    const result = assignor.assign(group('btc-reader', 'dedicated-looking', 'worker'), SIX);
    expect(keys(result['btc-reader'])).toEqual(keys(pinnedOf(['tBTCUSD'], SIX)));
    expect(result['dedicated-looking']?.length).toBeGreaterThan(0);
  });

  it('honours a custom prefix', () => {
    const result = createSymbolAffinityAssignor({ dedicatedMemberPrefix: 'hot-' }).assign(
      group('hot-1', 'w1', 'w2'),
      SIX,
    );
    expect(keys(result['hot-1'])).toEqual(keys(pinnedOf(['tBTCUSD'], SIX)));
  });

  it('sends a pinned partition of a topic the dedicated member does not read to the others', () => {
    const members: GroupMember[] = [
      { memberId: 'dedicated-btc', topics: ['tickers'] },
      { memberId: 'worker-1', topics: ['tickers', 'trades'] },
    ];
    const assignor = createSymbolAffinityAssignor();
    const result = assignor.assign(members, SIX);
    validateAssignment(members, SIX, result, assignor.name);
    expect(keys(result['dedicated-btc'])).toEqual(keys(pinnedOf(['tBTCUSD'], { tickers: 6 })));
    expect(result['worker-1']).toHaveLength(11);
  });

  it('leaves out topics nobody subscribes to and subscribed topics that do not exist', () => {
    const members: GroupMember[] = [
      { memberId: 'dedicated-btc', topics: ['tickers', 'ghost'] },
      { memberId: 'w', topics: ['tickers'] },
    ];
    const result = createSymbolAffinityAssignor().assign(members, { tickers: 3, trades: 3, empty: 0 });
    expect(keys(Object.values(result).flat())).toEqual(['tickers/0', 'tickers/1', 'tickers/2']);
  });

  it('gives every member an entry, even an idle one, and nothing to an empty group', () => {
    const result = createSymbolAffinityAssignor().assign(group('dedicated-btc', 'w1', 'w2'), { tickers: 1 });
    expect(result).toEqual({ 'dedicated-btc': [{ topic: 'tickers', partition: 0 }], w1: [], w2: [] });
    const solo = createSymbolAffinityAssignor().assign(
      [
        { memberId: 'w1', topics: ['t'] },
        { memberId: 'w2', topics: ['t'] },
      ],
      { t: 1 },
    );
    expect(sizes(solo, ['w1', 'w2']).sort()).toEqual([0, 1]);
    expect(createSymbolAffinityAssignor().assign([], SIX)).toEqual({});
  });
});

describe('symbol affinity: stickiness', () => {
  const assignor = createSymbolAffinityAssignor();

  it('when a worker leaves, only its partitions move', () => {
    const plan = planRebalance({
      assignor,
      members: group('dedicated-btc', 'worker-1', 'worker-2', 'worker-3'),
      partitionsPerTopic: SIX,
      change: { type: 'leave', memberId: 'worker-2' },
    });
    expect(plan.moved.length).toBeGreaterThan(0);
    expect(plan.moved.every((m) => m.from === 'worker-2')).toBe(true);
    expect(spread(sizes(plan.after, ['worker-1', 'worker-3']))).toBeLessThanOrEqual(1);
  });

  it('when a worker joins, it only takes partitions from the other workers and nothing else moves', () => {
    const plan = planRebalance({
      assignor,
      members: group('dedicated-btc', 'worker-1', 'worker-2'),
      partitionsPerTopic: SIX,
      change: { type: 'join', member: { memberId: 'worker-3', topics: TOPICS } },
    });
    expect(plan.moved.every((m) => m.to === 'worker-3' && m.from?.startsWith('worker-'))).toBe(true);
    expect(sizes(plan.after, ['worker-1', 'worker-2', 'worker-3']).sort()).toEqual([3, 3, 4]);
    expect(plan.after['dedicated-btc']).toEqual(plan.before['dedicated-btc']);
  });

  it('when the dedicated member arrives, it takes the pinned partitions even from their previous owners', () => {
    const plan = planRebalance({
      assignor,
      members: group('worker-1', 'worker-2'),
      partitionsPerTopic: SIX,
      change: { type: 'join', member: { memberId: 'dedicated-btc', topics: TOPICS } },
    });
    expect(keys(plan.after['dedicated-btc'])).toEqual(keys(pinnedOf(['tBTCUSD'], SIX)));
    // The pinned partitions go to it; the workers lost unequal shares, so at most one partition rebalances between them.
    const toDedicated = plan.moved.filter((m) => m.to === 'dedicated-btc');
    expect(keys(toDedicated)).toEqual(keys(pinnedOf(['tBTCUSD'], SIX)));
    const betweenWorkers = plan.moved.filter((m) => m.to !== 'dedicated-btc');
    expect(betweenWorkers.every((m) => m.from?.startsWith('worker-') && m.to?.startsWith('worker-'))).toBe(true);
    expect(betweenWorkers.length).toBeLessThanOrEqual(1);
    expect(sizes(plan.after, ['worker-1', 'worker-2'])).toEqual([5, 5]);
  });

  it('ignores owned when sticky is false', () => {
    const fresh = createSymbolAffinityAssignor({ sticky: false });
    const members = group('w1', 'w2');
    const inverted = members.map((m, i) => ({ ...m, owned: fresh.assign(members, SIX)[`w${2 - i}`] ?? [] }));
    expect(fresh.assign(inverted, SIX)).toEqual(fresh.assign(members, SIX));
    expect(assignor.assign(inverted, SIX)).not.toEqual(assignor.assign(members, SIX));
  });
});

describe('symbol affinity: bad input', () => {
  it('rejects malformed options with a ConfigError', () => {
    expect(() => createSymbolAffinityAssignor({ symbols: [''] })).toThrow(ConfigError);
    expect(() => createSymbolAffinityAssignor({ dedicatedMemberPrefix: '' })).toThrow(ConfigError);
    expect(() => createSymbolAffinityAssignor({ dedicatedMemberPrefix: 'd-', isDedicated: () => true })).toThrow(
      ConfigError,
    );
  });

  it('rejects a malformed group with an AssignmentError', () => {
    const assignor = createSymbolAffinityAssignor();
    expect(() => assignor.assign(group('w1', 'w1'), SIX)).toThrow(AssignmentError);
    expect(() => assignor.assign(group(''), SIX)).toThrow(AssignmentError);
    expect(() => assignor.assign(group('w1'), { tickers: -1 })).toThrow(AssignmentError);
    expect(() => assignor.assign(group('w1'), { tickers: 1.5 })).toThrow(AssignmentError);
  });

  it('treats malformed owned entries as stale', () => {
    const members = group('w1', 'w2').map((m) => ({ ...m, owned: [{ topic: 'tickers', partition: -3 }] }));
    const assignor = createSymbolAffinityAssignor();
    const result = assignor.assign(members, SIX);
    validateAssignment(group('w1', 'w2'), SIX, result, assignor.name);
  });
});

// Members drawn from dedicated and ordinary ids, random subscriptions, partition counts and (for stickiness) owned.
const memberIds = fc.uniqueArray(fc.constantFrom('dedicated-a', 'dedicated-b', 'w1', 'w2', 'w3', 'w4', 'x'), {
  minLength: 1,
  maxLength: 7,
});
const partitionCounts = fc.record({
  tickers: fc.integer({ min: 0, max: 12 }),
  trades: fc.integer({ min: 0, max: 12 }),
  other: fc.integer({ min: 1, max: 5 }),
});
const symbolSets = fc.subarray(['tBTCUSD', 'tETHUSD', 'tSOLUSD', 'tXRPUSD', 'tADAUSD', 'tDOGEUSD'], { minLength: 1 });
const anyGroup = fc.tuple(memberIds, partitionCounts).chain(([ids, partitionsPerTopic]) =>
  fc
    .tuple(
      fc.array(fc.subarray(Object.keys(partitionsPerTopic)), { minLength: ids.length, maxLength: ids.length }),
      fc.array(fc.subarray(everyPartition(partitionsPerTopic)), { minLength: ids.length, maxLength: ids.length }),
    )
    .map(([subscriptions, owned]) => ({
      partitionsPerTopic,
      members: ids.map(
        (memberId, i): GroupMember => ({ memberId, topics: subscriptions[i] ?? [], owned: owned[i] ?? [] }),
      ),
    })),
);

describe('symbol affinity: properties', () => {
  it('honours the group contract: every subscribed partition exactly once, to a subscriber, every member a key', () => {
    fc.assert(
      fc.property(anyGroup, symbolSets, fc.boolean(), ({ members, partitionsPerTopic }, symbols, sticky) => {
        const assignor = createSymbolAffinityAssignor({ symbols, sticky });
        const result = assignor.assign(members, partitionsPerTopic);
        validateAssignment(members, partitionsPerTopic, result, assignor.name);
        expect(Object.keys(result).sort()).toEqual(members.map((m) => m.memberId).sort());
      }),
      { numRuns: 300 },
    );
  });

  it('does not depend on the order of the members', () => {
    fc.assert(
      fc.property(
        anyGroup.chain((g) =>
          fc.shuffledSubarray(g.members, { minLength: g.members.length }).map((shuffled) => ({ g, shuffled })),
        ),
        symbolSets,
        ({ g, shuffled }, symbols) => {
          const assignor = createSymbolAffinityAssignor({ symbols });
          expect(assignor.assign(shuffled, g.partitionsPerTopic)).toEqual(
            assignor.assign(g.members, g.partitionsPerTopic),
          );
        },
      ),
      { numRuns: 200 },
    );
  });

  it('puts a pinned partition on a dedicated subscriber when there is one, and others only where no one else reads', () => {
    fc.assert(
      fc.property(anyGroup, symbolSets, ({ members, partitionsPerTopic }, symbols) => {
        const result = createSymbolAffinityAssignor({ symbols, sticky: false }).assign(members, partitionsPerTopic);
        const pinned = new Set(keys(pinnedOf(symbols, partitionsPerTopic)));
        for (const [memberId, list] of Object.entries(result)) {
          for (const tp of list) {
            const subscribers = members.filter((m) => m.topics.includes(tp.topic)).map((m) => m.memberId);
            const dedicatedSubscribers = subscribers.filter((id) => id.startsWith('dedicated-'));
            const isPinned = pinned.has(`${tp.topic}/${tp.partition}`);
            const shouldBeDedicated = isPinned
              ? dedicatedSubscribers.length > 0
              : dedicatedSubscribers.length === subscribers.length;
            expect(memberId.startsWith('dedicated-'), `${tp.topic}/${tp.partition} → ${memberId}`).toBe(
              shouldBeDedicated,
            );
          }
        }
      }),
      { numRuns: 300 },
    );
  });

  it('balances each kind of member to within one partition when everyone reads the same topics, sticky or not', () => {
    fc.assert(
      fc.property(
        memberIds,
        partitionCounts,
        fc.boolean(),
        fc.array(fc.nat(), { maxLength: 64 }),
        (ids, partitionsPerTopic, sticky, ownerPicks) => {
          const all = everyPartition(partitionsPerTopic);
          // Random previous owners, including impossible ones (a worker holding a pinned partition).
          const members = ids.map((memberId) => ({
            memberId,
            topics: Object.keys(partitionsPerTopic),
            owned: all.filter((_, i) => ids[(ownerPicks[i] ?? i) % ids.length] === memberId),
          }));
          const result = createSymbolAffinityAssignor({ sticky }).assign(members, partitionsPerTopic);
          const dedicated = ids.filter((id) => id.startsWith('dedicated-'));
          const workers = ids.filter((id) => !id.startsWith('dedicated-'));
          for (const kind of [dedicated, workers])
            if (kind.length > 0) expect(spread(sizes(result, kind))).toBeLessThanOrEqual(1);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('is stable: a group that owns its own assignment keeps it', () => {
    fc.assert(
      fc.property(anyGroup, ({ members, partitionsPerTopic }) => {
        const assignor = createSymbolAffinityAssignor();
        const fresh = members.map(({ owned: _, ...m }) => m);
        const first = assignor.assign(fresh, partitionsPerTopic);
        const again = assignor.assign(
          fresh.map((m) => ({ ...m, owned: first[m.memberId] ?? [] })),
          partitionsPerTopic,
        );
        expect(again).toEqual(first);
      }),
      { numRuns: 200 },
    );
  });
});
