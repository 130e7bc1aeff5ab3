// Tests / Bitfinex history backfill against the fake server: paging by time, boundaries, 429s, resume, then live.
import { afterEach, describe, expect, it } from 'vitest';
import type { Trade } from '../../src/schema/types.generated';
import {
  backfillTrades,
  type BitfinexHistoryOptions,
  resolveBitfinexHistory,
} from '../../src/sources/bitfinex-history';
import { type BitfinexWsSource, createBitfinexWsSource } from '../../src/sources/bitfinex-ws';
import { FeedError, type SourceError } from '../../src/sources/source';
import { type FakeBitfinex, startFakeBitfinex } from '@kandle/local-stack';

let server: FakeBitfinex | undefined;
let source: BitfinexWsSource | undefined;
afterEach(async () => {
  await source?.stop();
  await server?.close();
  source = undefined;
  server = undefined;
});

const SYMBOLS = ['tBTCUSD', 'tETHUSD'];

/** Requests the backfill sent, as `symbol start end limit sort` (status checks as `status`). */
function recordingFetch(log: string[], times: number[] = []): typeof fetch {
  return (input, init) => {
    const url = new URL(String(input));
    times.push(Date.now());
    const symbol = /\/trades\/([^/]+)\/hist/.exec(url.pathname)?.[1];
    log.push(
      symbol
        ? `${symbol} ${['start', 'end', 'limit', 'sort'].map((p) => url.searchParams.get(p)).join(' ')}`
        : url.pathname.includes('platform/status')
          ? 'status'
          : url.pathname,
    );
    return fetch(input, init);
  };
}

/** Runs one backfill against the fake; resolves with what it emitted and reported. */
async function backfill(fake: FakeBitfinex, options: BitfinexHistoryOptions, log: string[] = [], times: number[] = []) {
  const trades: Trade[] = [];
  const errors: SourceError[] = [];
  const result = await backfillTrades(
    SYMBOLS,
    resolveBitfinexHistory({
      restUrl: fake.restUrl,
      ignoreRateLimit: true,
      backoff: { initialDelayMs: 5, maxDelayMs: 20 },
      rateLimitCooldownMs: 10,
      fetch: recordingFetch(log, times),
      ...options,
    }),
    { emit: (t) => trades.push(t), onError: (e) => errors.push(e), signal: new AbortController().signal },
  );
  return { trades, errors, result };
}

/** Every trade the fake knows within the last `durationMs`, merged over SYMBOLS in (time, id) order, as `symbol:id`. */
function expectedSince(fake: FakeBitfinex, since: number): string[] {
  return SYMBOLS.flatMap((s) => fake.tradeHistory(s).map((t) => ({ s, id: t[0] as number, time: t[1] as number })))
    .filter((t) => t.time >= since)
    .sort((a, b) => a.time - b.time || a.id - b.id)
    .map((t) => `${t.s}:${t.id}`);
}

const ids = (trades: Trade[]) => trades.map((t) => `${t.symbol}:${t.id}`);

