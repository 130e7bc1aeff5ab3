// Tests / Bitfinex frames: documented layouts decode to typed values; anything else is a FeedMessageError.
import { describe, expect, it } from 'vitest';
import { FeedMessageError } from '../../src/errors';
import { FUNDING_FIXTURE } from '@kandle/local-stack';
import {
  BitfinexApiError,
  type BitfinexChannelRef,
  CONF_FLAG_SEQ_ALL,
  CONF_FLAG_TIMESTAMP,
  parseRestTickers,
  parseTickerArray,
  parseTradeArray,
  parseWsFrame,
  tickerToRestArray,
  tickerToWsArray,
  tradeToArray,
} from '../../src/sources/bitfinex-frames';

const NOW = 1_732_500_000_123;
const BTC_TICKER = [94990, 12.5, 95000, 8.1, 1200, 0.0128, 95000, 4321.9, 96000, 93000];

describe('parseTickerArray', () => {
  it('maps the 10 documented positions to named fields with eventTime = now', () => {
    expect(parseTickerArray('tBTCUSD', BTC_TICKER, NOW)).toEqual({
      symbol: 'tBTCUSD',
      bid: 94990,
      bidSize: 12.5,
      ask: 95000,
      askSize: 8.1,
      dailyChange: 1200,
      dailyChangeRelative: 0.0128,
      lastPrice: 95000,
      volume: 4321.9,
      high: 96000,
      low: 93000,
      eventTime: NOW,
    });
  });

  it('ignores values appended after the documented ones', () => {
    expect(parseTickerArray('tBTCUSD', [...BTC_TICKER, 42, null], NOW).low).toBe(93000);
  });

  it.each([
    ['not an array', { bid: 1 }],
    ['too short', BTC_TICKER.slice(0, 9)],
    ['a string value', ['94990', ...BTC_TICKER.slice(1)]],
    ['null value', [...BTC_TICKER.slice(0, 7), null, ...BTC_TICKER.slice(8)]],
    ['NaN', [Number.NaN, ...BTC_TICKER.slice(1)]],
    ['Infinity', [...BTC_TICKER.slice(0, 9), Number.POSITIVE_INFINITY]],
    ['last price 0', [...BTC_TICKER.slice(0, 6), 0, ...BTC_TICKER.slice(7)]],
  ])('rejects %s with a FeedMessageError', (_name, values) => {
    expect(() => parseTickerArray('tBTCUSD', values, NOW)).toThrow(FeedMessageError);
  });

  it('round-trips through tickerToWsArray and tickerToRestArray', () => {
    const ticker = parseTickerArray('tETHUSD', BTC_TICKER, NOW);
    expect(tickerToWsArray(ticker)).toEqual(BTC_TICKER);
    expect(tickerToRestArray(ticker)).toEqual(['tETHUSD', ...BTC_TICKER]);
  });
});

describe('parseTradeArray', () => {
  it('maps [ID, MTS, AMOUNT, PRICE] and keeps the sign of sells', () => {
    expect(parseTradeArray('tBTCUSD', [1650000001, 1732500000000, -0.05, 95010])).toEqual({
      id: 1650000001,
      symbol: 'tBTCUSD',
      time: 1732500000000,
      amount: -0.05,
      price: 95010,
    });
    expect(tradeToArray(parseTradeArray('tBTCUSD', [7, 8, 0.5, 9]))).toEqual([7, 8, 0.5, 9]);
  });

  it.each([
    ['too short', [1, 2, 3]],
    ['fractional id', [1.5, 1732500000000, 1, 100]],
    ['string time', [1, '1732500000000', 1, 100]],
    ['negative price', [1, 1732500000000, 1, -100]],
    ['NaN amount', [1, 1732500000000, Number.NaN, 100]],
    ['not an array', 'te'],
  ])('rejects %s', (_name, values) => {
    expect(() => parseTradeArray('tBTCUSD', values)).toThrow(FeedMessageError);
  });
});

