// Tests / Bitfinex REST source against the loopback fake server: polling, funding rows, rate limits, error bodies, maintenance.
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError, FeedMessageError } from '../../src/errors';
import type { Ticker } from '../../src/schema/types.generated';
import { BitfinexApiError } from '../../src/sources/bitfinex-frames';
import {
  type BitfinexRestSource,
  type BitfinexRestSourceOptions,
  createBitfinexRestSource,
  MIN_REST_INTERVAL_MS,
} from '../../src/sources/bitfinex-rest';
import { FeedError, type SourceError, type SourceStatus } from '../../src/sources/source';
import { type FakeBitfinex, RATE_LIMIT_BODIES, startFakeBitfinex } from '@kandle/local-stack';

// One server per test: a request a stopped source left in flight must not consume the next test's injected failure.
let server: FakeBitfinex | undefined;
let source: BitfinexRestSource | undefined;
afterEach(async () => {
  await source?.stop();
  await server?.close();
  source = undefined;
  server = undefined;
});

const fastBackoff = { initialDelayMs: 10, maxDelayMs: 40 };

interface Harness {
  server: FakeBitfinex;
  source: BitfinexRestSource;
  tickers: Ticker[];
  errors: SourceError[];
  statuses: SourceStatus[];
  /** Paths requested, in order: `tickers` or `status`. */
  requests: string[];
}

/** A fake server with `prepare` applied, and a source polling it fast; not started. */
async function setUp(
  options: Partial<BitfinexRestSourceOptions> = {},
  prepare: (server: FakeBitfinex) => void = () => {},
): Promise<Harness> {
  server = await startFakeBitfinex({ seed: 3 });
  prepare(server);
  const requests: string[] = [];
  source = createBitfinexRestSource({
    symbols: ['tBTCUSD'],
    baseUrl: server.restUrl,
    intervalMs: 10,
    ignoreRateLimit: true,
    backoff: fastBackoff,
    rateLimitCooldownMs: 20,
    fetch: (input, init) => {
      requests.push(String(input).includes('/v2/platform/status') ? 'status' : 'tickers');
      return fetch(input, init);
    },
    ...options,
  });
  const h: Harness = { server, source, tickers: [], errors: [], statuses: [], requests };
  source.onTicker((t) => h.tickers.push(t));
  source.onError((e) => h.errors.push(e));
  source.onStatus((s) => h.statuses.push(s));
  return h;
}

