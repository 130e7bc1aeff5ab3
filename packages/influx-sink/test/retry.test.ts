import { describe, expect, it } from 'vitest';
import {
  backoffWindowMs,
  classifyWriteError,
  fullJitterDelayMs,
  offendingLineIndexes,
  parseRetryAfterMs,
} from '../src/retry';

const policy = { baseDelayMs: 100, maxDelayMs: 1000 };

function httpError(statusCode: number, body = '', headers: Record<string, string> = {}) {
  return Object.assign(new Error(`status ${statusCode}`), { name: 'HttpError', statusCode, body, headers });
}

describe('backoff', () => {
  it('doubles the window per attempt up to the cap', () => {
    expect([1, 2, 3, 4, 5, 6, 50, 5000].map((n) => backoffWindowMs(n, policy))).toEqual([
      100, 200, 400, 800, 1000, 1000, 1000, 1000,
    ]);
  });

  it('draws a full-jitter delay uniformly from [0, window)', () => {
    expect(fullJitterDelayMs(3, policy, () => 0)).toBe(0);
    expect(fullJitterDelayMs(3, policy, () => 0.5)).toBe(200);
    expect(fullJitterDelayMs(3, policy, () => 0.999999)).toBe(399);
    const samples = Array.from({ length: 2000 }, () => fullJitterDelayMs(4, policy));
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
    expect(parseRetryAfterMs('')).toBeUndefined();
    expect(parseRetryAfterMs('soon')).toBeUndefined();
  });
});

describe('classifyWriteError', () => {
  it.each([
    [429, true],
    [500, true],
    [503, true],
    [400, false],
    [401, false],
    [404, false],
    [413, false],
  ])('HTTP %i retryable=%s', (status, retryable) => {
    expect(classifyWriteError(httpError(status))).toMatchObject({ status, retryable });
  });

  it('carries Retry-After and the body', () => {
    const failure = classifyWriteError(httpError(503, 'busy', { 'retry-after': '4' }));
    expect(failure).toMatchObject({ retryable: true, retryAfterMs: 4000, body: 'busy' });
  });

  it('retries socket failures and timeouts, not programming errors', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' });
    const timedOut = Object.assign(new Error('Request timed out'), { name: 'RequestTimedOutError' });
    expect(classifyWriteError(refused).retryable).toBe(true);
    expect(classifyWriteError(timedOut).retryable).toBe(true);
    expect(classifyWriteError(new TypeError('x is not a function')).retryable).toBe(false);
  });
});

describe('offendingLineIndexes', () => {
  const lines = ['m a=1 1', 'm a="x" 2', 'm a=3 3', 'm b=4 4'];

  it('understands InfluxDB 3 partial-write bodies, by original line first', () => {
    const body = JSON.stringify({
      error: 'partial write of line protocol occurred',
      data: [
        { original_line: 'm a="x" 2', line_number: 99, error_message: 'type conflict' },
        { line_number: 4, error_message: 'bad' },
      ],
    });
    expect(offendingLineIndexes(body, lines)).toEqual([1, 3]);
  });

  it("understands InfluxDB 2's unable to parse '<line>'", () => {
    const body = JSON.stringify({ code: 'invalid', message: "unable to parse 'm a=3 3': bad timestamp" });
    expect(offendingLineIndexes(body, lines)).toEqual([2]);
  });

  it("understands QuestDB's 1-based line field and message", () => {
    const body =
      '{"code":"invalid","message":"failed to parse line protocol:errors encountered on line(s):\\nerror in line 2: cast error","line":2,"errorId":"x-1"}';
    expect(offendingLineIndexes(body, lines)).toEqual([1]);
  });

  it('returns nothing when the body names no line or an impossible one', () => {
    expect(offendingLineIndexes('{"code":"unauthorized","message":"token invalid"}', lines)).toEqual([]);
    expect(offendingLineIndexes('{"line":17}', lines)).toEqual([]);
    expect(offendingLineIndexes(undefined, lines)).toEqual([]);
    expect(offendingLineIndexes('<html>', lines)).toEqual([]);
  });
});
