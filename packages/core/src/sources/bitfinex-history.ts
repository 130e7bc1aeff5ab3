// Sources / Bitfinex history: pages Bitfinex's public trades history by time and emits it in event-time order (the backfill before live).
import { FeedMessageError } from '../errors';
import type { Trade } from '../schema/types.generated';
import { parseTradeArray } from './bitfinex-frames';
import { BITFINEX_REST_URL } from './bitfinex-rest';
import { BitfinexRestClient, restBaseUrl } from './bitfinex-rest-client';
import { type HistoryOptions, type ResolvedHistory, resolveHistory, yieldToEventLoop } from './history';
import { type BackoffOptions, configError, requirePositive, resolveBackoff, type SourceError } from './source';

/** Most rows Bitfinex returns per `/v2/trades/{symbol}/hist` request (its documented `limit` maximum). */
export const MAX_TRADES_PAGE = 10_000;

/**
 * Default requests per rolling minute of the backfill. Bitfinex limits each public REST endpoint separately (the
 * history endpoints to a few tens per minute) and blocks the IP for 60 s past it; 10 stays well below.
 */
export const HISTORY_REQUESTS_PER_MINUTE = 10;

/** Where a backfill resumes: at `time`, skipping the trades of that millisecond that already went through. */
export interface HistoryResumePoint {
  /** Event time (Unix ms) of the newest trade already delivered downstream (e.g. the newest record of the trades topic). */
  time: number;
  /** Ids of trades at exactly `time` already delivered; other trades of that millisecond are fetched again. */
  tradeIds?: readonly number[];
}

/** The Bitfinex WebSocket source's backfill: {@link HistoryOptions} plus how to reach and page the REST history. */
export interface BitfinexHistoryOptions extends HistoryOptions {
  /** REST base URL. Default {@link BITFINEX_REST_URL}. */
  restUrl?: string;
  /** Trades per request, 1–{@link MAX_TRADES_PAGE}. Default {@link MAX_TRADES_PAGE} (fewest requests). */
  pageSize?: number;
  /** Requests (status checks included) per rolling minute. Default {@link HISTORY_REQUESTS_PER_MINUTE}. */
  maxRequestsPerMinute?: number;
  /** Lifts `maxRequestsPerMinute` (local servers, tests). Default false. */
  ignoreRateLimit?: boolean;
  /** Minimum wait after HTTP 429 / `ERR_RATE_LIMIT` (11010); a larger `Retry-After` wins. Default 60 000. */
  rateLimitCooldownMs?: number;
  /** Delay growth after failed requests (network, 5xx, error bodies). Default initial 10 s, max 120 s. */
  backoff?: BackoffOptions;
  /** Abort a request after this long. Default 10 000. */
  requestTimeoutMs?: number;
  /** HTTP client. Default the global `fetch`. */
  fetch?: typeof fetch;
  /**
   * Asked once at start: where the last run got to. The backfill starts at the later of `now − durationMs` and this
   * point, so a restart does not fetch (and produce) again what already went through. Default: nothing to resume.
   */
  resumeFrom?: () => Promise<HistoryResumePoint | undefined>;
  /**
   * The backfill's first round covers up to the moment it started; if it took longer than this, one more round
   * fetches the trades of that time, so the live feed's snapshot (Bitfinex's last 30 trades) has only seconds to
   * cover. Default 5000.
   */
  catchUpAfterMs?: number;
}

/** What a finished backfill delivered. */
export interface BackfillResult {
  /** Trades emitted. */
  emitted: number;
  /** REST requests sent (retries and status checks included). */
  requests: number;
  /** Highest trade id emitted per symbol (the live feed skips snapshot trades up to it). */
  lastTradeIds: Map<string, number>;
  /** The time range covered, Unix ms, both inclusive; `from > to` when there was nothing to fetch. */
  from: number;
  to: number;
}

