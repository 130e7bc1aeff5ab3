// Tests / Bitfinex WebSocket source against the loopback fake server: subscribe, data, faults, reconnects, maintenance.
import { describe, expect, it } from 'vitest';
import { FeedMessageError, KandleError } from '../../src/errors';
import { BitfinexApiError } from '../../src/sources/bitfinex-frames';
import { type BitfinexWsSourceOptions, createBitfinexWsSource } from '../../src/sources/bitfinex-ws';
import { FeedError, type SourceError } from '../../src/sources/source';
import type { FakeBitfinexOptions } from '@kandle/local-stack';
import { type Harness, openHarness, stopHarnessAfterEach } from './support/ws-harness';

stopHarnessAfterEach();

/** Starts a fake server and a source subscribed to it, and waits until every subscription is confirmed. */
async function connect(
  options: Partial<BitfinexWsSourceOptions> = {},
  serverOptions: FakeBitfinexOptions = {},
  expectedSubscriptions = (options.symbols ?? ['tBTCUSD']).length * (options.channels ?? ['ticker', 'trades']).length,
): Promise<Harness> {
  const harness = await openHarness(options, serverOptions);
  await harness.server.waitFor(() => harness.server.subscriptions.length === expectedSubscriptions);
  return harness;
}

const subscribed = (h: Harness, count: number) => () =>
  h.server.subscriptions.length === count && h.statuses.at(-1) === 'live';