describe('parseRestTickers', () => {
  const funding = [
    'fUSD',
    0.0002,
    0.00019,
    2,
    1e6,
    0.00021,
    30,
    2e6,
    0,
    0,
    0.0002,
    5e8,
    0.0003,
    0.0001,
    null,
    null,
    1e7,
  ];

  it('decodes trading rows, counts funding rows and reports bad rows without dropping good ones', () => {
    const result = parseRestTickers(
      [['tBTCUSD', ...BTC_TICKER], funding, ['tETHUSD', 'oops'], 17, ['tSOLUSD', ...BTC_TICKER.map((v) => v / 500)]],
      NOW,
    );
    expect(result.tickers.map((t) => t.symbol)).toEqual(['tBTCUSD', 'tSOLUSD']);
    expect(result.tickers[1]?.lastPrice).toBeCloseTo(190);
    expect(result.tickers.every((t) => t.eventTime === NOW)).toBe(true);
    expect(result.funding).toBe(1);
    expect(result.malformed).toHaveLength(2);
    expect(result.malformed.every((e) => e instanceof FeedMessageError)).toBe(true);
  });

  it('throws BitfinexApiError for an error body and FeedMessageError for a non-array', () => {
    expect(() => parseRestTickers(['error', 10020, 'symbols: invalid'], NOW)).toThrow(BitfinexApiError);
    try {
      parseRestTickers(['error', 10020, 'symbols: invalid'], NOW);
    } catch (error) {
      expect((error as BitfinexApiError).bitfinexCode).toBe(10020);
    }
    expect(() => parseRestTickers({ tickers: [] }, NOW)).toThrow(FeedMessageError);
  });

  it('reads every documented error body as one BitfinexApiError, never as rows', () => {
    const codeOf = (body: unknown): number => {
      try {
        parseRestTickers(body, NOW);
      } catch (error) {
        expect(error).toBeInstanceOf(BitfinexApiError);
        return (error as BitfinexApiError).bitfinexCode;
      }
      throw new Error('no error thrown');
    };
    expect(codeOf({ error: 'ERR_RATE_LIMIT' })).toBe(11010);
    expect(codeOf(['error', 11010, 'ratelimit: error'])).toBe(11010);
    expect(codeOf(['error', null, 'platform in maintenance'])).toBe(0);
    expect(codeOf(['error', 20060, 'maintenance'])).toBe(20060);
  });
});

describe('parseWsFrame', () => {
  const channels = new Map<number, BitfinexChannelRef>([
    [17, { channel: 'ticker', symbol: 'tBTCUSD' }],
    [18, { channel: 'trades', symbol: 'tBTCUSD' }],
  ]);
  const parse = (frame: unknown): ReturnType<typeof parseWsFrame> =>
    parseWsFrame(typeof frame === 'string' ? frame : JSON.stringify(frame), (id) => channels.get(id), NOW);

  it('decodes events', () => {
    expect(parse({ event: 'info', version: 2, platform: { status: 1 } })).toEqual({
      type: 'info',
      version: 2,
      platformStatus: 1,
    });
    expect(parse({ event: 'info', code: 20051, msg: 'restart' })).toEqual({
      type: 'info',
      code: 20051,
      message: 'restart',
    });
    expect(parse({ event: 'subscribed', channel: 'trades', chanId: 18, symbol: 'tBTCUSD', pair: 'BTCUSD' })).toEqual({
      type: 'subscribed',
      channel: 'trades',
      chanId: 18,
      symbol: 'tBTCUSD',
    });
    expect(parse({ event: 'unsubscribed', status: 'OK', chanId: 18 })).toEqual({ type: 'unsubscribed', chanId: 18 });
    expect(parse({ event: 'pong', cid: 1 })).toEqual({ type: 'event', event: 'pong' });
  });

  it('turns error events into BitfinexApiError with code, channel and symbol', () => {
    const frame = parse({ event: 'error', msg: 'symbol: invalid', code: 10300, channel: 'ticker', symbol: 'tNOPE' });
    expect(frame.type).toBe('error');
    if (frame.type !== 'error') return;
    expect(frame.error).toBeInstanceOf(BitfinexApiError);
    expect(frame.error.bitfinexCode).toBe(10300);
    expect(frame.error.symbol).toBe('tNOPE');
    expect(frame.error.channel).toBe('ticker');
    expect(frame.error.message).toContain('symbol: invalid');
  });

  it('decodes heartbeats, tickers, te, tu and snapshots (oldest first)', () => {
    expect(parse([17, 'hb'])).toEqual({ type: 'heartbeat', chanId: 17 });
    const ticker = parse([17, BTC_TICKER]);
    expect(ticker.type === 'ticker' && ticker.ticker.lastPrice).toBe(95000);
    expect(parse([18, 'te', [5, 1000, 0.1, 95000]])).toEqual({
      type: 'trades',
      chanId: 18,
      snapshot: false,
      trades: [{ id: 5, symbol: 'tBTCUSD', time: 1000, amount: 0.1, price: 95000 }],
    });
    expect(parse([18, 'tu', [5, 1000, 0.1, 95000]])).toEqual({ type: 'trade-update', chanId: 18 });
    const snapshot = parse([
      18,
      [
        [3, 3000, 1, 10],
        [2, 2000, -1, 11],
        [1, 1000, 1, 12],
      ],
    ]);
    expect(snapshot.type === 'trades' && snapshot.snapshot && snapshot.trades.map((t) => t.id)).toEqual([1, 2, 3]);
    expect(parse([18, []])).toEqual({ type: 'trades', chanId: 18, trades: [], snapshot: true });
    expect(parse([99, BTC_TICKER])).toEqual({ type: 'unknown-channel', chanId: 99 });
  });

  it.each([
    ['invalid JSON', 'not json {'],
    ['a bare number', '42'],
    ['an event without a name', { foo: 1 }],
    ['a subscribed event without chanId', { event: 'subscribed', channel: 'ticker', symbol: 'tBTCUSD' }],
    ['a string chanId', ['17', 'hb']],
    ['a one-element array', [17]],
    ['a bad ticker', [17, [1, 2, 3]]],
    ['a bad te', [18, 'te', [1, 2]]],
    ['a bad snapshot row', [18, [[1, 1000, 1, 10], 'x']]],
    ['an unknown trades verb', [18, 'zz', [1, 1000, 1, 10]]],
  ])('rejects %s with FeedMessageError', (_name, frame) => {
    expect(() => parse(frame)).toThrow(FeedMessageError);
  });
});

