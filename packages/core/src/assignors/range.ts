// Assignment step (range strategy): per topic, contiguous partition ranges for the members subscribed to it.

import { type Assignor, compareStrings, emptyAssignment, sortAssignment, sortMembers } from './types';
import { validateGroup } from './validate';

/**
 * Apache Kafka's `RangeAssignor` (the Java client's historical default). Topic by topic, the members subscribed
 * to it are sorted by `memberId` and each takes a contiguous range of `numPartitions / numMembers` partitions; the
 * first `numPartitions % numMembers` members take one extra. Members subscribed to many topics therefore tend to
 * collect the "first" partitions of every topic. `owned` is ignored.
 *
 * @example
 * ```ts
 * rangeAssignor.assign(
 *   [{ memberId: 'C0', topics: ['t0', 't1'] }, { memberId: 'C1', topics: ['t0', 't1'] }],
 *   { t0: 3, t1: 3 },
 * );
 * // → { C0: [t0-0, t0-1, t1-0, t1-1], C1: [t0-2, t1-2] }
 * ```
 */
export const rangeAssignor: Assignor = {
  name: 'range',
  assign(members, partitionsPerTopic) {
    validateGroup(members, partitionsPerTopic);
    const assignment = emptyAssignment(members);
    const topics = [...new Set(members.flatMap((m) => m.topics))].sort(compareStrings);
    for (const topic of topics) {
      const numPartitions = Object.hasOwn(partitionsPerTopic, topic) ? (partitionsPerTopic[topic] ?? 0) : 0;
      const subscribers = sortMembers(members.filter((m) => m.topics.includes(topic)));
      const perMember = Math.floor(numPartitions / subscribers.length);
      const withExtra = numPartitions % subscribers.length;
      subscribers.forEach((member, i) => {
        const start = perMember * i + Math.min(i, withExtra);
        const length = perMember + (i < withExtra ? 1 : 0);
        for (let partition = start; partition < start + length; partition++) {
          assignment[member.memberId]?.push({ topic, partition });
        }
      });
    }
    return sortAssignment(assignment);
  },
};
