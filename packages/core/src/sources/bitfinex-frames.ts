// Sources / Bitfinex frames: pure parsing and validation of Bitfinex v2 REST and WebSocket array layouts (and back).
import { FeedMessageError } from '../errors';
import type { Ticker, Trade } from '../schema/types.generated';
import { FeedError, tickerProblem, tradeProblem } from './source';

/** The public WebSocket channels kandle understands. */
export type BitfinexChannel = 'ticker' | 'trades';

/** What a WebSocket channel id stands for, as confirmed by a `subscribed` event. */
export interface BitfinexChannelRef {
  channel: BitfinexChannel;
  symbol: string;
}

/** Meaning of the Bitfinex error / info codes the sources react to (from the v2 docs). */
export const BITFINEX_CODES = {
  10000: 'unknown event',
  10001: 'unknown pair',
  10020: 'request parameters error (e.g. invalid symbol)',
  10300: 'subscription failed (generic)',
  10301: 'already subscribed',
  10302: 'unknown channel',
  10305: 'reached limit of open channels',
  10400: 'unsubscription failed (generic)',
  10401: 'not subscribed',
  11010: 'rate limit reached (wait before retrying; the IP may be blocked for 60 s)',
  20051: 'stop/restart websocket server (reconnect)',
  20060: 'entering maintenance mode (pause activity)',
  20061: 'maintenance ended (resubscribe)',
} as const satisfies Record<number, string>;

/**
 * Bitfinex answered with an error: a WebSocket `{event:'error', code, msg}` (10300 subscription failed,
 * 10301 already subscribed, 10302 unknown channel, …) or a REST body `["error", code, msg]`.
 *
 * @example
 * ```ts
 * source.onError((e) => { if (e instanceof BitfinexApiError && e.bitfinexCode === 10302) fixConfig() });
 * ```
 */
export class BitfinexApiError extends FeedError {
  /** Bitfinex's numeric code; see {@link BITFINEX_CODES}. */
  readonly bitfinexCode: number;
  readonly channel: string | undefined;
  readonly symbol: string | undefined;

  constructor(
    bitfinexCode: number,
    message: string,
    context: { channel?: string | undefined; symbol?: string | undefined } = {},
  ) {
    const where = [context.channel, context.symbol].filter((part) => part !== undefined).join(' ');
    super('api-error', `Bitfinex error ${bitfinexCode}: ${message}${where ? ` (${where})` : ''}`, {
      details: { bitfinexCode, ...context },
    });
    this.bitfinexCode = bitfinexCode;
    this.channel = context.channel;
    this.symbol = context.symbol;
  }
}

/** Number of values in a WebSocket ticker update: `[BID, BID_SIZE, ASK, ASK_SIZE, DAILY_CHANGE, DAILY_CHANGE_RELATIVE, LAST_PRICE, VOLUME, HIGH, LOW]`. */
export const TICKER_FIELD_COUNT = 10;
/** Number of values in a trade: `[ID, MTS, AMOUNT, PRICE]`. */
export const TRADE_FIELD_COUNT = 4;

/**
 * Decodes a Bitfinex trading-pair ticker array (WebSocket layout, i.e. REST without the leading symbol).
 * Extra trailing values are ignored so that fields Bitfinex may append do not break the feed.
 *
 * @param symbol - the pair the array belongs to, e.g. `tBTCUSD`
 * @param values - `[BID, BID_SIZE, ASK, ASK_SIZE, DAILY_CHANGE, DAILY_CHANGE_RELATIVE, LAST_PRICE, VOLUME, HIGH, LOW]`
 * @param now - becomes `eventTime` (Bitfinex tickers carry no timestamp)
 * @throws FeedMessageError when the layout or a value is invalid
 * @example
 * ```ts
 * parseTickerArray('tBTCUSD', [94990, 12.5, 95000, 8.1, 1200, 0.0128, 95000, 4321.9, 96000, 93000], Date.now());
 * ```
 */
export function parseTickerArray(symbol: string, values: unknown, now: number): Ticker {
  if (!Array.isArray(values) || values.length < TICKER_FIELD_COUNT) {
    throw new FeedMessageError(`ticker for ${symbol} must be an array of ${TICKER_FIELD_COUNT} numbers`, values);
  }
  const [bid, bidSize, ask, askSize, dailyChange, dailyChangeRelative, lastPrice, volume, high, low] =
    values as unknown[];
  const ticker = {
    symbol,
    bid,
    bidSize,
    ask,
    askSize,
    dailyChange,
    dailyChangeRelative,
    lastPrice,
    volume,
    high,
    low,
    eventTime: now,
  } as Ticker;
  const problem = tickerProblem(ticker);
  if (problem) throw new FeedMessageError(`ticker for ${symbol}: ${problem}`, values);
  return ticker;
}

