// Testing / fake Bitfinex: a loopback server speaking Bitfinex's REST (tickers, trades and candles history) and WebSocket v2 formats, with fault injection.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import WebSocket, { WebSocketServer } from 'ws';
import {
  CONF_FLAG_SEQ_ALL,
  CONF_FLAG_TIMESTAMP,
  tickerToWsArray,
  tradeToArray,
} from '../../core/src/sources/bitfinex-frames';
import type { MarketEvent } from '../../core/src/sources/source';
import {
  eventTime,
  SyntheticMarket,
  type SyntheticOptions,
  SyntheticSource,
  TOP_SYMBOLS,
} from '../../core/src/sources/synthetic';

/** Options of {@link startFakeBitfinex}. */
export interface FakeBitfinexOptions {
  /** Port on 127.0.0.1; 0 picks a free one. Default 0. */
  port?: number;
  /** Trading pairs the server knows (others get error 10300 / are omitted from REST). Default {@link TOP_SYMBOLS}. */
  symbols?: readonly string[];
  /**
   * A subscribed channel gets `[chanId, "hb"]` after this long without any frame on it, like Bitfinex (busy channels
   * get none); 0 disables heartbeats. Default 15 000.
   */
  heartbeatIntervalMs?: number;
  /** Delay between a trade's `te` and its `tu` (Bitfinex: 1–2 s, once the trade is stored). Default 1000. */
  tradeUpdateDelayMs?: number;
  /** Seed of the fixture prices and trades (and of autoFeed; its own `seed` is ignored). Default 1. */
  seed?: number;
  /** Trades kept per symbol and sent as the subscription snapshot. Default 30. */
  snapshotSize?: number;
  /** Push live synthetic tickers and trades to subscribers (for offline demos). Default false: data only moves when you push. */
  autoFeed?: false | Omit<SyntheticOptions, 'symbols' | 'seed'>;
  /**
   * A seeded past for the REST history endpoints: trades of every symbol over the last `durationMs` (up to a minute
   * before start), `ratePerSecond` market events over all symbols (three quarters of them trades). Default: no past,
   * the history holds the fixture and pushed trades only.
   */
  history?: { durationMs: number; ratePerSecond?: number };
}

/** A subscription as the server sees it. */
export interface FakeSubscription {
  channel: 'ticker' | 'trades';
  symbol: string;
  chanId: number;
  /** The client's `subId`, echoed in `subscribed`. */
  subId: unknown;
}

/**
 * Ways the fake may misbehave, all off by default; change them at any time through {@link FakeBitfinex.faults}.
 * Channels are named `channel:symbol`, e.g. `trades:tBTCUSD`.
 */
export interface FakeBitfinexFaults {
  /** Subscriptions to these channels are registered but never confirmed (no `subscribed`, no data). */
  neverConfirm: Set<string>;
  /** The next subscription to each of these channels is refused with 10301 (already subscribed), once. */
  alreadySubscribed: Set<string>;
  /** `subscribed` echoes carry no `subId`. */
  omitSubId: boolean;
  /** `subscribed` echoes spell the symbol differently (lowercase), as a normalising server might. */
  renameEchoSymbol: boolean;
  /** `subscribed` echoes carry the `subId` as a string. */
  stringifySubId: boolean;
  /** `ping` gets no `pong`, as on a half-open connection. */
  ignorePings: boolean;
  /** Subscriptions to these channels are confirmed, then get nothing at all: no snapshot, data or heartbeat. */
  muteChannels: Set<string>;
}

/** The bodies Bitfinex answers a rate-limited REST request with (sometimes with HTTP 200). */
export const RATE_LIMIT_BODIES = Object.freeze({
  object: JSON.stringify({ error: 'ERR_RATE_LIMIT' }),
  array: JSON.stringify(['error', 11010, 'ratelimit: error']),
});

/** Bitfinex's documented public subscription limit per connection (`ws-general`). */
export const DOCUMENTED_SUBSCRIPTION_LIMIT = 30;