/** Internal: {@link BitfinexHistoryOptions} with defaults applied and validated. */
export interface ResolvedBitfinexHistory extends ResolvedHistory {
  options: BitfinexHistoryOptions;
  pageSize: number;
  catchUpAfterMs: number;
}

/** Internal: fills the defaults of {@link BitfinexHistoryOptions}; throws CONFIG_INVALID on bad values. */
export function resolveBitfinexHistory(options: BitfinexHistoryOptions | undefined): ResolvedBitfinexHistory {
  const pageSize = options?.pageSize ?? MAX_TRADES_PAGE;
  if (!Number.isSafeInteger(pageSize) || pageSize < 1 || pageSize > MAX_TRADES_PAGE)
    throw configError(`history.pageSize must be an integer within 1–${MAX_TRADES_PAGE}`, { pageSize });
  const catchUpAfterMs = options?.catchUpAfterMs ?? 5_000;
  requirePositive('history.catchUpAfterMs', catchUpAfterMs, true);
  requirePositive('history.maxRequestsPerMinute', options?.maxRequestsPerMinute ?? HISTORY_REQUESTS_PER_MINUTE);
  restBaseUrl(options?.restUrl ?? BITFINEX_REST_URL);
  return { ...resolveHistory(options), options: options ?? {}, pageSize, catchUpAfterMs };
}

/** One symbol's position in the history: its fetched, not yet emitted page and where the next page starts. */
interface Cursor {
  symbol: string;
  page: Trade[];
  /** `start` of the next request (inclusive). */
  start: number;
  /** No more trades up to the round's end. */
  exhausted: boolean;
  /** Event time of the last trade emitted, and the ids emitted at that millisecond (the next page repeats it). */
  boundaryTime: number;
  boundaryIds: Set<number>;
}

/**
 * Internal: fetches `GET /v2/trades/{symbol}/hist?start=&end=&limit=&sort=1` for every symbol, page by page (each
 * page starts at the last trade's MTS; trades repeated at that millisecond are dropped by id), and emits the trades
 * of all symbols merged in event-time order, one page per symbol in memory. Requests go through the rate-limited
 * {@link BitfinexRestClient}; after `batchSize` trades it yields and awaits `pause`.
 */
export async function backfillTrades(
  symbols: readonly string[],
  history: ResolvedBitfinexHistory,
  handlers: { emit(trade: Trade): void; onError(error: SourceError): void; signal: AbortSignal },
): Promise<BackfillResult> {
  const { options } = history;
  let requests = 0;
  const client = new BitfinexRestClient({
    baseUrl: restBaseUrl(options.restUrl ?? BITFINEX_REST_URL),
    maxPerMinute: options.ignoreRateLimit
      ? Number.POSITIVE_INFINITY
      : (options.maxRequestsPerMinute ?? HISTORY_REQUESTS_PER_MINUTE),
    backoff: resolveBackoff(options.backoff, { initialDelayMs: 10_000, maxDelayMs: 120_000 }),
    rateLimitCooldownMs: options.rateLimitCooldownMs ?? 60_000,
    requestTimeoutMs: options.requestTimeoutMs ?? 10_000,
    ...(options.fetch ? { fetch: options.fetch } : {}),
    signal: handlers.signal,
  });
  const resume = await options.resumeFrom?.();
  const now = Date.now();
  const from = Math.max(now - history.durationMs, resume ? resume.time : Number.NEGATIVE_INFINITY);
  const cursors: Cursor[] = symbols.map((symbol) => ({
    symbol,
    page: [],
    start: from,
    exhausted: false,
    boundaryTime: resume?.time ?? from,
    boundaryIds: new Set(resume?.tradeIds ?? []),
  }));
  const result: BackfillResult = { emitted: 0, requests: 0, lastTradeIds: new Map(), from, to: from - 1 };
  const fetchPage = async (cursor: Cursor, end: number): Promise<void> => {
    const path = `/v2/trades/${encodeURIComponent(cursor.symbol)}/hist?start=${cursor.start}&end=${end}&limit=${history.pageSize}&sort=1`;
    const rows = await client.get(path, {
      parse: (json) => parseTradesPage(cursor.symbol, json, handlers.onError),
      onError: handlers.onError,
      onAttempt: () => {
        requests += 1;
      },
    });
    advance(cursor, rows ?? [], history.pageSize);
  };
  result.emitted += await mergeRound(cursors, now, fetchPage, history, handlers, result.lastTradeIds);
  result.to = now;
  if (!handlers.signal.aborted && Date.now() - now > history.catchUpAfterMs) {
    // One catch-up round: the trades that happened while the first round ran (`end` was inclusive: start after it).
    const end = Date.now();
    for (const cursor of cursors) {
      cursor.exhausted = false;
      cursor.start = cursor.boundaryTime === now ? now : now + 1;
    }
    result.emitted += await mergeRound(cursors, end, fetchPage, history, handlers, result.lastTradeIds);
    result.to = end;
  }
  result.requests = requests;
  return result;
}

