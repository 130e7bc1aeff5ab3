// Tests of the round-robin strategy, ported from Apache Kafka's RoundRobinAssignorTest (non-static cases).

import { describe, expect, it } from 'vitest';
import { roundRobinAssignor } from '../../src/assignors';
import { group, tp } from './helpers';

const assign = roundRobinAssignor.assign.bind(roundRobinAssignor);

describe('roundRobinAssignor (ported from Kafka RoundRobinAssignorTest)', () => {
  it('is announced as "roundrobin"', () => {
    expect(roundRobinAssignor.name).toBe('roundrobin');
  });

  it('testOneConsumerNoTopic', () => {
    expect(assign(group({ consumer: [] }), {})).toEqual({ consumer: [] });
  });

  it('testOneConsumerNonexistentTopic', () => {
    expect(assign(group({ consumer: ['topic'] }), {})).toEqual({ consumer: [] });
  });

  it('testOneConsumerOneTopic', () => {
    expect(assign(group({ consumer: ['topic'] }), { topic: 3 })).toEqual({
      consumer: [tp('topic', 0), tp('topic', 1), tp('topic', 2)],
    });
  });

  it('testOnlyAssignsPartitionsFromSubscribedTopics', () => {
    expect(assign(group({ consumer: ['topic'] }), { topic: 3, other: 3 })).toEqual({
      consumer: [tp('topic', 0), tp('topic', 1), tp('topic', 2)],
    });
  });

  it('testOneConsumerMultipleTopics', () => {
    expect(assign(group({ consumer: ['topic1', 'topic2'] }), { topic1: 1, topic2: 2 })).toEqual({
      consumer: [tp('topic1', 0), tp('topic2', 0), tp('topic2', 1)],
    });
  });

  it('testTwoConsumersOneTopicOnePartition', () => {
    expect(assign(group({ consumer1: ['topic'], consumer2: ['topic'] }), { topic: 1 })).toEqual({
      consumer1: [tp('topic', 0)],
      consumer2: [],
    });
  });

  it('testTwoConsumersOneTopicTwoPartitions', () => {
    expect(assign(group({ consumer1: ['topic'], consumer2: ['topic'] }), { topic: 2 })).toEqual({
      consumer1: [tp('topic', 0)],
      consumer2: [tp('topic', 1)],
    });
  });

  it('testMultipleConsumersMixedTopics: members not subscribed to a topic are skipped', () => {
    const members = group({ consumer1: ['topic1'], consumer2: ['topic1', 'topic2'], consumer3: ['topic1'] });
    expect(assign(members, { topic1: 3, topic2: 2 })).toEqual({
      consumer1: [tp('topic1', 0)],
      consumer2: [tp('topic1', 1), tp('topic2', 0), tp('topic2', 1)],
      consumer3: [tp('topic1', 2)],
    });
  });

  it('testTwoDynamicConsumersTwoTopicsSixPartitions', () => {
    const members = group({ consumer1: ['topic1', 'topic2'], consumer2: ['topic1', 'topic2'] });
    expect(assign(members, { topic1: 3, topic2: 3 })).toEqual({
      consumer1: [tp('topic1', 0), tp('topic1', 2), tp('topic2', 1)],
      consumer2: [tp('topic1', 1), tp('topic2', 0), tp('topic2', 2)],
    });
  });

  it('testStaticMemberAssignmentPersistent (by member id): 4 members on two topics of 3', () => {
    const topics = ['topic1', 'topic2'];
    const members = group({ consumer4: topics, consumer1: topics, consumer2: topics, consumer3: topics });
    expect(assign(members, { topic1: 3, topic2: 3 })).toEqual({
      consumer1: [tp('topic1', 0), tp('topic2', 1)],
      consumer2: [tp('topic1', 1), tp('topic2', 2)],
      consumer3: [tp('topic1', 2)],
      consumer4: [tp('topic2', 0)],
    });
  });

  it('the Kafka javadoc example: C0, C1 on t0, t1 with 3 partitions each', () => {
    const members = group({ C1: ['t0', 't1'], C0: ['t0', 't1'] });
    expect(assign(members, { t0: 3, t1: 3 })).toEqual({
      C0: [tp('t0', 0), tp('t0', 2), tp('t1', 1)],
      C1: [tp('t0', 1), tp('t1', 0), tp('t1', 2)],
    });
  });

  it('continues the deal after the member that took the previous partition', () => {
    // t0-0 → a, t1-0 skips b (not subscribed) → c, t1-1 wraps to a.
    const members = group({ a: ['t0', 't1'], b: ['t0'], c: ['t1'] });
    expect(assign(members, { t0: 1, t1: 2 })).toEqual({ a: [tp('t0', 0), tp('t1', 1)], b: [], c: [tp('t1', 0)] });
  });

  it('rejects a malformed group with an AssignmentError', () => {
    expect(() => assign([{ memberId: '', topics: ['t'] }], { t: 1 })).toThrow(
      expect.objectContaining({ code: 'ASSIGNMENT_INVALID' }),
    );
  });
});
