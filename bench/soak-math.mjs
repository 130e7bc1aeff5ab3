// Soak arithmetic: least-squares slope of a memory series, kept apart from the run so it can be unit-tested.

/**
 * Least-squares slope of `points` ([{ t, v }], t in minutes) in v-units per minute; NaN with fewer than two
 * points or no spread in t.
 */
export function slopePerMinute(points) {
  const n = points.length;
  if (n < 2) return Number.NaN;
  const meanT = points.reduce((s, p) => s + p.t, 0) / n;
  const meanV = points.reduce((s, p) => s + p.v, 0) / n;
  let num = 0;
  let den = 0;
  for (const p of points) {
    num += (p.t - meanT) * (p.v - meanV);
    den += (p.t - meanT) ** 2;
  }
  return den === 0 ? Number.NaN : num / den;
}

/** The samples at or after `warmupMinutes` (the warm-up is excluded from the slope). */
export function afterWarmup(samples, warmupMinutes) {
  return samples.filter((s) => s.t >= warmupMinutes);
}
