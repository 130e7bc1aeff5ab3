// Tests of the assignment guard: validateAssignment rejects every way an assignor can break the group contract.

import { describe, expect, it } from 'vitest';
import { AssignmentError } from '../../src/errors';
import { validateAssignment } from '../../src/assignors';
import { group, tp } from './helpers';

const members = group({ C1: ['coins'], C2: ['coins', 'trades'] });
const partitionsPerTopic = { coins: 2, trades: 1, unrelated: 4 };
const valid = { C1: [tp('coins', 0)], C2: [tp('coins', 1), tp('trades', 0)] };

function errorOf(run: () => void): AssignmentError {
  try {
    run();
  } catch (error) {
    if (error instanceof AssignmentError) return error;
    throw error;
  }
  throw new Error('expected an AssignmentError');
}

describe('validateAssignment', () => {
  it('accepts a valid assignment, ignoring topics nobody subscribes to', () => {
    expect(() => validateAssignment(members, partitionsPerTopic, valid)).not.toThrow();
  });

  it('treats a member missing from the result as assigned nothing', () => {
    const onlyC2 = { C2: [tp('coins', 0), tp('coins', 1), tp('trades', 0)] };
    expect(() => validateAssignment(members, partitionsPerTopic, onlyC2)).not.toThrow();
  });

  it('rejects a partition assigned twice', () => {
    const error = errorOf(() =>
      validateAssignment(members, partitionsPerTopic, { ...valid, C1: [tp('coins', 0), tp('coins', 1)] }),
    );
    expect(error.code).toBe('ASSIGNMENT_INVALID');
    expect(error.message).toMatch(/coins\[1\] twice/);
    expect(error.details).toMatchObject({ topic: 'coins', partition: 1, otherMemberId: 'C1', memberId: 'C2' });
  });

  it('rejects a subscribed partition left unassigned', () => {
    const error = errorOf(() => validateAssignment(members, partitionsPerTopic, { C1: [tp('coins', 0)], C2: [] }));
    expect(error.message).toMatch(/left 2 subscribed partition\(s\) unassigned: coins\[1\], trades\[0\]/);
    expect(error.details).toMatchObject({ unassigned: 2, topic: 'coins', partition: 1 });
  });

  it('rejects partitions given to an unknown member', () => {
    const error = errorOf(() =>
      validateAssignment(members, partitionsPerTopic, { ...valid, C9: [tp('unrelated', 0)] }),
    );
    expect(error.message).toMatch(/unknown member "C9"/);
  });

  it('rejects a partition given to a member not subscribed to its topic', () => {
    const error = errorOf(() =>
      validateAssignment(members, partitionsPerTopic, { C1: [tp('coins', 0), tp('trades', 0)], C2: [tp('coins', 1)] }),
    );
    expect(error.message).toMatch(/trades\[0\] to "C1", which does not subscribe to "trades"/);
  });

  it('rejects partitions that do not exist', () => {
    expect(() =>
      validateAssignment(members, partitionsPerTopic, { ...valid, C2: [...valid.C2, tp('coins', 2)] }),
    ).toThrow(/coins\[2\], which does not exist/);
    expect(() => validateAssignment(members, partitionsPerTopic, { ...valid, C1: [tp('nope', 0)] })).toThrow(
      /nope\[0\], which does not exist/,
    );
  });

  it('rejects malformed results and names the assignor when told', () => {
    const broken = { C1: [{ topic: 'coins', partition: 0.5 }], C2: [] };
    expect(() => validateAssignment(members, partitionsPerTopic, broken, 'mine')).toThrow(
      /assignor "mine" gave member "C1" a malformed partition/,
    );
    expect(() =>
      validateAssignment(members, partitionsPerTopic, null as unknown as Record<string, never>, 'mine'),
    ).toThrow(/assignor "mine" must return an object/);
    expect(() =>
      validateAssignment(members, partitionsPerTopic, { C1: 'coins' } as unknown as Record<string, never>),
    ).toThrow(/something other than a list/);
  });

  it('rejects a malformed group', () => {
    expect(() => validateAssignment([{ memberId: 'C1', topics: [''] }], {}, {})).toThrow(/non-empty topic names/);
    expect(() => validateAssignment([{ memberId: '__proto__', topics: [] }], {}, {})).toThrow(/reserved/);
    expect(() =>
      validateAssignment([{ memberId: 'C1', topics: ['t'], owned: [{ topic: 't', partition: -1 }] }], { t: 1 }, {}),
    ).toThrow(/malformed owned/);
    expect(() => validateAssignment(members, { coins: 1.5 }, {})).toThrow(/non-negative integer/);
  });
});