/**
 * Decodes a Bitfinex trading-pair trade array `[ID, MTS, AMOUNT, PRICE]` (negative amount = sell).
 *
 * @throws FeedMessageError when the layout or a value is invalid
 * @example
 * ```ts
 * parseTradeArray('tBTCUSD', [1650000001, 1732500000000, -0.05, 95010]); // { id, symbol, time, amount, price }
 * ```
 */
export function parseTradeArray(symbol: string, values: unknown): Trade {
  if (!Array.isArray(values) || values.length < TRADE_FIELD_COUNT) {
    throw new FeedMessageError(`trade for ${symbol} must be an array [ID, MTS, AMOUNT, PRICE]`, values);
  }
  const [id, time, amount, price] = values as unknown[];
  const trade = { id, symbol, time, amount, price } as Trade;
  const problem = tradeProblem(trade);
  if (problem) throw new FeedMessageError(`trade for ${symbol}: ${problem}`, values);
  return trade;
}

/** Result of {@link parseRestTickers}: one bad row never hides the good ones. */
export interface RestTickersResult {
  tickers: Ticker[];
  /** Rows of funding symbols (`f…`), whose layout differs; skipped. */
  funding: number;
  /** One error per row that did not match the trading-pair layout. */
  malformed: FeedMessageError[];
}

/**
 * Decodes the body of `GET /v2/tickers?symbols=…`: an array of
 * `[SYMBOL, BID, BID_SIZE, ASK, ASK_SIZE, DAILY_CHANGE, DAILY_CHANGE_RELATIVE, LAST_PRICE, VOLUME, HIGH, LOW]`.
 *
 * @param now - becomes every ticker's `eventTime` (the time the response was received)
 * @throws BitfinexApiError for an error body (`["error", code, msg]`, `{"error": …}`); FeedMessageError when the body is not an array
 * @example
 * ```ts
 * const { tickers, funding, malformed } = parseRestTickers(await res.json(), Date.now());
 * ```
 */
export function parseRestTickers(json: unknown, now: number): RestTickersResult {
  const apiError = restErrorOf(json);
  if (apiError) throw apiError;
  if (!Array.isArray(json)) throw new FeedMessageError('tickers response must be an array of arrays', json);
  const result: RestTickersResult = { tickers: [], funding: 0, malformed: [] };
  for (const row of json) {
    if (!Array.isArray(row) || typeof row[0] !== 'string') {
      result.malformed.push(new FeedMessageError('tickers row must start with a symbol string', row));
      continue;
    }
    const symbol = row[0];
    if (symbol.startsWith('f')) {
      result.funding += 1;
      continue;
    }
    try {
      result.tickers.push(parseTickerArray(symbol, row.slice(1), now));
    } catch (error) {
      result.malformed.push(error as FeedMessageError);
    }
  }
  return result;
}

/** Bitfinex's rate-limit error code (`["error", 11010, "ratelimit: error"]`). */
export const RATE_LIMIT_CODE = 11010;

/**
 * Internal: a BitfinexApiError when `json` is one of Bitfinex's REST error bodies, whatever the HTTP status came with
 * it: `["error", code, msg]` (the code may be `null`, then `bitfinexCode` is 0) or `{"error": "ERR_RATE_LIMIT"}`
 * (then `bitfinexCode` is {@link RATE_LIMIT_CODE}).
 */
export function restErrorOf(json: unknown): BitfinexApiError | undefined {
  if (Array.isArray(json) && json[0] === 'error' && (typeof json[1] === 'number' || json[1] === null)) {
    return new BitfinexApiError(json[1] ?? 0, typeof json[2] === 'string' ? json[2] : 'unknown error');
  }
  if (json !== null && typeof json === 'object' && !Array.isArray(json)) {
    const error = (json as { error?: unknown }).error;
    if (error === 'ERR_RATE_LIMIT') return new BitfinexApiError(RATE_LIMIT_CODE, 'ERR_RATE_LIMIT');
    if (typeof error === 'string') return new BitfinexApiError(0, error);
  }
  return undefined;
}

/** `conf` flag: Bitfinex appends a sequence number to every channel frame. */
export const CONF_FLAG_SEQ_ALL = 65_536;
/** `conf` flag: Bitfinex appends a millisecond timestamp to every channel frame. */
export const CONF_FLAG_TIMESTAMP = 32_768;