describe('createBitfinexRestSource', () => {
  it('polls /v2/tickers, emits typed tickers stamped at receipt and skips funding rows with a count', async () => {
    const h = await setUp({ symbols: ['tBTCUSD', 'tETHUSD', 'fUSD'], intervalMs: 30 });
    const before = Date.now();
    await h.source.start();
    expect(h.source.status).toBe('live');
    expect(h.tickers.map((t) => t.symbol)).toEqual(['tBTCUSD', 'tETHUSD']);
    expect(h.tickers[0]?.eventTime).toBeGreaterThanOrEqual(before);
    expect(h.tickers[0]?.eventTime).toBeLessThanOrEqual(Date.now());
    expect(h.tickers[0]?.lastPrice).toBeGreaterThan(50_000);
    h.server.pushTicker('tBTCUSD', [1, 2, 3, 4, 5, 0.5, 123_456, 7, 8, 9]);
    await h.server.waitFor(() => h.tickers.some((t) => t.lastPrice === 123_456));
    const stats = h.source.stats();
    expect(stats.ignored).toBe(stats.messages); // one fUSD row per response
    expect(h.errors).toEqual([]);
  });

  it('refuses intervals that could put more than 27 requests in a minute, and malformed symbols', () => {
    expect(MIN_REST_INTERVAL_MS).toBe(2_250);
    expect(() => createBitfinexRestSource({ symbols: ['tBTCUSD'], intervalMs: 2_000 })).toThrow(ConfigError);
    expect(() => createBitfinexRestSource({ symbols: ['tBTCUSD'], intervalMs: 2_249 })).toThrow(/27 requests/);
    expect(() => createBitfinexRestSource({ symbols: ['tBTCUSD'], intervalMs: 2_250 })).not.toThrow();
    expect(() => createBitfinexRestSource({ symbols: ['tBTCUSD'] })).not.toThrow();
    expect(() =>
      createBitfinexRestSource({ symbols: ['tBTCUSD'], intervalMs: 500, ignoreRateLimit: true }),
    ).not.toThrow();
    expect(() => createBitfinexRestSource({ symbols: [] })).toThrow(/non-empty/);
    expect(() => createBitfinexRestSource({ symbols: ['tbtcusd'] })).toThrow(/uppercase/);
    expect(() => createBitfinexRestSource({ symbols: ['fUSD', 'tETHUSD'] })).not.toThrow();
  });

  it('after HTTP 429 waits the cooldown, asks /v2/platform/status, then polls tickers again', async () => {
    const h = await setUp({ rateLimitCooldownMs: 60_000 }, (s) => s.failRest(429));
    await h.source.start();
    expect(h.source.status).toBe('reconnecting');
    expect(h.errors).toHaveLength(1);
    expect(h.errors[0]).toBeInstanceOf(FeedError);
    expect((h.errors[0] as FeedError).reason).toBe('rate-limited');
    // Backoff is 10–40 ms: without the cooldown several more requests would have gone out by now.
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(h.requests).toEqual(['tickers']);
  });

  it.each([
    ['HTTP 429 {"error":"ERR_RATE_LIMIT"}', 429, RATE_LIMIT_BODIES.object],
    ['HTTP 200 {"error":"ERR_RATE_LIMIT"}', 200, RATE_LIMIT_BODIES.object],
    ['HTTP 200 ["error",11010,"ratelimit: error"]', 200, RATE_LIMIT_BODIES.array],
  ])('recognises the rate limit in %s and checks the platform before resuming', async (_name, status, body) => {
    const h = await setUp({}, (s) => s.failRest(status, { body }));
    await h.source.start();
    expect(h.source.status).not.toBe('live');
    expect(h.tickers).toEqual([]);
    await h.server.waitFor(() => h.tickers.length > 0, 3_000);
    expect(h.errors.map((e) => (e instanceof FeedError ? e.reason : 'malformed'))).toEqual(['rate-limited']);
    expect(h.requests.slice(0, 3)).toEqual(['tickers', 'status', 'tickers']);
    expect(h.source.stats().malformed).toBe(0);
    expect(h.source.status).toBe('live');
  });

  it('reads ["error", null, msg] as one error, pauses through a maintenance the platform status confirms, and resumes after it', async () => {
    const h = await setUp({}, (s) => {
      s.failRest(200, { body: JSON.stringify(['error', null, 'platform in maintenance']) });
      s.sendInfo(20060); // /v2/platform/status answers [0] until 20061
    });
    await h.source.start();
    await h.server.waitFor(() => h.requests.filter((r) => r === 'status').length >= 3, 3_000);
    expect(h.source.status).toBe('paused');
    expect(h.requests.filter((r) => r === 'tickers')).toHaveLength(1); // no tickers poll while the platform is down
    expect(h.source.stats().malformed).toBe(0);
    const [first] = h.errors;
    expect(first).toBeInstanceOf(BitfinexApiError);
    expect((first as BitfinexApiError).message).toMatch(/platform in maintenance/);
    expect(h.errors.slice(1).every((e) => e instanceof BitfinexApiError && e.bitfinexCode === 20060)).toBe(true);
    h.server.sendInfo(20061);
    await h.server.waitFor(() => h.tickers.length > 0, 3_000);
    expect(h.source.status).toBe('live');
  });

  it('does not count an error body with HTTP 200 as a successful poll', async () => {
    const h = await setUp({}, (s) => s.failRest(200, { body: JSON.stringify(['error', 10020, 'symbols: invalid']) }));
    await h.source.start();
    expect(h.source.status).toBe('reconnecting');
    expect(h.source.stats().reconnects).toBe(1);
    expect((h.errors[0] as BitfinexApiError).bitfinexCode).toBe(10020);
    await h.server.waitFor(() => h.tickers.length > 0, 3_000);
    expect(h.requests.slice(0, 2)).toEqual(['tickers', 'tickers']); // not a rate limit: no platform check
  });

  it('reports 5xx error bodies as BitfinexApiError and non-JSON 200 bodies as FeedMessageError, and keeps polling', async () => {
    const h = await setUp({ symbols: ['tXRPUSD'] }, (s) => {
      s.failRest(500, { body: JSON.stringify(['error', 10020, 'symbols: invalid']) });
      s.failRest(200, { body: '<html>cloudflare</html>' });
    });
    await h.source.start();
    await h.server.waitFor(() => h.tickers.length > 0, 3000);
    expect(h.errors[0]).toBeInstanceOf(BitfinexApiError);
    expect((h.errors[0] as BitfinexApiError).bitfinexCode).toBe(10020);
    expect(h.errors[1]).toBeInstanceOf(FeedMessageError);
    expect(h.source.stats().malformed).toBe(1);
  });

  it('reports network failures as FeedError network and stops polling on stop()', async () => {
    const h = await setUp({ baseUrl: 'http://127.0.0.1:9' });
    await h.source.start();
    expect(h.errors[0]).toBeInstanceOf(FeedError);
    expect((h.errors[0] as FeedError).reason).toBe('network');
    await h.source.stop();
    const polls = h.requests.length;
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(h.requests.length).toBe(polls);
    expect(h.source.status).toBe('stopped');
  });
});
