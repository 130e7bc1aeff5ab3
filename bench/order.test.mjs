import { describe, expect, it } from 'vitest';
import { balancedOrder, williamsRows } from './order.mjs';

/** How often each treatment sits at each position, and how often each ordered pair is adjacent. */
function counts(rows, n) {
  const position = Array.from({ length: n }, () => new Array(n).fill(0));
  const follows = Array.from({ length: n }, () => new Array(n).fill(0));
  for (const row of rows) {
    row.forEach((t, i) => {
      position[t][i]++;
      if (i > 0) follows[row[i - 1]][t]++;
    });
  }
  return { position, follows };
}

describe('williamsRows', () => {
  it.each([2, 4, 6])('balances positions and carry-over for an even count (%i)', (n) => {
    const rows = williamsRows(n);
    expect(rows).toHaveLength(n);
    const { position, follows } = counts(rows, n);
    for (const row of position) expect(row).toEqual(new Array(n).fill(1));
    for (let a = 0; a < n; a++) for (let b = 0; b < n; b++) expect(follows[a][b]).toBe(a === b ? 0 : 1);
  });

  it.each([3, 5])('balances positions and carry-over over 2n rows for an odd count (%i)', (n) => {
    const rows = williamsRows(n);
    expect(rows).toHaveLength(2 * n);
    const { position, follows } = counts(rows, n);
    for (const row of position) expect(row).toEqual(new Array(n).fill(2));
    for (let a = 0; a < n; a++) for (let b = 0; b < n; b++) expect(follows[a][b]).toBe(a === b ? 0 : 2);
  });

  it('makes every row a permutation', () => {
    for (const n of [1, 2, 3, 4, 5, 7])
      for (const row of williamsRows(n)) expect([...row].sort()).toEqual([...row.keys()]);
  });

  it('refuses a count that is not a positive integer', () => {
    expect(() => williamsRows(0)).toThrow(/positive integer/);
    expect(() => williamsRows(2.5)).toThrow(/positive integer/);
  });
});

describe('balancedOrder', () => {
  it('alternates two clients', () => {
    expect([0, 1, 2, 3].map((r) => balancedOrder(['kandle', 'raw'], r))).toEqual([
      ['kandle', 'raw'],
      ['raw', 'kandle'],
      ['kandle', 'raw'],
      ['raw', 'kandle'],
    ]);
  });

  it('puts a different client first in each of the first n rounds', () => {
    const names = ['kandle', 'raw', 'kafkajs', 'platformatic'];
    const firsts = names.map((_, r) => balancedOrder(names, r)[0]);
    expect(new Set(firsts).size).toBe(names.length);
  });

  it('cycles when there are more rounds than rows', () => {
    const names = ['a', 'b', 'c'];
    expect(balancedOrder(names, 6)).toEqual(balancedOrder(names, 0));
  });
});
