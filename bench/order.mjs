// Bench run order: balanced Latin squares (Williams designs), so no client always runs first or always after the same peer.

/**
 * The rows of a Williams design for `n` treatments: every treatment takes every position equally often and, over
 * all rows, follows every other treatment equally often (first-order carry-over balanced). `n` rows when `n` is
 * even; `2n` when odd (the rows of the square and their mirror images).
 */
export function williamsRows(n) {
  if (!Number.isInteger(n) || n < 1) throw new Error(`williamsRows: n must be a positive integer, got ${n}`);
  const first = [];
  for (let j = 0, low = 0, high = n - 1; j < n; j++) first.push(j % 2 === 0 ? low++ : high--);
  // first = 0, n-1, 1, n-2, … ; shifting it by i gives row i.
  const rows = Array.from({ length: n }, (_, i) => first.map((t) => (t + i) % n));
  return n % 2 === 0 ? rows : [...rows, ...rows.map((row) => [...row].reverse())];
}

/**
 * The order of `names` in round `round` (0-based): row `round` of their Williams design, cycling when there are
 * more rounds than rows. With two names it alternates: a, b, then b, a.
 */
export function balancedOrder(names, round) {
  const rows = williamsRows(names.length);
  return rows[round % rows.length].map((i) => names[i]);
}
