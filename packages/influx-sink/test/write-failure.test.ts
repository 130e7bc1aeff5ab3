// Write failure: classifying a failed write (retryable, Retry-After, body) and the lines a refusal blames.
import { describe, expect, it } from 'vitest';
import { classifyWriteError, offendingLineIndexes } from '../src/write-failure';

function httpError(statusCode: number, body = '', headers: Record<string, string> = {}) {
  return Object.assign(new Error(`status ${statusCode}`), { name: 'HttpError', statusCode, body, headers });
}

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
