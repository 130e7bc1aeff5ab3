// Test support: a custom assignor no native strategy resembles, so a live test can tell whose decision the group follows.
import type { Assignor, TopicPartition } from '../../src/index';

/**
 * With one member it reads everything; with more, the first member (sorted by id) is a hot standby that
 * reads nothing and the others share all partitions round-robin.
 */
export const standbyAssignor: Assignor = {
  name: 'standby',
  assign(members, partitionsPerTopic) {
    const ids = members.map((m) => m.memberId).sort();
    const result: Record<string, TopicPartition[]> = Object.fromEntries(ids.map((id) => [id, []]));
    const workers = ids.length > 1 ? ids.slice(1) : ids;
    const all = Object.keys(partitionsPerTopic)
      .sort()
      .flatMap((topic) =>
        Array.from({ length: partitionsPerTopic[topic] ?? 0 }, (_, partition) => ({ topic, partition })),
      );
    all.forEach((tp, i) => {
      result[workers[i % workers.length] as string]?.push(tp);
    });
    return result;
  },
};
