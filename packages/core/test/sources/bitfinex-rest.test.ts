// Tests / Bitfinex REST source against the loopback fake server: polling, funding rows, 429 backoff, bad bodies.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { FeedMessageError, KandleError } from '../../src/errors';
import type { Ticker } from '../../src/schema/types.generated';
import { BitfinexApiError } from '../../src/sources/bitfinex-frames';
import { type BitfinexRestSource, createBitfinexRestSource } from '../../src/sources/bitfinex-rest';
import { FeedError, type SourceError } from '../../src/sources/source';
import { type FakeBitfinex, startFakeBitfinex } from '../../src/testing/bitfinex-server';

let server: FakeBitfinex;
let source: BitfinexRestSource | undefined;
beforeAll(async () => {
  server = await startFakeBitfinex({ seed: 3 });
});
afterEach(async () => {
  await source?.stop();
  source = undefined;
});
afterAll(async () => {
  await server.close();
});

const fastBackoff = { initialDelayMs: 10, maxDelayMs: 40 };

function collect(s: BitfinexRestSource) {
  const tickers: Ticker[] = [];
  const errors: SourceError[] = [];
  s.onTicker((t) => tickers.push(t));
  s.onError((e) => errors.push(e));
  return { tickers, errors };
}

describe('createBitfinexRestSource', () => {
  it('polls /v2/tickers, emits typed tickers stamped at receipt and skips funding rows with a count', async () => {
    source = createBitfinexRestSource({
      symbols: ['tBTCUSD', 'tETHUSD', 'fUSD'],
      baseUrl: server.restUrl,
      intervalMs: 30,
      ignoreRateLimit: true,
    });
    const { tickers, errors } = collect(source);
    const before = Date.now();
    await source.start();
    expect(source.status).toBe('live');
    expect(tickers.map((t) => t.symbol)).toEqual(['tBTCUSD', 'tETHUSD']);
    expect(tickers[0]?.eventTime).toBeGreaterThanOrEqual(before);
    expect(tickers[0]?.eventTime).toBeLessThanOrEqual(Date.now());
    expect(tickers[0]?.lastPrice).toBeGreaterThan(50_000);
    server.pushTicker('tBTCUSD', [1, 2, 3, 4, 5, 0.5, 123_456, 7, 8, 9]);
    await server.waitFor(() => tickers.some((t) => t.lastPrice === 123_456));
    const stats = source.stats();
    expect(stats.ignored).toBe(stats.messages); // one fUSD row per response
    expect(errors).toEqual([]);
  });

  it('refuses to poll faster than the public rate limit unless told to', () => {
    expect(() => createBitfinexRestSource({ symbols: ['tBTCUSD'], intervalMs: 500 })).toThrow(KandleError);
    expect(() =>
      createBitfinexRestSource({ symbols: ['tBTCUSD'], intervalMs: 500, ignoreRateLimit: true }),
    ).not.toThrow();
    expect(() => createBitfinexRestSource({ symbols: [] })).toThrow(/non-empty/);
  });

  it('backs off on 429 for at least the cooldown, reports rate-limited, then recovers', async () => {
    const requestTimes: number[] = [];
    server.failRest(429, { times: 2 });
    source = createBitfinexRestSource({
      symbols: ['tSOLUSD'],
      baseUrl: server.restUrl,
      intervalMs: 10,
      ignoreRateLimit: true,
      backoff: fastBackoff,
      rateLimitCooldownMs: 120,
      fetch: (input, init) => {
        requestTimes.push(Date.now());
        return fetch(input, init);
      },
    });
    const { tickers, errors } = collect(source);
    await source.start();
    expect(source.status).toBe('reconnecting');
    await server.waitFor(() => tickers.length > 0, 3000);
    expect(errors).toHaveLength(2);
    expect(errors.every((e) => e instanceof FeedError && e.reason === 'rate-limited')).toBe(true);
    expect((requestTimes[1] as number) - (requestTimes[0] as number)).toBeGreaterThanOrEqual(115);
    expect((requestTimes[2] as number) - (requestTimes[1] as number)).toBeGreaterThanOrEqual(115);
    expect(source.stats().reconnects).toBe(2);
    expect(source.status).toBe('live');
  });

  it('reports 5xx error bodies as BitfinexApiError and non-JSON 200 bodies as FeedMessageError, and keeps polling', async () => {
    server.failRest(500, { body: JSON.stringify(['error', 10020, 'symbols: invalid']) });
    server.failRest(200, { body: '<html>cloudflare</html>' });
    source = createBitfinexRestSource({
      symbols: ['tXRPUSD'],
      baseUrl: server.restUrl,
      intervalMs: 10,
      ignoreRateLimit: true,
      backoff: fastBackoff,
    });
    const { tickers, errors } = collect(source);
    await source.start();
    await server.waitFor(() => tickers.length > 0, 3000);
    expect(errors[0]).toBeInstanceOf(BitfinexApiError);
    expect((errors[0] as BitfinexApiError).bitfinexCode).toBe(10020);
    expect(errors[1]).toBeInstanceOf(FeedMessageError);
    expect(source.stats().malformed).toBe(1);
  });

  it('reports network failures as FeedError network and stops polling on stop()', async () => {
    source = createBitfinexRestSource({
      symbols: ['tBTCUSD'],
      baseUrl: 'http://127.0.0.1:9',
      intervalMs: 10,
      ignoreRateLimit: true,
      backoff: fastBackoff,
    });
    const { errors } = collect(source);
    await source.start();
    expect(errors[0]).toBeInstanceOf(FeedError);
    expect((errors[0] as FeedError).reason).toBe('network');
    await source.stop();
    const polls = source.stats().messages + errors.length;
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(source.stats().messages + errors.length).toBe(polls);
    expect(source.status).toBe('stopped');
  });
});
