// Tests of the range strategy, ported from Apache Kafka's RangeAssignorTest (non-rack, non-static cases).

import { describe, expect, it } from 'vitest';
import { rangeAssignor } from '../../src/assignors';
import { group, tp } from './helpers';

const assign = rangeAssignor.assign.bind(rangeAssignor);

describe('rangeAssignor (ported from Kafka RangeAssignorTest)', () => {
  it('is announced as "range"', () => {
    expect(rangeAssignor.name).toBe('range');
  });

  it('testOneConsumerNoTopic', () => {
    expect(assign(group({ consumer1: [] }), {})).toEqual({ consumer1: [] });
  });

  it('testOneConsumerNonexistentTopic', () => {
    expect(assign(group({ consumer1: ['topic1'] }), {})).toEqual({ consumer1: [] });
  });

  it('testOneConsumerOneTopic', () => {
    expect(assign(group({ consumer1: ['topic1'] }), { topic1: 3 })).toEqual({
      consumer1: [tp('topic1', 0), tp('topic1', 1), tp('topic1', 2)],
    });
  });

  it('testOnlyAssignsPartitionsFromSubscribedTopics', () => {
    expect(assign(group({ consumer1: ['topic1'] }), { topic1: 3, other: 3 })).toEqual({
      consumer1: [tp('topic1', 0), tp('topic1', 1), tp('topic1', 2)],
    });
  });

  it('testOneConsumerMultipleTopics', () => {
    expect(assign(group({ consumer1: ['topic1', 'topic2'] }), { topic1: 1, topic2: 2 })).toEqual({
      consumer1: [tp('topic1', 0), tp('topic2', 0), tp('topic2', 1)],
    });
  });

  it('testTwoConsumersOneTopicOnePartition', () => {
    expect(assign(group({ consumer1: ['topic1'], consumer2: ['topic1'] }), { topic1: 1 })).toEqual({
      consumer1: [tp('topic1', 0)],
      consumer2: [],
    });
  });

  it('testTwoConsumersOneTopicTwoPartitions', () => {
    expect(assign(group({ consumer1: ['topic1'], consumer2: ['topic1'] }), { topic1: 2 })).toEqual({
      consumer1: [tp('topic1', 0)],
      consumer2: [tp('topic1', 1)],
    });
  });

  it('testMultipleConsumersMixedTopics', () => {
    const members = group({ consumer1: ['topic1'], consumer2: ['topic1', 'topic2'], consumer3: ['topic1'] });
    expect(assign(members, { topic1: 3, topic2: 2 })).toEqual({
      consumer1: [tp('topic1', 0)],
      consumer2: [tp('topic1', 1), tp('topic2', 0), tp('topic2', 1)],
      consumer3: [tp('topic1', 2)],
    });
  });

  it('testTwoConsumersTwoTopicsSixPartitions', () => {
    const members = group({ consumer1: ['topic1', 'topic2'], consumer2: ['topic1', 'topic2'] });
    expect(assign(members, { topic1: 3, topic2: 3 })).toEqual({
      consumer1: [tp('topic1', 0), tp('topic1', 1), tp('topic2', 0), tp('topic2', 1)],
      consumer2: [tp('topic1', 2), tp('topic2', 2)],
    });
  });

  it('testStaticMemberRangeAssignmentPersistent (by member id): 4 members, topics of 5 and 4 partitions', () => {
    const topics = ['topic1', 'topic2'];
    const members = group({ consumer1: topics, consumer2: topics, consumer3: topics, consumer4: topics });
    expect(assign(members, { topic1: 5, topic2: 4 })).toEqual({
      consumer1: [tp('topic1', 0), tp('topic1', 1), tp('topic2', 0)],
      consumer2: [tp('topic1', 2), tp('topic2', 1)],
      consumer3: [tp('topic1', 3), tp('topic2', 2)],
      consumer4: [tp('topic1', 4), tp('topic2', 3)],
    });
  });

  it('the Kafka javadoc example: C0, C1 on t0, t1 with 3 partitions each', () => {
    const members = group({ C1: ['t0', 't1'], C0: ['t0', 't1'] });
    expect(assign(members, { t0: 3, t1: 3 })).toEqual({
      C0: [tp('t0', 0), tp('t0', 1), tp('t1', 0), tp('t1', 1)],
      C1: [tp('t0', 2), tp('t1', 2)],
    });
  });

  it('orders members like Java String.compareTo (code units), not by locale', () => {
    // 'B' (0x42) sorts before 'a' (0x61) in Java; localeCompare would put 'a' first.
    expect(assign(group({ a: ['t'], B: ['t'] }), { t: 3 })).toEqual({ B: [tp('t', 0), tp('t', 1)], a: [tp('t', 2)] });
  });

  it('ignores owned partitions (range is not sticky)', () => {
    const members = [
      { memberId: 'c1', topics: ['t'], owned: [tp('t', 1)] },
      { memberId: 'c2', topics: ['t'], owned: [tp('t', 0)] },
    ];
    expect(assign(members, { t: 2 })).toEqual({ c1: [tp('t', 0)], c2: [tp('t', 1)] });
  });

  it('rejects a malformed group with an AssignmentError', () => {
    expect(() => assign(group({ c1: ['t'] }), { t: -1 })).toThrow(/non-negative integer/);
    expect(() => assign([...group({ c1: ['t'] }), ...group({ c1: ['t'] })], { t: 1 })).toThrow(
      expect.objectContaining({ code: 'ASSIGNMENT_INVALID' }),
    );
  });
});