describe('parseWsFrame with conf flags and funding channels', () => {
  const channels = new Map<number, BitfinexChannelRef>([
    [17, { channel: 'ticker', symbol: 'tBTCUSD' }],
    [18, { channel: 'trades', symbol: 'tBTCUSD' }],
    [19, { channel: 'ticker', symbol: 'fUSD' }],
  ]);
  const BOTH = CONF_FLAG_SEQ_ALL | CONF_FLAG_TIMESTAMP;
  const parse = (frame: unknown, flags = 0): ReturnType<typeof parseWsFrame> =>
    parseWsFrame(JSON.stringify(frame), (id) => channels.get(id), NOW, flags);

  it('reads the appended sequence number, then the timestamp, which becomes the ticker eventTime', () => {
    const ts = NOW - 5_000;
    expect(parse([17, BTC_TICKER, 41, ts], BOTH)).toMatchObject({
      type: 'ticker',
      seq: 41,
      ts,
      ticker: { eventTime: ts },
    });
    expect(parse([18, 'te', [7, NOW, 1, 95_000], 42, ts], BOTH)).toMatchObject({ type: 'trades', seq: 42, ts });
    expect(parse([18, 'tu', [7, NOW, 1, 95_000], 43], CONF_FLAG_SEQ_ALL)).toEqual({
      type: 'trade-update',
      chanId: 18,
      seq: 43,
    });
    expect(parse([18, 'hb', 44, ts], BOTH)).toEqual({ type: 'heartbeat', chanId: 18, seq: 44, ts });
    expect(parse([17, BTC_TICKER, ts], CONF_FLAG_TIMESTAMP)).toMatchObject({ ts, ticker: { eventTime: ts } });
  });

  it('leaves appended values alone without the flags, and rejects a non-numeric sequence number', () => {
    expect(parse([17, BTC_TICKER, 41, NOW - 5_000])).toMatchObject({ ticker: { eventTime: NOW } });
    expect(() => parse([18, 'hb', 'x'], CONF_FLAG_SEQ_ALL)).toThrow(FeedMessageError);
  });

  it('refuses funding frames instead of decoding them as trading data', () => {
    const fundingTicker = FUNDING_FIXTURE.slice(1);
    expect(() => parse([19, fundingTicker])).toThrow(/funding frames are not supported/);
    expect(() => parse([18, 'fte', [7, NOW, 1000, 0.0002, 2]])).toThrow(FeedMessageError);
  });

  it('decodes the subId of subscribed and error events', () => {
    expect(parse({ event: 'subscribed', channel: 'trades', chanId: 18, symbol: 'tBTCUSD', subId: 3 })).toMatchObject({
      subId: 3,
    });
    expect(
      parse({ event: 'error', code: 10301, msg: 'dup', channel: 'trades', symbol: 'tBTCUSD', subId: 3 }),
    ).toMatchObject({
      type: 'error',
      subId: 3,
    });
  });
});
