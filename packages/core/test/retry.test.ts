// Retry: backoff windows, full jitter, Retry-After, and retryRetriable's budget, jitter bounds and server-asked pauses.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { backoffMs, fullJitterMs, parseRetryAfterMs, retryRetriable } from '../src/retry';

afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

describe('backoffMs', () => {
  it('doubles from the initial pause up to the cap, also for huge attempts', () => {
    expect([0, 1, 2, 3, 4, 5, 49, 5000].map((n) => backoffMs(n, 100, 1000))).toEqual([
      100, 200, 400, 800, 1000, 1000, 1000, 1000,
    ]);
  });

  it('grows by the given factor', () => {
    expect([0, 1, 2, 3].map((n) => backoffMs(n, 100, 10_000, 3))).toEqual([100, 300, 900, 2700]);
  });
});

describe('fullJitterMs', () => {
  it('draws uniformly from [0, window)', () => {
    expect(fullJitterMs(2, 100, 1000, () => 0)).toBe(0);
    expect(fullJitterMs(2, 100, 1000, () => 0.5)).toBe(200);
    expect(fullJitterMs(2, 100, 1000, () => 0.999999)).toBe(399);
    const samples = Array.from({ length: 2000 }, () => fullJitterMs(3, 100, 1000));
    expect(Math.min(...samples)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...samples)).toBeLessThan(800);
    // Full jitter spreads over the whole window, not just its top.
    expect(samples.filter((d) => d < 400).length).toBeGreaterThan(700);
    expect(samples.filter((d) => d >= 400).length).toBeGreaterThan(700);
  });
});

describe('parseRetryAfterMs', () => {
  it('reads delta-seconds and HTTP dates', () => {
    const now = Date.UTC(2024, 0, 1, 12, 0, 0);
    expect(parseRetryAfterMs('3', now)).toBe(3000);
    expect(parseRetryAfterMs('0.5', now)).toBe(500);
    expect(parseRetryAfterMs('Mon, 01 Jan 2024 12:00:07 GMT', now)).toBe(7000);
    expect(parseRetryAfterMs('Mon, 01 Jan 2024 11:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfterMs(['2'], now)).toBe(2000);
  });

  it('ignores missing or unreadable values', () => {
    expect(parseRetryAfterMs(undefined)).toBeUndefined();
    expect(parseRetryAfterMs(null)).toBeUndefined();
    expect(parseRetryAfterMs('')).toBeUndefined();
    expect(parseRetryAfterMs('soon')).toBeUndefined();
  });
});

/** Runs retryRetriable on fake time against a call that always fails; returns when each attempt started. */
async function attemptTimes(
  policy: Parameters<typeof retryRetriable>[2],
  retriable = true,
): Promise<{ at: number[]; error: unknown }> {
  vi.useFakeTimers({ now: 0 });
  const at: number[] = [];
  const failure = new Error('unavailable');
  const run = retryRetriable(
    async () => {
      at.push(Date.now());
      throw failure;
    },
    () => retriable,
    policy,
  ).catch((e: unknown) => e);
  await vi.runAllTimersAsync();
  const error = await run;
  expect(error).toBe(failure);
  return { at, error };
}

describe('retryRetriable', () => {
  it('stops before a pause that would end past the budget, and throws the last error', async () => {
    vi.spyOn(Math, 'random').mockReturnValue(0.5); // jitter factor exactly 1
    const { at } = await attemptTimes({ budgetMs: 1000, initialDelayMs: 200, maxDelayMs: 2000 });
    // Pauses 200 then 400; the next (800) would end at 1400 > 1000.
    expect(at).toEqual([0, 200, 600]);
  });

  it('keeps each pause within ±20% of the backoff window', async () => {
    vi.spyOn(Math, 'random').mockReturnValue(0);
    expect((await attemptTimes({ budgetMs: 500, initialDelayMs: 200 })).at).toEqual([0, 160, 480]);
    vi.useRealTimers();
    vi.spyOn(Math, 'random').mockReturnValue(0.999_999);
    const high = (await attemptTimes({ budgetMs: 500, initialDelayMs: 200 })).at;
    expect(high).toHaveLength(2);
    // 240 minus a rounding hair (timers truncate fractional delays): above 200, so not the bare window.
    expect(high[1]).toBeGreaterThanOrEqual(239);
    expect(high[1]).toBeLessThanOrEqual(240);
  });

  it('waits at least what retryAfterMs asks for', async () => {
    vi.spyOn(Math, 'random').mockReturnValue(0.5);
    const { at } = await attemptTimes({ budgetMs: 2000, initialDelayMs: 200, retryAfterMs: () => 700 });
    // Pauses max(200, 700) and max(400, 700); the third, max(800, 700), would end at 2200 > 2000.
    expect(at).toEqual([0, 700, 1400]);
  });

  it('gives up at once on an error that will not pass', async () => {
    expect((await attemptTimes({ budgetMs: 10_000 }, false)).at).toEqual([0]);
  });
});