describe('createBitfinexWsSource', () => {
  it('subscribes ticker + trades per symbol and delivers typed snapshots and updates; tu is ignored', async () => {
    const h = await connect({ symbols: ['tBTCUSD', 'tETHUSD'] }, { tradeUpdateDelayMs: 20 });
    expect(h.server.subscriptions.map((s) => `${s.channel}:${s.symbol}`).sort()).toEqual([
      'ticker:tBTCUSD',
      'ticker:tETHUSD',
      'trades:tBTCUSD',
      'trades:tETHUSD',
    ]);
    // Snapshots: one ticker per symbol, 3 fixture trades per symbol, oldest first.
    await h.server.waitFor(() => h.tickers.length === 2 && h.trades.length === 6);
    const btcTrades = h.trades.filter((t) => t.symbol === 'tBTCUSD');
    expect(btcTrades.map((t) => t.time)).toEqual([...btcTrades.map((t) => t.time)].sort((a, b) => a - b));

    const now = Date.now();
    h.server.pushTicker('tETHUSD', [3499, 10, 3500, 11, 50, 0.0145, 3500.5, 99_000, 3600, 3400]);
    expect(h.server.pushTrade('tETHUSD', [9_000_000_001, now, -1.25, 3500.5])).toBe(1); // te now, tu 20 ms later
    await h.server.waitFor(() => h.trades.length === 7 && h.tickers.length === 3);
    expect(h.tickers.at(-1)).toMatchObject({ symbol: 'tETHUSD', lastPrice: 3500.5, high: 3600, low: 3400 });
    expect(h.tickers.at(-1)?.eventTime).toBeGreaterThanOrEqual(now);
    expect(h.trades.at(-1)).toEqual({ id: 9_000_000_001, symbol: 'tETHUSD', time: now, amount: -1.25, price: 3500.5 });
    await h.server.waitFor(() => h.source.stats().ignored === 1); // the tu copy arrived…
    expect(h.trades).toHaveLength(7); // …and was not delivered
    expect(h.source.stats()).toMatchObject({ tickers: 3, trades: 7, ignored: 1, malformed: 0 });
    expect(h.errors).toEqual([]);
  });

  it('honours the channels option', async () => {
    const h = await connect({ channels: ['trades'] });
    expect(h.server.subscriptions.map((s) => s.channel)).toEqual(['trades']);
  });

  it('counts heartbeats', async () => {
    const h = await connect({}, { heartbeatIntervalMs: 10 });
    await h.server.waitFor(() => h.source.stats().heartbeats >= 4);
  });

  it('counts and reports garbage frames without crashing, then keeps delivering', async () => {
    const h = await connect();
    const tickerChan = h.server.subscriptions.find((s) => s.channel === 'ticker')?.chanId as number;
    h.server.sendRaw('not json {');
    h.server.sendRaw({ hello: 'world' });
    h.server.sendRaw([tickerChan, ['a', 'b']]);
    h.server.sendRaw([tickerChan, 'te', [1, 2, 3, 4]]);
    h.server.sendRaw([987_654, [1, 2]]); // unknown channel: ignored, not malformed
    h.server.sendRaw(Buffer.from([0xff, 0xfe]).toString('latin1'));
    h.server.pushTicker('tBTCUSD', [1, 1, 2, 1, 0, 0, 1.5, 10, 2, 1]);
    await h.server.waitFor(() => h.tickers.some((t) => t.lastPrice === 1.5));
    const stats = h.source.stats();
    expect(stats.malformed).toBe(5);
    expect(stats.ignored).toBe(1);
    expect(h.errors.filter((e) => e instanceof FeedMessageError)).toHaveLength(5);
    expect(h.source.status).toBe('live');
  });

  it('reconnects after a dropped connection, resubscribes, and does not re-deliver snapshot trades', async () => {
    const h = await connect();
    await h.server.waitFor(() => h.trades.length === 3);
    h.server.dropConnections();
    await h.server.waitFor(() => h.server.connections === 2 && h.server.subscriptions.length === 2);
    await h.server.waitFor(subscribed(h, 2));
    expect(h.statuses).toContain('reconnecting');
    expect(h.source.stats().reconnects).toBe(1);
    h.server.pushTrade('tBTCUSD', [1_700_000_000_000, Date.now(), 0.1, 95_000]);
    await h.server.waitFor(() => h.trades.length === 4);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(h.trades.map((t) => t.id)).toEqual([...new Set(h.trades.map((t) => t.id))]);
    expect(h.source.stats().ignored).toBeGreaterThanOrEqual(3); // the repeated snapshot trades
  });

  it('reconnects on info 20051 (server restart)', async () => {
    const h = await connect();
    h.server.sendInfo(20051);
    await h.server.waitFor(() => h.server.connections === 2 && h.server.subscriptions.length === 2);
    expect(h.source.stats().reconnects).toBe(1);
  });

  it('pauses and unsubscribes on 20060, resubscribes on 20061', async () => {
    const h = await connect({ symbols: ['tBTCUSD', 'tSOLUSD'] });
    h.server.sendInfo(20060);
    await h.server.waitFor(() => h.server.subscriptions.length === 0);
    expect(h.source.status).toBe('paused');
    h.server.sendInfo(20061);
    await h.server.waitFor(() => h.server.subscriptions.length === 4);
    expect(h.source.status).toBe('live');
    expect(h.server.connections).toBe(1);
    h.server.pushTrade('tSOLUSD', [1_800_000_999, Date.now(), 3, 181]);
    await h.server.waitFor(() => h.trades.some((t) => t.id === 1_800_000_999));
  });

  it('starts paused when the greeting announces maintenance (platform status 0)', async () => {
    // No clients yet when the fault runs: it only flips the platform status for new greetings.
    const h = await openHarness({}, {}, (server) => server.sendInfo(20060));
    const s = h.server;
    await s.waitFor(() => h.source.status === 'paused');
    expect(s.subscriptions).toHaveLength(0);
    s.sendInfo(20061);
    await s.waitFor(() => s.subscriptions.length === 2);
  });

  it('reports subscription errors as BitfinexApiError and keeps the other channels running', async () => {
    const h = await connect({ symbols: ['tBTCUSD', 'tNOPEUSD'] }, {}, 2);
    await h.server.waitFor(() => h.errors.length === 2);
    for (const error of h.errors) {
      expect(error).toBeInstanceOf(BitfinexApiError);
      expect((error as BitfinexApiError).bitfinexCode).toBe(10300);
      expect((error as BitfinexApiError).symbol).toBe('tNOPEUSD');
    }
    h.server.sendRaw({ event: 'error', msg: 'subscribe: invalid channel', code: 10302, channel: 'book' });
    await h.server.waitFor(() => h.errors.length === 3);
    expect((h.errors[2] as BitfinexApiError).bitfinexCode).toBe(10302);
    h.server.pushTrade('tBTCUSD', [1_600_009_999, Date.now(), 1, 95_000]);
    await h.server.waitFor(() => h.trades.some((t) => t.id === 1_600_009_999));
    expect(h.source.status).toBe('live');
  });

  it('recycles a silent connection after the heartbeat timeout', async () => {
    const h = await connect({ heartbeatTimeoutMs: 80 });
    await h.server.waitFor(() => h.server.connections >= 2, 3000);
    const timeout = h.errors.find((e) => e instanceof FeedError && e.reason === 'heartbeat-timeout');
    expect(timeout).toBeDefined();
    await h.server.waitFor(() => h.server.subscriptions.length === 2);
  });

  it('does not recycle a connection that receives heartbeats', async () => {
    const h = await connect({ heartbeatTimeoutMs: 80 }, { heartbeatIntervalMs: 20 });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(h.server.connections).toBe(1);
    expect(h.source.stats().reconnects).toBe(0);
  });

  it('rejects start() after startTimeoutMs when nothing answers, and is stopped', async () => {
    const source = createBitfinexWsSource({
      symbols: ['tBTCUSD'],
      url: 'ws://127.0.0.1:9/ws/2',
      startTimeoutMs: 150,
      reconnect: { initialDelayMs: 10, maxDelayMs: 20 },
    });
    const errors: SourceError[] = [];
    source.onError((e) => errors.push(e));
    await expect(source.start()).rejects.toBeInstanceOf(FeedError);
    expect(source.status).toBe('stopped');
    expect(errors.length).toBeGreaterThan(0);
    expect(errors.every((e) => e instanceof FeedError && e.reason === 'network')).toBe(true);
  });

  it('enforces the public API limits at construction', () => {
    const thirteen = Array.from({ length: 13 }, (_, i) => `tC${i}USD`);
    expect(() => createBitfinexWsSource({ symbols: thirteen })).toThrow(/25 subscriptions/);
    expect(() => createBitfinexWsSource({ symbols: thirteen, channels: ['ticker'] })).not.toThrow();
    expect(() => createBitfinexWsSource({ symbols: ['fUSD'] })).toThrow(KandleError);
    expect(() => createBitfinexWsSource({ symbols: ['tBTCUSD'], channels: ['book' as 'ticker'] })).toThrow(/channels/);
    expect(() => createBitfinexWsSource({ symbols: ['tBTCUSD'], maxSubscriptions: 30 })).toThrow(/maxSubscriptions/);
    expect(() => createBitfinexWsSource({ symbols: ['tBTCUSD'], url: 'https://api-pub.bitfinex.com/ws/2' })).toThrow(
      /ws:\/\//,
    );
  });

  it('works as an async iterator that ends on stop()', async () => {
    const h = await connect({ channels: ['trades'] });
    // The server counts a subscription when it answers; the source routes the channel once it has read that answer,
    // which the snapshot right behind it proves.
    await h.server.waitFor(() => h.trades.length > 0);
    const ids: number[] = [];
    const consumer = (async () => {
      for await (const event of h.source) if (event.kind === 'trade') ids.push(event.trade.id);
    })();
    h.server.pushTrade('tBTCUSD', [1_600_100_000, Date.now(), 1, 95_000]);
    await h.server.waitFor(() => ids.length === 1);
    await h.source.stop();
    await consumer;
    expect(ids).toEqual([1_600_100_000]);
    expect(h.server.clients).toBe(0);
  });
});

describe('startFakeBitfinex autoFeed', () => {
  it('streams synthetic data to WebSocket subscribers and keeps REST tickers current', async () => {
    const h = await connect({ symbols: ['tBTCUSD', 'tETHUSD'] }, { autoFeed: { ratePerSecond: 400 }, seed: 5 });
    await h.server.waitFor(() => h.trades.length > 20 && h.tickers.length > 6);
    const ids = h.trades.filter((t) => t.symbol === 'tBTCUSD').map((t) => t.id);
    expect(ids).toEqual([...ids].sort((a, b) => a - b));
    const response = await fetch(`${h.server.restUrl}/v2/tickers?symbols=tBTCUSD,fUSD,tNOPE`);
    const rows = (await response.json()) as unknown[][];
    expect(rows.map((r) => r[0])).toEqual(['tBTCUSD', 'fUSD']);
    expect(rows[0]).toHaveLength(11);
    expect(h.errors).toEqual([]);
  });
});
