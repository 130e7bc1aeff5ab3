// Tests / Bitfinex WebSocket source against a fake server that misbehaves like the live feed can: lost confirmations, 10301, silent channels, endless maintenance, conf flags.
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors';
import { BitfinexApiError } from '../../src/sources/bitfinex-frames';
import { type BitfinexWsSourceOptions, createBitfinexWsSource } from '../../src/sources/bitfinex-ws';
import { FeedError, type FeedErrorReason } from '../../src/sources/source';
import type { FakeBitfinex, FakeBitfinexOptions } from '@kandle/local-stack';
import { type Harness, openHarness, stopHarnessAfterEach } from './support/ws-harness';

stopHarnessAfterEach();

/** The shared harness with a short subscribe timeout and a delayed `tu`, so lost confirmations show quickly. */
function open(
  options: Partial<BitfinexWsSourceOptions> = {},
  serverOptions: FakeBitfinexOptions = {},
  faults: (server: FakeBitfinex) => void = () => {},
): Promise<Harness> {
  return openHarness(
    { reconnect: { initialDelayMs: 10, maxDelayMs: 40 }, subscribeTimeoutMs: 80, ...options },
    { tradeUpdateDelayMs: 10, ...serverOptions },
    faults,
  );
}

const reasons = (h: Harness): FeedErrorReason[] => h.errors.flatMap((e) => (e instanceof FeedError ? [e.reason] : []));
const hasReason = (h: Harness, reason: FeedErrorReason) => () => reasons(h).includes(reason);
const chanOf = (h: Harness, channel: 'ticker' | 'trades', symbol = 'tBTCUSD') =>
  h.server.subscriptions.find((s) => s.channel === channel && s.symbol === symbol)?.chanId;

/** Pushes a trade with a fresh id and waits until the source delivers it: proves the trades channel is routed. */
async function tradeFlows(h: Harness, id: number, symbol = 'tBTCUSD'): Promise<void> {
  h.server.pushTrade(symbol, [id, Date.now(), 0.5, 95_000]);
  await h.server.waitFor(() => h.trades.some((t) => t.id === id), 3_000);
}

describe('Bitfinex WebSocket source: subscriptions tracked by subId', () => {
  it('sends a distinct subId per channel and routes data even when the echo spells the symbol differently', async () => {
    const h = await open({ symbols: ['tBTCUSD', 'tETHUSD'] }, {}, (s) => {
      s.faults.renameEchoSymbol = true;
    });
    await h.server.waitFor(() => h.server.subscriptions.length === 4);
    const subIds = h.server.subscriptions.map((s) => s.subId);
    expect(new Set(subIds).size).toBe(4);
    expect(subIds.every((id) => typeof id === 'number')).toBe(true);
    await tradeFlows(h, 1_700_000_001, 'tETHUSD');
    await h.server.waitFor(() => h.tickers.length === 2);
    expect(h.source.stats().ignored).toBe(0);
    expect(h.errors).toEqual([]);
  });

  it('matches a subId echoed back as a string', async () => {
    const h = await open({}, {}, (s) => {
      s.faults.stringifySubId = true;
      s.faults.renameEchoSymbol = true; // so that only the subId can match
    });
    await tradeFlows(h, 1_700_000_009);
    expect(h.errors).toEqual([]);
  });

  it('falls back to channel and symbol when the server echoes no subId', async () => {
    const h = await open({}, {}, (s) => {
      s.faults.omitSubId = true;
    });
    await tradeFlows(h, 1_700_000_002);
    expect(h.errors).toEqual([]);
  });
});