/** Handle of a running fake server; see {@link startFakeBitfinex}. */
export interface FakeBitfinex {
  /** WebSocket v2 URL, e.g. `ws://127.0.0.1:PORT/ws/2`. */
  readonly url: string;
  /** REST base URL, e.g. `http://127.0.0.1:PORT` (pass as `baseUrl`). */
  readonly restUrl: string;
  /** Open WebSocket clients. */
  readonly clients: number;
  /** WebSocket connections accepted since start. */
  readonly connections: number;
  /** Active subscriptions over all clients. */
  readonly subscriptions: FakeSubscription[];
  /** REST requests served since start (including injected failures). */
  readonly restRequests: number;
  /** Misbehaviour switches; see {@link FakeBitfinexFaults}. */
  readonly faults: FakeBitfinexFaults;
  /** Sets the symbol's ticker (WS layout, 10 values; 16 for funding) for REST and sends it to its ticker subscribers. Returns the number of frames sent. */
  pushTicker(symbol: string, values: readonly unknown[]): number;
  /**
   * Adds a trade `[ID, MTS, AMOUNT, PRICE]` (funding: `[ID, MTS, AMOUNT, RATE, PERIOD]`) to the history and sends `te`
   * (`fte`) now and, unless `update: false`, `tu` (`ftu`) after `tradeUpdateDelayMs`. Returns the `te` frames sent.
   */
  pushTrade(symbol: string, values: readonly unknown[], options?: { update?: boolean }): number;
  /** Stops sending data and heartbeats on the current subscriptions to this channel (a new subscription is healthy). */
  silence(channel: 'ticker' | 'trades', symbol: string): void;
  /** Sends a frame to every client as is (a string) or JSON-encoded. */
  sendRaw(frame: unknown): void;
  /** Sends `{event:'info', code}`. 20060 also makes new connections greet (and `/v2/platform/status` answer) with status 0 until 20061. */
  sendInfo(code: number, message?: string): void;
  /** Cuts every WebSocket connection abruptly (no close frame), like a network failure. */
  dropConnections(): void;
  /**
   * The next `times` REST requests other than `/v2/platform/status` (tickers, trades and candles history) get
   * `status` with `body` (default for 429: `{"error":"ERR_RATE_LIMIT"}`) and, with `retryAfterSeconds`, a
   * `Retry-After` header.
   */
  failRest(status: number, options?: { times?: number; body?: string; retryAfterSeconds?: number }): void;
  /** Every trade of `symbol` the history endpoints know, `[ID, MTS, AMOUNT, PRICE]`, oldest first. */
  tradeHistory(symbol: string): (readonly unknown[])[];
  /** Resolves when `predicate()` holds (checked every 5 ms); rejects after `timeoutMs` (default 2000). */
  waitFor(predicate: () => boolean, timeoutMs?: number): Promise<void>;
  /** Closes every connection and the server. */
  close(): Promise<void>;
}

// Bitfinex's funding ticker layout (16 values after the symbol) differs from trading pairs; clients must skip it.
const FUNDING_SYMBOL = 'fUSD';
/** A funding ticker frame's payload as Bitfinex sends it for `fUSD` (symbol first, then 16 values). */
export const FUNDING_FIXTURE = [
  'fUSD',
  0.0002,
  0.00019,
  2,
  1_250_000,
  0.00021,
  30,
  2_000_000,
  0.00001,
  0.05,
  0.0002,
  512_345_678,
  0.0003,
  0.0001,
  null,
  null,
  10_000_000,
];

interface ClientState {
  channels: Map<number, FakeSubscription>;
  /** `conf` flags the client asked for. */
  flags: number;
  /** Last sequence number sent (with {@link CONF_FLAG_SEQ_ALL}). */
  seq: number;
}

/**
 * Starts a fake Bitfinex on 127.0.0.1 speaking the documented public formats, with the documented manners:
 * REST `GET /v2/tickers?symbols=…` and `GET /v2/platform/status`, WebSocket v2 on `/ws/2` (info greeting,
 * subscribe/subscribed with `subId` echo, unsubscribe/unsubscribed, errors 10000/10300/10301/10302/10305/10401,
 * ticker and trades snapshots, `te` then `tu` a moment later, funding `fte`/`ftu`, heartbeats only on silent
 * channels, `conf` flags for sequence numbers and timestamps, ping/pong). Faults are injected through the handle.
 *
 * @example
 * ```ts
 * const server = await startFakeBitfinex();
 * const source = createBitfinexWsSource({ symbols: ['tBTCUSD'], url: server.url });
 * await source.start();
 * await server.waitFor(() => server.subscriptions.length === 2);
 * server.pushTrade('tBTCUSD', [1, Date.now(), 0.5, 95_000]);
 * ```
 */
