// Tests / source contract: listeners, iterator, error isolation and backoff shared by every source.
import { describe, expect, it } from 'vitest';
import { FeedMessageError, KandleError } from '../../src/errors';
import type { Trade } from '../../src/schema/types.generated';
import {
  backoffDelay,
  FeedError,
  type MarketEvent,
  MarketSourceBase,
  resolveBackoff,
  rollingWindowWait,
  type SourceError,
  validateSymbols,
} from '../../src/sources/source';
import { MAX_REST_REQUESTS_PER_MINUTE, MIN_REST_INTERVAL_MS } from '../../src/sources/bitfinex-rest';

/** A source whose events the test pushes by hand. */
class ManualSource extends MarketSourceBase {
  protected readonly sourceName = 'manual';
  async start(): Promise<void> {
    this.setStatus('live');
  }
  async stop(): Promise<void> {
    this.setStatus('stopped');
  }
  push(trade: Trade): void {
    this.emitTrade(trade);
  }
  fail(error: SourceError): void {
    this.emitError(error);
  }
}

const trade = (id: number): Trade => ({ id, symbol: 'tBTCUSD', time: id, amount: 1, price: 10 });

describe('MarketSourceBase', () => {
  it('delivers to onTrade and onEvent in order, and unsubscribe detaches', async () => {
    const source = new ManualSource();
    const trades: number[] = [];
    const events: MarketEvent[] = [];
    const off = source.onTrade((t) => trades.push(t.id));
    source.onEvent((e) => events.push(e));
    await source.start();
    source.push(trade(1));
    off();
    source.push(trade(2));
    expect(trades).toEqual([1]);
    expect(events.map((e) => e.kind === 'trade' && e.trade.id)).toEqual([1, 2]);
    expect(source.stats().trades).toBe(2);
  });

  it('reports a throwing listener as FeedError listener-threw and keeps delivering', async () => {
    const source = new ManualSource();
    const errors: SourceError[] = [];
    const seen: number[] = [];
    source.onError((e) => errors.push(e));
    source.onTrade(() => {
      throw new Error('boom');
    });
    source.onTrade((t) => seen.push(t.id));
    source.push(trade(1));
    source.push(trade(2));
    expect(seen).toEqual([1, 2]);
    expect(errors).toHaveLength(2);
    expect(errors[0]).toBeInstanceOf(FeedError);
    expect((errors[0] as FeedError).reason).toBe('listener-threw');
    expect(errors[0]?.message).toContain('boom');
  });

  it('counts malformed messages and logs them (rate-limited) when nobody listens for errors', () => {
    const warnings: Array<[Record<string, unknown>, string | undefined]> = [];
    const ignore = () => undefined;
    const source = new ManualSource({
      debug: ignore,
      info: ignore,
      error: ignore,
      warn: (obj, msg) => warnings.push([obj, msg]),
    });
    const first = new FeedMessageError('bad', [1]);
    source.fail(first);
    source.fail(new FeedMessageError('bad again', [2]));
    expect(source.stats()).toMatchObject({ malformed: 2, errors: 2 });
    expect(warnings).toHaveLength(1);
    expect(warnings[0]?.[0]).toEqual({ err: first, code: 'FEED_MESSAGE_INVALID', retriable: false });
    expect(warnings[0]?.[1]).toContain('[manual] malformed feed message: bad');
  });

  it('iterators buffer from the moment iteration starts and finish when the source stops', async () => {
    const source = new ManualSource();
    await source.start();
    source.push(trade(1)); // before iteration: not buffered
    const iterator = source[Symbol.asyncIterator]();
    source.push(trade(2));
    source.push(trade(3));
    const first = await iterator.next();
    const second = await iterator.next();
    const pending = iterator.next();
    await source.stop();
    expect([first.value, second.value].map((e) => (e as MarketEvent & { kind: 'trade' }).trade.id)).toEqual([2, 3]);
    expect((await pending).done).toBe(true);
  });
});

describe('backoff', () => {
  it('grows by factor, caps at maxDelayMs and jitters downwards only', () => {
    const backoff = resolveBackoff(
      { initialDelayMs: 100, maxDelayMs: 1000, factor: 2, jitter: 0.5 },
      { initialDelayMs: 1, maxDelayMs: 1 },
    );
    expect([0, 1, 2, 3, 4, 10].map((attempt) => backoffDelay(backoff, attempt, () => 0))).toEqual([
      100, 200, 400, 800, 1000, 1000,
    ]);
    expect(backoffDelay(backoff, 2, () => 0.999999)).toBe(200);
    for (let i = 0; i < 100; i += 1) {
      const delay = backoffDelay(backoff, 3);
      expect(delay).toBeGreaterThanOrEqual(400);
      expect(delay).toBeLessThanOrEqual(800);
    }
  });

  it('rejects invalid policies and symbols with CONFIG_INVALID', () => {
    const defaults = { initialDelayMs: 1, maxDelayMs: 1 };
    for (const bad of [{ initialDelayMs: -1 }, { factor: 0.5 }, { jitter: 2 }, { maxDelayMs: Number.NaN }]) {
      expect(() => resolveBackoff(bad, defaults)).toThrow(KandleError);
    }
    expect(() => validateSymbols(['tBTCUSD', 'tBTCUSD'], 'x')).toThrow(/duplicates/);
    expect(() => validateSymbols(['BTC/USD'], 'x')).toThrow(/not a Bitfinex symbol/);
    expect(validateSymbols(['tBTCUSD', 'tDOGE:USD', 'fUSD'], 'x')).toEqual(['tBTCUSD', 'tDOGE:USD', 'fUSD']);
  });
});

describe('rollingWindowWait', () => {
  it('lets a request go while fewer than max started in the window, else waits for the oldest relevant one to leave', () => {
    const starts = [0, 10_000, 20_000];
    expect(rollingWindowWait(starts, 4, 60_000, 30_000)).toBe(0);
    expect(rollingWindowWait(starts, 3, 60_000, 30_000)).toBe(30_000);
    expect(rollingWindowWait(starts, 2, 60_000, 30_000)).toBe(40_000);
    expect(rollingWindowWait(starts, 3, 60_000, 60_000)).toBe(0); // the start at 0 left the window and was dropped
    expect(starts).toEqual([10_000, 20_000]);
  });

  it('keeps a REST poller at MIN_REST_INTERVAL_MS to at most 27 requests in any 60 s window, even with timers firing early', () => {
    // Simulates the poll loop: each start is interval after the previous, by a timer that may fire up to 200 ms early
    // (or a clock step): the interval alone would then allow more than 27; the rolling window must not.
    let seed = 7;
    const early = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return (seed / 2 ** 31) * 200;
    };
    const window: number[] = [];
    const all: number[] = [];
    let now = 0;
    for (let i = 0; i < 500; i += 1) {
      now += rollingWindowWait(window, MAX_REST_REQUESTS_PER_MINUTE, 60_000, now);
      window.push(now);
      all.push(now);
      now += MIN_REST_INTERVAL_MS - early();
    }
    let worst = 0;
    for (let i = 0; i < all.length; i += 1) {
      const from = all[i] as number;
      worst = Math.max(worst, all.filter((t) => t >= from && t < from + 60_000).length);
    }
    expect(worst).toBe(27);
    expect(Math.floor(60_000 / MIN_REST_INTERVAL_MS) + 1).toBeLessThanOrEqual(27);
  });
});