describe('Bitfinex WebSocket source: subscriptions that are not confirmed', () => {
  it('retries a lost confirmation, treats the 10301 that follows by resubscribing on a fresh connection, and recovers', async () => {
    const h = await open({}, {}, (s) => {
      s.faults.neverConfirm.add('trades:tBTCUSD');
    });
    // The first subscribe is registered server-side but never confirmed; heal the server after it.
    await h.server.waitFor(() => chanOf(h, 'trades') !== undefined);
    h.server.faults.neverConfirm.clear();
    await h.server.waitFor(() => h.server.connections === 2, 3_000);
    await tradeFlows(h, 1_700_000_003);
    const duplicate = h.errors.find((e) => e instanceof BitfinexApiError);
    expect((duplicate as BitfinexApiError | undefined)?.bitfinexCode).toBe(10301);
    expect(reasons(h)).not.toContain('subscribe-timeout');
  });

  it('gives up after maxSubscribeAttempts with a typed error, and keeps the other channel running', async () => {
    const h = await open({ maxSubscribeAttempts: 3 }, {}, (s) => {
      s.faults.neverConfirm.add('trades:tBTCUSD');
    });
    await h.server.waitFor(hasReason(h, 'subscribe-timeout'), 5_000);
    const error = h.errors.find((e) => e instanceof FeedError && e.reason === 'subscribe-timeout') as FeedError;
    expect(error.details).toMatchObject({ channel: 'trades', symbol: 'tBTCUSD', attempts: 3 });
    // attempt 1 (lost) → attempt 2 (10301) → a fresh connection → attempt 3 (lost) → given up: no third connection.
    expect(h.server.connections).toBe(2);
    h.server.pushTicker('tBTCUSD', [1, 1, 2, 1, 0, 0, 1.75, 10, 2, 1]);
    await h.server.waitFor(() => h.tickers.some((t) => t.lastPrice === 1.75));
    expect(h.source.status).toBe('live');
  });

  it.each([10000, 10020])(
    'fails a subscription answered with %i at once: no retry, no fresh connection',
    async (code) => {
      const h = await open({ channels: ['trades'] }, {}, (s) => {
        s.faults.neverConfirm.add('trades:tBTCUSD');
      });
      await h.server.waitFor(() => chanOf(h, 'trades') !== undefined);
      const subId = h.server.subscriptions.find((x) => x.channel === 'trades')?.subId;
      h.server.sendRaw({ event: 'error', msg: 'request refused', code, channel: 'trades', symbol: 'tBTCUSD', subId });
      await h.server.waitFor(() => h.errors.some((e) => e instanceof BitfinexApiError && e.bitfinexCode === code));
      // Well past the 80 ms subscribe timeout: a retry would have met a 10301 and recycled the connection.
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(reasons(h)).not.toContain('subscribe-timeout');
      expect(h.server.connections).toBe(1);
    },
  );

  it('answers a 10301 for a channel it never had by resubscribing on a fresh connection', async () => {
    const h = await open({ channels: ['trades'] }, {}, (s) => {
      s.faults.alreadySubscribed.add('trades:tBTCUSD');
    });
    await h.server.waitFor(() => h.server.connections === 2, 3_000);
    await tradeFlows(h, 1_700_000_004);
    expect(
      h.errors.filter((e) => e instanceof BitfinexApiError).map((e) => (e as BitfinexApiError).bitfinexCode),
    ).toEqual([10301]);
  });
});

describe('Bitfinex WebSocket source: a channel that goes silent while others flow', () => {
  it('reports it and resubscribes it, and its data flows again', async () => {
    const h = await open({ channelSilenceMs: 150 }, { heartbeatIntervalMs: 30 });
    await h.server.waitFor(() => chanOf(h, 'trades') !== undefined && chanOf(h, 'ticker') !== undefined);
    const before = chanOf(h, 'trades');
    h.server.silence('trades', 'tBTCUSD');
    await h.server.waitFor(hasReason(h, 'channel-silent'), 3_000);
    const error = h.errors.find((e) => e instanceof FeedError && e.reason === 'channel-silent') as FeedError;
    expect(error.details).toMatchObject({ channel: 'trades', symbol: 'tBTCUSD', chanId: before });
    await h.server.waitFor(() => chanOf(h, 'trades') !== undefined && chanOf(h, 'trades') !== before);
    await tradeFlows(h, 1_700_000_005);
    expect(h.server.connections).toBe(1); // the other channel was never interrupted
  });

  it('gives a channel that stays mute maxSubscribeAttempts resubscriptions, then releases it and gives up', async () => {
    const h = await open({ channelSilenceMs: 100, maxSubscribeAttempts: 2 }, { heartbeatIntervalMs: 20 }, (s) => {
      s.faults.muteChannels.add('trades:tBTCUSD');
    });
    const gaveUp = () =>
      h.errors.some((e) => e instanceof FeedError && e.reason === 'channel-silent' && e.details.gaveUp === true);
    await h.server.waitFor(gaveUp, 5_000);
    const silent = h.errors.filter((e) => e instanceof FeedError && e.reason === 'channel-silent') as FeedError[];
    expect(silent.map((e) => e.details.resubscribes)).toEqual([0, 1, 2]);
    await h.server.waitFor(() => chanOf(h, 'trades') === undefined); // released on the server too
    h.server.pushTicker('tBTCUSD', [1, 1, 2, 1, 0, 0, 2.5, 10, 2, 1]);
    await h.server.waitFor(() => h.tickers.some((t) => t.lastPrice === 2.5));
    expect(h.server.connections).toBe(1);
  });
});