export async function startFakeBitfinex(options: FakeBitfinexOptions = {}): Promise<FakeBitfinex> {
  const fake = new FakeBitfinexServer(options);
  await fake.listen(options.port ?? 0);
  return fake;
}

/** The fake's market: current tickers and recent trades per symbol, seeded from the synthetic market. */
class FakeMarket {
  readonly tickers = new Map<string, readonly unknown[]>();
  readonly history = new Map<string, (readonly unknown[])[]>();
  /** Every trade per symbol (the REST history): the seeded past, the fixtures and the pushed ones. */
  readonly tradeLog = new Map<string, (readonly unknown[])[]>();

  constructor(
    fixtures: SyntheticMarket,
    symbols: readonly string[],
    private readonly snapshotSize: number,
    past: readonly MarketEvent[] = [],
  ) {
    for (const event of past) if (event.kind === 'trade') this.logTrade(event.trade.symbol, tradeToArray(event.trade));
    for (const symbol of symbols) {
      this.tickers.set(symbol, tickerToWsArray(fixtures.tickerFor(symbol, Date.now() - 30_000)));
      this.history.set(
        symbol,
        [1, 2, 3].map((i) => tradeToArray(fixtures.tradeFor(symbol, Date.now() - 30_000 + i * 1000))),
      );
    }
    for (const [symbol, trades] of this.history) for (const trade of trades) this.logTrade(symbol, trade);
    this.tickers.set(FUNDING_SYMBOL, FUNDING_FIXTURE.slice(1));
    this.history.set(FUNDING_SYMBOL, [[900_000_001, Date.now() - 20_000, 5_000, 0.0002, 2]]);
  }

  private logTrade(symbol: string, values: readonly unknown[]): void {
    const log = this.tradeLog.get(symbol) ?? [];
    log.push([...values]);
    this.tradeLog.set(symbol, log);
  }

  addTrade(symbol: string, values: readonly unknown[]): void {
    this.logTrade(symbol, values);
    const trades = this.history.get(symbol) ?? [];
    trades.push([...values]);
    if (trades.length > this.snapshotSize) trades.splice(0, trades.length - this.snapshotSize);
    this.history.set(symbol, trades);
  }

  /** What Bitfinex sends right after `subscribed`: the ticker, or recent trades newest first. */
  snapshot(channel: FakeSubscription['channel'], symbol: string): unknown {
    return channel === 'ticker' ? this.tickers.get(symbol) : [...(this.history.get(symbol) ?? [])].reverse();
  }
}

class FakeBitfinexServer implements FakeBitfinex {
  url = '';
  restUrl = '';
  readonly faults: FakeBitfinexFaults = {
    neverConfirm: new Set(),
    alreadySubscribed: new Set(),
    omitSubId: false,
    renameEchoSymbol: false,
    stringifySubId: false,
    ignorePings: false,
    muteChannels: new Set(),
  };
  private readonly heartbeatIntervalMs: number;
  private readonly tradeUpdateDelayMs: number;
  private readonly market: FakeMarket;
  private readonly http = createServer((req, res) => this.handleRest(req, res));
  private readonly wss = new WebSocketServer({ server: this.http, path: '/ws/2' });
  private readonly clientStates = new Map<WebSocket, ClientState>();
  private readonly heartbeats = new Map<FakeSubscription, NodeJS.Timeout>();
  private readonly silenced = new Set<FakeSubscription>();
  private readonly pendingUpdates = new Set<NodeJS.Timeout>();
  private readonly restFailures: { status: number; body: string; retryAfterSeconds: number | undefined }[] = [];
  private readonly feed: SyntheticSource | undefined;
  private nextChanId = 1;
  private platformStatus = 1;
  private connectionCount = 0;
  private restRequestCount = 0;
  private closed = false;