describe('Bitfinex trades history backfill', () => {
  it('pages by time with sort=1, drops the trades a page repeats at its boundary millisecond, and merges symbols in event-time order', async () => {
    server = await startFakeBitfinex({ seed: 5 });
    // Three trades share one millisecond: with pages of 3 the first page ends inside them.
    const base = Date.now() - 120_000;
    server.pushTrade('tBTCUSD', [10, base, 0.1, 95_000], { update: false });
    for (let i = 1; i <= 3; i++) server.pushTrade('tBTCUSD', [10 + i, base + 1, 0.1, 95_000 + i], { update: false });
    server.pushTrade('tBTCUSD', [20, base + 5, 0.1, 95_010], { update: false });
    server.pushTrade('tETHUSD', [30, base + 2, -2, 3_500], { update: false });
    server.pushTrade('tETHUSD', [31, base + 2, 2, 3_501], { update: false });
    const log: string[] = [];
    const { trades, errors, result } = await backfill(server, { durationMs: 600_000, pageSize: 3 }, log);

    expect(errors).toEqual([]);
    expect(ids(trades)).toEqual(expectedSince(server, result.from));
    expect(new Set(ids(trades)).size).toBe(trades.length);
    expect(trades.slice(0, 7).map((t) => t.id)).toEqual([10, 11, 12, 13, 30, 31, 20]);
    // Every request pages oldest first with pages of 3, each starting at the previous page's last MTS; a full page
    // of nothing new at that millisecond moves on by one.
    const btc = log.filter((l) => l.startsWith('tBTCUSD'));
    expect(btc.every((l) => l.endsWith(' 3 1'))).toBe(true);
    expect(btc.slice(0, 4).map((l) => Number(l.split(' ')[1]) - base)).toEqual([
      Number(btc[0]?.split(' ')[1]) - base,
      1,
      1,
      2,
    ]);
    expect(result.requests).toBe(log.length);
    expect(result.lastTradeIds.get('tETHUSD')).toBe(
      Math.max(...server.tradeHistory('tETHUSD').map((t) => t[0] as number)),
    );
  });

  it('after HTTP 429 waits at least Retry-After, checks the platform, and then delivers every trade', async () => {
    server = await startFakeBitfinex({ seed: 6, history: { durationMs: 30 * 60_000 } });
    server.failRest(429, { times: 2, retryAfterSeconds: 1 });
    const log: string[] = [];
    const times: number[] = [];
    const { trades, errors, result } = await backfill(server, { durationMs: 3_600_000 }, log, times);

    expect(errors.filter((e) => e instanceof FeedError && e.reason === 'rate-limited')).toHaveLength(2);
    const btc = expect.stringMatching(/^tBTCUSD/);
    expect(log.slice(0, 5)).toEqual([btc, 'status', btc, 'status', btc]);
    expect((times[1] as number) - (times[0] as number)).toBeGreaterThanOrEqual(1_000);
    expect(trades.length).toBeGreaterThan(500);
    expect(ids(trades)).toEqual(expectedSince(server, result.from));
  });

  it('resumes after the newest trade already delivered: nothing before it is fetched or emitted again', async () => {
    server = await startFakeBitfinex({ seed: 7, history: { durationMs: 30 * 60_000 } });
    const first = await backfill(server, { durationMs: 3_600_000 });
    const cut = first.trades[Math.floor(first.trades.length / 2)] as Trade;
    const delivered = first.trades.filter((t) => t.time === cut.time && t.id <= cut.id).map((t) => t.id);
    const log: string[] = [];
    const resumed = await backfill(
      server,
      { durationMs: 3_600_000, resumeFrom: async () => ({ time: cut.time, tradeIds: delivered }) },
      log,
    );

    expect(log.filter((l) => l.startsWith('t')).every((l) => l.split(' ')[1] === String(cut.time))).toBe(true);
    const index = first.trades.indexOf(cut);
    expect(ids(resumed.trades)).toEqual(ids(first.trades.slice(index + 1)));
    expect(resumed.trades.length).toBeGreaterThan(0);
  });

  it('a WebSocket source with history emits the past first, then connects; its trades snapshot repeats nothing', async () => {
    server = await startFakeBitfinex({ seed: 8, history: { durationMs: 20 * 60_000 }, heartbeatIntervalMs: 0 });
    source = createBitfinexWsSource({
      symbols: SYMBOLS,
      url: server.url,
      history: { durationMs: 3_600_000, restUrl: server.restUrl, ignoreRateLimit: true, batchSize: 50 },
    });
    const trades: Trade[] = [];
    source.onTrade((t) => trades.push(t));
    const startedAt = Date.now();
    await source.start();
    expect(server.connections).toBe(0);
    const result = await source.backfilled();
    const fake = server;
    const expected = expectedSince(fake, startedAt - 3_600_000);
    await fake.waitFor(() => fake.subscriptions.length === 4, 5_000);
    fake.pushTrade('tBTCUSD', [9_999_999_999, Date.now(), 0.2, 96_000]);
    await fake.waitFor(() => trades.some((t) => t.id === 9_999_999_999));

    expect(result?.emitted).toBeGreaterThan(100);
    expect(ids(trades.slice(0, result?.emitted))).toEqual(expected);
    // The snapshot (the fake's last 30 trades per symbol) was all backfilled already: only the pushed trade follows.
    expect(ids(trades.slice(result?.emitted))).toEqual(['tBTCUSD:9999999999']);
    expect(source.stats().ignored).toBeGreaterThan(0);
  });

  it('a resumed backfill with nothing new still keeps the trades snapshot from repeating what went through before', async () => {
    server = await startFakeBitfinex({ seed: 9, heartbeatIntervalMs: 0 });
    const newest = Math.max(...SYMBOLS.flatMap((s) => server?.tradeHistory(s).map((t) => t[1] as number) ?? []));
    source = createBitfinexWsSource({
      symbols: SYMBOLS,
      url: server.url,
      history: {
        durationMs: 3_600_000,
        restUrl: server.restUrl,
        ignoreRateLimit: true,
        // The last run delivered everything up to the newest trade (and that trade).
        resumeFrom: async () => ({
          time: newest,
          tradeIds: SYMBOLS.flatMap((s) => server?.tradeHistory(s) ?? [])
            .filter((t) => t[1] === newest)
            .map((t) => t[0] as number),
        }),
      },
    });
    const trades: Trade[] = [];
    source.onTrade((t) => trades.push(t));
    await source.start();
    expect((await source.backfilled())?.emitted).toBe(0);
    const fake = server;
    await fake.waitFor(() => fake.subscriptions.length === 4, 5_000);
    fake.pushTrade('tETHUSD', [9_999_999_998, Date.now(), 1, 3_600]);
    await fake.waitFor(() => trades.length > 0);
    expect(ids(trades)).toEqual(['tETHUSD:9999999998']);
  });
});
