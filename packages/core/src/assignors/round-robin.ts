// Assignment step (round-robin strategy): all subscribed partitions dealt one by one over the sorted members.

import { type Assignor, emptyAssignment, partitionsOf, sortAssignment, sortMembers } from './types';
import { validateGroup } from './validate';

/**
 * Apache Kafka's `RoundRobinAssignor`. Every subscribed partition, sorted by topic then partition, is dealt to
 * the members sorted by `memberId` in circular order; a member that does not subscribe to the partition's topic
 * is skipped (the deal continues after the member that took it). Balanced when all members subscribe to the same
 * topics, but a member leaving shifts almost every partition. `owned` is ignored.
 *
 * @example
 * ```ts
 * roundRobinAssignor.assign(
 *   [{ memberId: 'C0', topics: ['t0', 't1'] }, { memberId: 'C1', topics: ['t0', 't1'] }],
 *   { t0: 3, t1: 3 },
 * );
 * // → { C0: [t0-0, t0-2, t1-1], C1: [t0-1, t1-0, t1-2] }
 * ```
 */
export const roundRobinAssignor: Assignor = {
  name: 'roundrobin',
  assign(members, partitionsPerTopic) {
    validateGroup(members, partitionsPerTopic);
    const assignment = emptyAssignment(members);
    const dealOrder = sortMembers(members).map((m) => ({ memberId: m.memberId, topics: new Set(m.topics) }));
    let next = 0;
    for (const tp of partitionsOf(
      members.flatMap((m) => m.topics),
      partitionsPerTopic,
    )) {
      // Terminates: partitionsOf only lists topics that at least one member subscribes to.
      while (!dealOrder[next]?.topics.has(tp.topic)) next = (next + 1) % dealOrder.length;
      const taker = dealOrder[next];
      if (taker) assignment[taker.memberId]?.push(tp);
      next = (next + 1) % dealOrder.length;
    }
    return sortAssignment(assignment);
  },
};