describe('Bitfinex WebSocket source: maintenance', () => {
  it('pings while paused so a quiet maintenance is not mistaken for a dead connection', async () => {
    const h = await open({ heartbeatTimeoutMs: 300, pingIntervalMs: 30, maintenanceMaxPauseMs: 60_000 });
    await h.server.waitFor(() => h.server.subscriptions.length === 2);
    h.server.sendInfo(20060);
    await h.server.waitFor(() => h.source.status === 'paused' && h.server.subscriptions.length === 0);
    // Three heartbeat timeouts' worth of maintenance: without pings the watchdog would have recycled the connection.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(reasons(h)).not.toContain('heartbeat-timeout');
    expect(h.server.connections).toBe(1);
    h.server.sendInfo(20061);
    await tradeFlows(h, 1_700_000_006);
  });

  it('notices a connection that dies during maintenance (pings unanswered) and reconnects', async () => {
    const h = await open({ heartbeatTimeoutMs: 100, pingIntervalMs: 20, maintenanceMaxPauseMs: 60_000 });
    await h.server.waitFor(() => h.server.subscriptions.length === 2);
    h.server.faults.ignorePings = true;
    h.server.sendInfo(20060);
    await h.server.waitFor(hasReason(h, 'heartbeat-timeout'), 3_000);
    await h.server.waitFor(() => h.server.connections >= 2);
  });

  it('reconnects after maintenanceMaxPauseMs when 20061 never comes, and resumes once it does', async () => {
    // The watchdog is far longer than the pause, so only the maintenance cap can end it.
    const h = await open({ maintenanceMaxPauseMs: 150, heartbeatTimeoutMs: 2_000, pingIntervalMs: 100 });
    await h.server.waitFor(() => h.server.subscriptions.length === 2);
    h.server.sendInfo(20060);
    await h.server.waitFor(hasReason(h, 'maintenance-timeout'), 3_000);
    await h.server.waitFor(() => h.server.connections >= 2);
    // The platform still reports maintenance in the new greeting: paused again, nothing subscribed.
    await h.server.waitFor(() => h.source.status === 'paused');
    expect(h.server.subscriptions).toHaveLength(0);
    h.server.sendInfo(20061);
    await tradeFlows(h, 1_700_000_007);
    expect(h.source.status).toBe('live');
  });

  it('bounds a maintenance announced by the greeting (platform status 0) the same way', async () => {
    const h = await open({ maintenanceMaxPauseMs: 100, heartbeatTimeoutMs: 2_000, pingIntervalMs: 100 }, {}, (s) =>
      s.sendInfo(20060),
    );
    await h.server.waitFor(hasReason(h, 'maintenance-timeout'), 3_000);
    expect(h.server.subscriptions).toHaveLength(0);
  });
});

describe('Bitfinex WebSocket source: conf flags', () => {
  it('asks for sequence numbers and timestamps, parses the frames that carry them, and stamps tickers with the server time', async () => {
    const before = Date.now();
    const h = await open({ sequenceNumbers: true, serverTimestamps: true }, { heartbeatIntervalMs: 20 });
    await h.server.waitFor(() => h.tickers.length === 1 && h.trades.length === 3);
    await h.server.waitFor(() => h.source.stats().heartbeats >= 4);
    await tradeFlows(h, 1_700_000_008);
    await h.server.waitFor(() => h.source.stats().ignored === 1); // the tu, parsed with its appended values
    expect(h.errors).toEqual([]);
    expect(h.tickers[0]?.eventTime).toBeGreaterThanOrEqual(before);
    expect(h.trades.map((t) => t.price).every((p) => p > 0)).toBe(true);
  });

  it('does not mistake a malformed numbered frame for a gap', async () => {
    const h = await open({ sequenceNumbers: true }, { heartbeatIntervalMs: 20 });
    await h.server.waitFor(() => h.tickers.length === 1 && h.trades.length === 3);
    h.server.pushTicker('tBTCUSD', ['not', 'a', 'ticker']); // numbered by the server like any frame
    const heartbeats = h.source.stats().heartbeats;
    await h.server.waitFor(() => h.source.stats().heartbeats >= heartbeats + 4);
    expect(reasons(h)).not.toContain('sequence-gap');
    expect(h.source.stats().malformed).toBe(1);
    expect(h.server.connections).toBe(1);
  });

  it('reports a sequence gap and reconnects', async () => {
    const h = await open({ sequenceNumbers: true }, { heartbeatIntervalMs: 0 });
    await h.server.waitFor(() => h.tickers.length === 1 && h.trades.length === 3);
    const chanId = chanOf(h, 'ticker') as number;
    h.server.sendRaw([chanId, 'hb', 1_000_000]);
    await h.server.waitFor(hasReason(h, 'sequence-gap'), 3_000);
    await h.server.waitFor(() => h.server.connections === 2);
  });
});

describe('Bitfinex WebSocket source: symbols validated up front', () => {
  it('accepts uppercase trading pairs, with or without a colon', () => {
    for (const symbol of ['tBTCUSD', 'tTESTBTC:TESTUSD', 't1INCH:USD']) {
      expect(() => createBitfinexWsSource({ symbols: [symbol] })).not.toThrow();
    }
  });

  it('refuses lowercase and prefix-less symbols, and funding symbols, with a ConfigError that says why', () => {
    expect(() => createBitfinexWsSource({ symbols: ['tbtcusd'] })).toThrow(ConfigError);
    expect(() => createBitfinexWsSource({ symbols: ['tbtcusd'] })).toThrow(/did you mean "tBTCUSD"/);
    expect(() => createBitfinexWsSource({ symbols: ['BTCUSD'] })).toThrow(/not a Bitfinex symbol/);
    expect(() => createBitfinexWsSource({ symbols: ['tBTCUSD', 'fUSD'] })).toThrow(ConfigError);
    expect(() => createBitfinexWsSource({ symbols: ['fUSD'] })).toThrow(/fUSD is a funding symbol/);
  });
});