  constructor(options: FakeBitfinexOptions) {
    const symbols = [...(options.symbols ?? TOP_SYMBOLS)];
    this.heartbeatIntervalMs = options.heartbeatIntervalMs ?? 15_000;
    this.tradeUpdateDelayMs = options.tradeUpdateDelayMs ?? 1_000;
    // One simulated market feeds both the fixtures and autoFeed, so trade ids and prices continue seamlessly.
    const marketOptions = { ...(options.autoFeed || {}), symbols, seed: options.seed ?? 1 };
    const past = options.history ? seededPast(marketOptions, options.history) : { market: undefined, events: [] };
    const fixtures = past.market ?? new SyntheticMarket(marketOptions, Date.now() - 60_000);
    this.market = new FakeMarket(fixtures, symbols, options.snapshotSize ?? 30, past.events);
    this.feed = options.autoFeed ? new SyntheticSource(marketOptions, fixtures) : undefined;
    this.feed?.onEvent((event) => {
      if (event.kind === 'ticker') this.pushTicker(event.ticker.symbol, tickerToWsArray(event.ticker));
      else this.pushTrade(event.trade.symbol, tradeToArray(event.trade));
    });
    this.wss.on('connection', (socket) => this.accept(socket));
  }

  async listen(port: number): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.http.once('error', reject);
      this.http.listen(port, '127.0.0.1', () => resolve());
    });
    const address = this.http.address() as AddressInfo;
    this.url = `ws://127.0.0.1:${address.port}/ws/2`;
    this.restUrl = `http://127.0.0.1:${address.port}`;
    await this.feed?.start();
  }

  get clients(): number {
    return this.clientStates.size;
  }

  get connections(): number {
    return this.connectionCount;
  }

  get subscriptions(): FakeSubscription[] {
    return [...this.clientStates.values()].flatMap((state) => [...state.channels.values()]);
  }

  get restRequests(): number {
    return this.restRequestCount;
  }

  pushTicker(symbol: string, values: readonly unknown[]): number {
    this.market.tickers.set(symbol, [...values]);
    return this.broadcast('ticker', symbol, [values]);
  }

  pushTrade(symbol: string, values: readonly unknown[], { update = true }: { update?: boolean } = {}): number {
    this.market.addTrade(symbol, values);
    const funding = symbol.startsWith('f');
    const sent = this.broadcast('trades', symbol, [funding ? 'fte' : 'te', values]);
    if (update) {
      // Bitfinex sends `tu` once the trade is stored, 1–2 s after `te`; clients must not wait for it.
      const timer = setTimeout(() => {
        this.pendingUpdates.delete(timer);
        this.broadcast('trades', symbol, [funding ? 'ftu' : 'tu', values]);
      }, this.tradeUpdateDelayMs);
      this.pendingUpdates.add(timer);
    }
    return sent;
  }

  silence(channel: FakeSubscription['channel'], symbol: string): void {
    for (const sub of this.subscriptions) if (sub.channel === channel && sub.symbol === symbol) this.silenced.add(sub);
  }

  sendRaw(frame: unknown): void {
    for (const socket of this.clientStates.keys()) send(socket, frame);
  }

  sendInfo(code: number, message?: string): void {
    if (code === 20060) this.platformStatus = 0;
    if (code === 20061) this.platformStatus = 1;
    this.sendRaw({ event: 'info', code, msg: message ?? `info ${code}` });
  }

  dropConnections(): void {
    for (const socket of [...this.clientStates.keys()]) {
      socket.terminate();
      this.forget(socket);
    }
  }

  failRest(
    status: number,
    { times = 1, body, retryAfterSeconds }: { times?: number; body?: string; retryAfterSeconds?: number } = {},
  ): void {
    const payload =
      body ?? (status === 429 ? RATE_LIMIT_BODIES.object : JSON.stringify(['error', 10020, `HTTP ${status}`]));
    for (let i = 0; i < times; i += 1) this.restFailures.push({ status, body: payload, retryAfterSeconds });
  }

  tradeHistory(symbol: string): (readonly unknown[])[] {
    return sortedTrades(this.market.tradeLog.get(symbol) ?? [], 1);
  }

  async waitFor(predicate: () => boolean, timeoutMs = 2_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!predicate()) {
      if (Date.now() > deadline) throw new Error(`fake Bitfinex: condition not met within ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const timer of this.pendingUpdates) clearTimeout(timer);
    await this.feed?.stop();
    this.dropConnections();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
    this.http.closeAllConnections();
    await new Promise<void>((resolve) => this.http.close(() => resolve()));
  }

  private handleRest(req: IncomingMessage, res: ServerResponse): void {
    this.restRequestCount += 1;
    const json = (status: number, body: unknown, headers: Record<string, string> = {}): void => {
      res
        .writeHead(status, { 'content-type': 'application/json', ...headers })
        .end(typeof body === 'string' ? body : JSON.stringify(body));
    };
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (req.method === 'GET' && url.pathname === '/v2/platform/status') {
      json(200, [this.platformStatus]);
      return;
    }
    const failure = this.restFailures.shift();
    if (failure) {
      const retryAfter = failure.retryAfterSeconds;
      json(failure.status, failure.body, retryAfter === undefined ? {} : { 'retry-after': String(retryAfter) });
      return;
    }
    const history = req.method === 'GET' ? this.historyAnswer(url) : undefined;
    if (history) {
      json(history.status, history.body);
      return;
    }
    if (req.method !== 'GET' || url.pathname !== '/v2/tickers') {
      json(404, ['error', 10020, 'not found']);
      return;
    }
    const requested = url.searchParams.get('symbols');
    if (!requested) {
      json(500, ['error', 10020, 'symbols: invalid']);
      return;
    }
    const wanted = requested === 'ALL' ? [...this.market.tickers.keys()] : requested.split(',');
    // Unknown symbols are left out, as Bitfinex does.
    json(
      200,
      wanted.flatMap((symbol) => {
        const values = this.market.tickers.get(symbol);
        return values ? [[symbol, ...values]] : [];
      }),
    );
  }

  /**
   * `/v2/trades/{symbol}/hist` (rows `[ID, MTS, AMOUNT, PRICE]`) and `/v2/candles/trade:{TF}:{symbol}/hist` (rows
   * `[MTS, OPEN, CLOSE, HIGH, LOW, VOLUME]`) as documented: `start`/`end` in ms, both inclusive (default all / now),
   * `limit` (trades default 125, candles 100, at most 10 000), `sort` 1 oldest first, else newest first; undefined
   * for other paths.
   */
  private historyAnswer(url: URL): { status: number; body: unknown } | undefined {
    const trades = /^\/v2\/trades\/([^/]+)\/hist$/.exec(url.pathname);
    const candles = /^\/v2\/candles\/trade:(\d+[mhD]):([^/]+)\/hist$/.exec(url.pathname);
    if (!trades && !candles) return undefined;
    const symbol = decodeURIComponent((trades ? trades[1] : candles?.[2]) ?? '');
    const log = this.market.tradeLog.get(symbol);
    if (!log) return { status: 500, body: ['error', 10020, 'symbol: invalid'] };
    const query = historyQuery(url.searchParams, trades ? 125 : 100);
    if (typeof query === 'string') return { status: 500, body: ['error', 10020, query] };
    const inRange = (mts: number) => mts >= query.start && mts <= query.end;
    if (trades) {
      const rows = sortedTrades(log, query.sort).filter((t) => inRange(t[1] as number));
      return { status: 200, body: rows.slice(0, query.limit) };
    }
    const frameMs = CANDLE_FRAMES[candles?.[1] ?? ''];
    if (!frameMs) return { status: 500, body: ['error', 10020, 'timeframe: invalid'] };
    const rows = candlesOf(sortedTrades(log, 1), frameMs).filter((c) => inRange(c[0] as number));
    if (query.sort !== 1) rows.reverse();
    return { status: 200, body: rows.slice(0, query.limit) };
  }

  private accept(socket: WebSocket): void {
    this.connectionCount += 1;
    const state: ClientState = { channels: new Map(), flags: 0, seq: 0 };
    this.clientStates.set(socket, state);
    socket.on('close', () => this.forget(socket));
    socket.on('error', () => this.forget(socket));
    send(socket, {
      event: 'info',
      version: 2,
      serverId: 'kandle-fake-bitfinex',
      platform: { status: this.platformStatus },
    });
    socket.on('message', (data) => this.handleClientMessage(socket, state, String(data)));
  }

  private forget(socket: WebSocket): void {
    const state = this.clientStates.get(socket);
    for (const sub of state?.channels.values() ?? []) this.stopHeartbeat(sub);
    this.clientStates.delete(socket);
  }

  private handleClientMessage(socket: WebSocket, state: ClientState, text: string): void {
    let message: Record<string, unknown>;
    try {
      message = JSON.parse(text);
    } catch {
      send(socket, { event: 'error', msg: 'unknown event', code: 10000 });
      return;
    }
    switch (message.event) {
      case 'subscribe':
        this.subscribe(socket, state, message);
        return;
      case 'unsubscribe':
        this.unsubscribe(socket, state, message.chanId);
        return;
      case 'ping':
        if (!this.faults.ignorePings) send(socket, { event: 'pong', ts: Date.now(), cid: message.cid });
        return;
      case 'conf': {
        const flags = message.flags;
        const valid = typeof flags === 'number' && Number.isInteger(flags) && flags >= 0;
        if (valid) state.flags = flags;
        send(socket, { event: 'conf', status: valid ? 'OK' : 'FAILED', flags });
        return;
      }
      default:
        send(socket, { event: 'error', msg: 'unknown event', code: 10000 });
        return;
    }
  }

  private subscribe(socket: WebSocket, state: ClientState, message: Record<string, unknown>): void {
    const { subId } = message;
    const refusal = this.refusal(state, message.channel, message.symbol);
    if (refusal) {
      // Bitfinex echoes the request's fields in its error events.
      const { channel, symbol } = message;
      send(socket, { event: 'error', ...refusal, channel, symbol, ...(subId === undefined ? {} : { subId }) });
      return;
    }
    const channel = message.channel as FakeSubscription['channel'];
    const symbol = message.symbol as string;
    const key = `${channel}:${symbol}`;
    const sub: FakeSubscription = { channel, symbol, chanId: this.nextChanId++, subId };
    state.channels.set(sub.chanId, sub);
    if (this.faults.neverConfirm.has(key)) {
      // Registered server-side (a retry gets 10301) but the client never hears of it.
      this.silenced.add(sub);
      return;
    }
    send(socket, {
      event: 'subscribed',
      channel,
      chanId: sub.chanId,
      symbol: this.faults.renameEchoSymbol ? symbol.toLowerCase() : symbol,
      ...(symbol.startsWith('f') ? { currency: symbol.slice(1) } : { pair: symbol.slice(1) }),
      ...(subId === undefined || this.faults.omitSubId
        ? {}
        : { subId: this.faults.stringifySubId ? String(subId) : subId }),
    });
    if (this.faults.muteChannels.has(key)) this.silenced.add(sub);
    this.sendOnChannel(socket, state, sub, [this.market.snapshot(channel, symbol)]);
  }

  /** Why Bitfinex would refuse this subscription, or undefined when it is accepted. */
  private refusal(state: ClientState, channel: unknown, symbol: unknown): { code: number; msg: string } | undefined {
    if (channel !== 'ticker' && channel !== 'trades') return { code: 10302, msg: 'subscribe: invalid channel' };
    if (typeof symbol !== 'string' || !this.market.tickers.has(symbol)) return { code: 10300, msg: 'symbol: invalid' };
    const held = [...state.channels.values()].some((s) => s.channel === channel && s.symbol === symbol);
    if (this.faults.alreadySubscribed.delete(`${channel}:${symbol}`) || held)
      return { code: 10301, msg: 'subscribe: dup' };
    if (state.channels.size >= DOCUMENTED_SUBSCRIPTION_LIMIT) return { code: 10305, msg: 'subscribe: limit' };
    return undefined;
  }

  private unsubscribe(socket: WebSocket, state: ClientState, chanId: unknown): void {
    const sub = typeof chanId === 'number' ? state.channels.get(chanId) : undefined;
    if (!sub) {
      // ws-general: 10400 is a generic unsubscribe failure, 10401 "not subscribed".
      send(socket, { event: 'error', msg: 'unsubscribe: not subscribed', code: 10401, chanId });
      return;
    }
    state.channels.delete(sub.chanId);
    this.stopHeartbeat(sub);
    send(socket, { event: 'unsubscribed', status: 'OK', chanId });
  }

  /** Sends `[chanId, ...payload]` plus what the client's conf flags ask for, and restarts the channel's heartbeat timer. */
  private sendOnChannel(socket: WebSocket, state: ClientState, sub: FakeSubscription, payload: unknown[]): boolean {
    if (this.silenced.has(sub) || state.channels.get(sub.chanId) !== sub) return false;
    const frame: unknown[] = [sub.chanId, ...payload];
    if (state.flags & CONF_FLAG_SEQ_ALL) frame.push(++state.seq);
    if (state.flags & CONF_FLAG_TIMESTAMP) frame.push(Date.now());
    send(socket, frame);
    this.armHeartbeat(socket, state, sub);
    return true;
  }

  // Bitfinex sends a heartbeat on a channel only once it has been silent for the period.
  private armHeartbeat(socket: WebSocket, state: ClientState, sub: FakeSubscription): void {
    this.stopHeartbeat(sub);
    if (this.heartbeatIntervalMs <= 0 || this.closed) return;
    const timer = setTimeout(() => this.sendOnChannel(socket, state, sub, ['hb']), this.heartbeatIntervalMs);
    timer.unref();
    this.heartbeats.set(sub, timer);
  }

  private stopHeartbeat(sub: FakeSubscription): void {
    clearTimeout(this.heartbeats.get(sub));
    this.heartbeats.delete(sub);
  }

  private broadcast(channel: FakeSubscription['channel'], symbol: string, payload: unknown[]): number {
    let sent = 0;
    for (const [socket, state] of this.clientStates) {
      for (const sub of [...state.channels.values()]) {
        if (sub.channel === channel && sub.symbol === symbol && this.sendOnChannel(socket, state, sub, payload))
          sent += 1;
      }
    }
    return sent;
  }
}

/** Candle timeframes of `/v2/candles/trade:{TF}:{symbol}/hist` the fake serves, in ms. */
const CANDLE_FRAMES: Readonly<Record<string, number>> = {
  '1m': 60_000,
  '5m': 300_000,
  '15m': 900_000,
  '30m': 1_800_000,
  '1h': 3_600_000,
};

/** The history endpoints' query parameters with Bitfinex's defaults, or what is wrong with them. */
function historyQuery(
  params: URLSearchParams,
  defaultLimit: number,
): { start: number; end: number; limit: number; sort: number } | string {
  const number = (name: string, fallback: number): number => {
    const text = params.get(name);
    return text === null || text === '' ? fallback : Number(text);
  };
  const query = {
    start: number('start', 0),
    end: number('end', Date.now()),
    limit: number('limit', defaultLimit),
    sort: number('sort', -1),
  };
  if (!Number.isInteger(query.limit) || query.limit < 1 || query.limit > 10_000) return 'limit: invalid';
  if (!Number.isFinite(query.start) || !Number.isFinite(query.end)) return 'time: invalid';
  return query;
}

/** Trades `[ID, MTS, …]` by MTS then ID, oldest first for `sort` 1, else newest first. */
function sortedTrades(log: readonly (readonly unknown[])[], sort: number): (readonly unknown[])[] {
  const direction = sort === 1 ? 1 : -1;
  return [...log].sort(
    (a, b) => direction * ((a[1] as number) - (b[1] as number) || (a[0] as number) - (b[0] as number)),
  );
}

/** Folds trades (oldest first) into candles `[MTS, OPEN, CLOSE, HIGH, LOW, VOLUME]`, oldest first. */
function candlesOf(trades: readonly (readonly unknown[])[], frameMs: number): number[][] {
  const candles: number[][] = [];
  for (const [, mts, amount, price] of trades as [number, number, number, number][]) {
    const start = Math.floor(mts / frameMs) * frameMs;
    const last = candles[candles.length - 1];
    if (last && last[0] === start) {
      last[2] = price;
      last[3] = Math.max(last[3] as number, price);
      last[4] = Math.min(last[4] as number, price);
      last[5] = (last[5] as number) + Math.abs(amount);
    } else candles.push([start, price, price, price, price, Math.abs(amount)]);
  }
  return candles;
}

/** The seeded past of {@link FakeBitfinexOptions.history}, and the market that continues from it. */
function seededPast(
  options: SyntheticOptions,
  history: { durationMs: number; ratePerSecond?: number },
): { market: SyntheticMarket; events: MarketEvent[] } {
  const until = Date.now() - 60_000;
  const market = new SyntheticMarket(
    { ...options, ratePerSecond: history.ratePerSecond ?? 2 },
    until - history.durationMs,
  );
  const events: MarketEvent[] = [];
  for (let event = market.next(); eventTime(event) <= until; event = market.next()) events.push(event);
  market.setRate(options.ratePerSecond ?? 20);
  market.syncClock(until);
  return { market, events };
}

function send(socket: WebSocket, frame: unknown): void {
  if (socket.readyState === WebSocket.OPEN) socket.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
}