/**
 * What `conf` flags appended to a channel frame, after its documented fields: the sequence number first, then the
 * timestamp (when both flags are on). Absent when the flag is off or the frame carries none yet.
 */
export interface ChannelFrameMeta {
  seq?: number;
  ts?: number;
}

/** A decoded WebSocket v2 message. */
export type BitfinexWsFrame = BitfinexEventFrame | (BitfinexChannelFrame & ChannelFrameMeta);

type BitfinexEventFrame =
  /** `{event:'info'}`: greeting (version, platform status) or a code such as 20051/20060/20061. */
  | { type: 'info'; version?: number; platformStatus?: number; code?: number; message?: string }
  /** `subId` is the client's own id echoed back, when the server echoes one. */
  | { type: 'subscribed'; channel: string; chanId: number; symbol: string; subId?: unknown }
  | { type: 'unsubscribed'; chanId: number }
  | { type: 'error'; error: BitfinexApiError; subId?: unknown }
  /** `{event:'conf', status, flags}`: the answer to a flags request. */
  | { type: 'conf'; ok: boolean; flags: number | undefined }
  /** Any other event (`pong`, …); nothing to do. */
  | { type: 'event'; event: string };

type BitfinexChannelFrame =
  | { type: 'heartbeat'; chanId: number }
  | { type: 'ticker'; chanId: number; ticker: Ticker }
  /** A snapshot (oldest first) or one `te` trade. */
  | { type: 'trades'; chanId: number; trades: Trade[]; snapshot: boolean }
  /** A `tu` trade update: the same trade as its `te`, re-sent with the final id; not delivered. */
  | { type: 'trade-update'; chanId: number }
  /** Data for a channel id that is not (or no longer) subscribed. */
  | { type: 'unknown-channel'; chanId: number };

/**
 * Decodes one WebSocket v2 text frame.
 *
 * @param text - the raw frame
 * @param channelOf - resolves a channel id to what it was subscribed as
 * @param now - becomes `eventTime` of tickers, unless the frame carries a timestamp (conf flag TIMESTAMP)
 * @param flags - the `conf` flags in force, so that appended sequence numbers and timestamps are read, not mistaken for data
 * @throws FeedMessageError for invalid JSON or a layout that matches no documented message
 * @example
 * ```ts
 * const frame = parseWsFrame('[17,"hb"]', (id) => channels.get(id), Date.now()); // { type: 'heartbeat', chanId: 17 }
 * parseWsFrame('[17,"hb",42]', (id) => channels.get(id), Date.now(), CONF_FLAG_SEQ_ALL); // { …, seq: 42 }
 * ```
 */
export function parseWsFrame(
  text: string,
  channelOf: (chanId: number) => BitfinexChannelRef | undefined,
  now: number,
  flags = 0,
): BitfinexWsFrame {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    throw new FeedMessageError('frame is not valid JSON', text);
  }
  if (Array.isArray(data)) return parseChannelFrame(data, channelOf, now, flags);
  if (data !== null && typeof data === 'object') return parseEvent(data as Record<string, unknown>);
  throw new FeedMessageError('frame must be an event object or a channel array', text);
}

function parseEvent(event: Record<string, unknown>): BitfinexWsFrame {
  const name = event.event;
  if (typeof name !== 'string') throw new FeedMessageError('event object without an "event" name', event);
  switch (name) {
    case 'info': {
      const platform = event.platform as { status?: unknown } | undefined;
      return {
        type: 'info',
        ...(typeof event.version === 'number' ? { version: event.version } : {}),
        ...(typeof platform?.status === 'number' ? { platformStatus: platform.status } : {}),
        ...(typeof event.code === 'number' ? { code: event.code } : {}),
        ...(typeof event.msg === 'string' ? { message: event.msg } : {}),
      };
    }
    case 'subscribed':
      if (typeof event.channel !== 'string' || !isChanId(event.chanId) || typeof event.symbol !== 'string') {
        throw new FeedMessageError('subscribed event needs channel, chanId and symbol', event);
      }
      return {
        type: 'subscribed',
        channel: event.channel,
        chanId: event.chanId,
        symbol: event.symbol,
        ...(event.subId === undefined ? {} : { subId: event.subId }),
      };
    case 'unsubscribed':
      if (!isChanId(event.chanId)) throw new FeedMessageError('unsubscribed event needs a chanId', event);
      return { type: 'unsubscribed', chanId: event.chanId };
    case 'error':
      return {
        type: 'error',
        error: new BitfinexApiError(
          typeof event.code === 'number' ? event.code : 0,
          typeof event.msg === 'string' ? event.msg : 'unknown error',
          {
            channel: typeof event.channel === 'string' ? event.channel : undefined,
            symbol: typeof event.symbol === 'string' ? event.symbol : undefined,
          },
        ),
        ...(event.subId === undefined ? {} : { subId: event.subId }),
      };
    case 'conf':
      return {
        type: 'conf',
        ok: event.status === 'OK',
        flags: typeof event.flags === 'number' ? event.flags : undefined,
      };
    default:
      return { type: 'event', event: name };
  }
}

