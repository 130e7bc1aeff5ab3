import { describe, expect, it } from 'vitest';
import { afterWarmup, slopePerMinute } from './soak-math.mjs';

describe('slopePerMinute', () => {
  it('finds the slope of a straight line', () => {
    expect(slopePerMinute([0, 1, 2, 3].map((t) => ({ t, v: 100 + 2 * t })))).toBeCloseTo(2);
  });

  it('is zero for a flat series and NaN without enough points', () => {
    expect(slopePerMinute([0, 1, 2].map((t) => ({ t, v: 5 })))).toBe(0);
    expect(slopePerMinute([{ t: 0, v: 1 }])).toBeNaN();
    expect(
      slopePerMinute([
        { t: 1, v: 1 },
        { t: 1, v: 2 },
      ]),
    ).toBeNaN();
  });
});

describe('afterWarmup', () => {
  it('drops the samples taken during the warm-up', () => {
    expect(afterWarmup([{ t: 0.5 }, { t: 1 }, { t: 2 }], 1)).toEqual([{ t: 1 }, { t: 2 }]);
  });
});