/** Emits every trade of every cursor up to `end`, merged by (time, id); returns how many. */
async function mergeRound(
  cursors: Cursor[],
  end: number,
  fetchPage: (cursor: Cursor, end: number) => Promise<void>,
  history: ResolvedHistory,
  handlers: { emit(trade: Trade): void; signal: AbortSignal },
  lastTradeIds: Map<string, number>,
): Promise<number> {
  let emitted = 0;
  for (;;) {
    // Every symbol that may still have trades needs its next page before the oldest head is known.
    for (const cursor of cursors) {
      while (cursor.page.length === 0 && !cursor.exhausted && !handlers.signal.aborted) await fetchPage(cursor, end);
    }
    if (handlers.signal.aborted) return emitted;
    let oldest: Cursor | undefined;
    for (const cursor of cursors) {
      const head = cursor.page[0];
      const best = oldest?.page[0];
      if (head && (!best || head.time < best.time || (head.time === best.time && head.id < best.id))) oldest = cursor;
    }
    if (!oldest) return emitted;
    const trade = oldest.page.shift() as Trade;
    if (trade.time !== oldest.boundaryTime) {
      oldest.boundaryTime = trade.time;
      oldest.boundaryIds.clear();
    }
    oldest.boundaryIds.add(trade.id);
    lastTradeIds.set(trade.symbol, Math.max(trade.id, lastTradeIds.get(trade.symbol) ?? trade.id));
    handlers.emit(trade);
    if (++emitted % history.batchSize === 0) {
      await yieldToEventLoop();
      await history.pause();
    }
  }
}

/** Takes a fetched page into the cursor: drops what was already emitted, sets where the next page starts. */
function advance(cursor: Cursor, rows: Trade[], pageSize: number): void {
  const fresh = rows.filter(
    (t) => t.time > cursor.boundaryTime || (t.time === cursor.boundaryTime && !cursor.boundaryIds.has(t.id)),
  );
  cursor.page = fresh;
  const last = rows[rows.length - 1];
  // A short page is the last one up to `end`.
  cursor.exhausted = rows.length < pageSize || !last;
  if (!last) return;
  // The next page starts at the last MTS again (more trades may share it); a full page of one millisecond could
  // never move on, so then the next one starts a millisecond later.
  cursor.start = last.time > cursor.start || fresh.length > 0 ? last.time : last.time + 1;
}

/** The rows of one trades page in (time, id) order; malformed rows are reported and skipped. */
function parseTradesPage(symbol: string, json: unknown, onError: (error: SourceError) => void): Trade[] | undefined {
  if (!Array.isArray(json)) {
    onError(new FeedMessageError(`trades history of ${symbol} must be an array of [ID, MTS, AMOUNT, PRICE]`, json));
    return undefined;
  }
  const trades: Trade[] = [];
  for (const row of json) {
    try {
      trades.push(parseTradeArray(symbol, row));
    } catch (error) {
      onError(error as SourceError);
    }
  }
  return trades.sort((a, b) => a.time - b.time || a.id - b.id);
}