function parseChannelFrame(
  frame: unknown[],
  channelOf: (chanId: number) => BitfinexChannelRef | undefined,
  now: number,
  flags: number,
): BitfinexWsFrame {
  const [chanId, second, third] = frame;
  if (!isChanId(chanId) || frame.length < 2) throw new FeedMessageError('channel frame must be [chanId, …]', frame);
  // `hb`, `te`, `tu` (and funding `fte`, `ftu`) carry their data in the third slot; everything else in the second.
  const meta = frameMeta(frame, typeof second === 'string' && second !== 'hb' ? 3 : 2, flags);
  if (second === 'hb') return { type: 'heartbeat', chanId, ...meta };
  const ref = channelOf(chanId);
  if (!ref) return { type: 'unknown-channel', chanId, ...meta };
  // Funding tickers (16 values) and trades (`fte` with RATE and PERIOD) would pass as trading data if decoded here.
  if (!ref.symbol.startsWith('t'))
    throw new FeedMessageError(`${ref.symbol} is not a trading pair; funding frames are not supported`, frame);
  if (ref.channel === 'ticker') {
    return { type: 'ticker', chanId, ticker: parseTickerArray(ref.symbol, second, meta.ts ?? now), ...meta };
  }
  if (second === 'te')
    return { type: 'trades', chanId, trades: [parseTradeArray(ref.symbol, third)], snapshot: false, ...meta };
  if (second === 'tu') {
    parseTradeArray(ref.symbol, third);
    return { type: 'trade-update', chanId, ...meta };
  }
  if (Array.isArray(second)) {
    const trades = second.map((row) => parseTradeArray(ref.symbol, row));
    // Bitfinex sends snapshots newest first; downstream candles want event-time order.
    trades.sort((a, b) => a.time - b.time || a.id - b.id);
    return { type: 'trades', chanId, trades, snapshot: true, ...meta };
  }
  throw new FeedMessageError(`unexpected ${ref.channel} frame for ${ref.symbol}`, frame);
}

/** Reads what the `conf` flags appended after the `payloadEnd` documented values; later extra values are ignored. */
function frameMeta(frame: unknown[], payloadEnd: number, flags: number): ChannelFrameMeta {
  const meta: ChannelFrameMeta = {};
  let at = payloadEnd;
  if (flags & CONF_FLAG_SEQ_ALL) {
    const seq = frame[at++];
    if (seq !== undefined && !(typeof seq === 'number' && Number.isSafeInteger(seq)))
      throw new FeedMessageError('sequence number must be an integer', frame);
    if (seq !== undefined) meta.seq = seq;
  }
  if (flags & CONF_FLAG_TIMESTAMP) {
    const ts = frame[at];
    if (ts !== undefined && !(typeof ts === 'number' && Number.isSafeInteger(ts) && ts > 0))
      throw new FeedMessageError('frame timestamp must be Unix ms', frame);
    if (ts !== undefined) meta.ts = ts;
  }
  return meta;
}

function isChanId(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

/** Encodes a ticker in the WebSocket layout (inverse of {@link parseTickerArray}); used by the fake server and recorders. */
export function tickerToWsArray(ticker: Ticker): number[] {
  return [
    ticker.bid,
    ticker.bidSize,
    ticker.ask,
    ticker.askSize,
    ticker.dailyChange,
    ticker.dailyChangeRelative,
    ticker.lastPrice,
    ticker.volume,
    ticker.high,
    ticker.low,
  ];
}

/** Encodes a ticker in the REST `/v2/tickers` row layout (symbol first). */
export function tickerToRestArray(ticker: Ticker): [string, ...number[]] {
  return [ticker.symbol, ...tickerToWsArray(ticker)];
}

/** Encodes a trade as `[ID, MTS, AMOUNT, PRICE]` (inverse of {@link parseTradeArray}). */
export function tradeToArray(trade: Trade): [number, number, number, number] {
  return [trade.id, trade.time, trade.amount, trade.price];
}
