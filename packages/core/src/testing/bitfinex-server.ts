// Testing / fake Bitfinex: a loopback server speaking Bitfinex's REST /v2/tickers and WebSocket v2 formats, with fault injection.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import WebSocket, { WebSocketServer } from 'ws';
import { tickerToWsArray, tradeToArray } from '../sources/bitfinex-frames';
import { SyntheticMarket, type SyntheticOptions, SyntheticSource, TOP_SYMBOLS } from '../sources/synthetic';

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
  /** `ping` gets no `pong`, as on a half-open connection. */
  ignorePings: boolean;
}

/** The bodies Bitfinex answers a rate-limited REST request with (sometimes with HTTP 200). */
export const RATE_LIMIT_BODIES = Object.freeze({
  object: JSON.stringify({ error: 'ERR_RATE_LIMIT' }),
  array: JSON.stringify(['error', 11010, 'ratelimit: error']),
});

/** Bitfinex's documented public subscription limit per connection (`ws-general`). */
export const DOCUMENTED_SUBSCRIPTION_LIMIT = 30;

/** `conf` flag: append a sequence number to every channel frame. */
export const FLAG_SEQ_ALL = 65_536;
/** `conf` flag: append a millisecond timestamp to every channel frame. */
export const FLAG_TIMESTAMP = 32_768;

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
  /** The next `times` `/v2/tickers` requests get `status` with `body` (default for 429: `{"error":"ERR_RATE_LIMIT"}`). */
  failRest(status: number, options?: { times?: number; body?: string }): void;
  /** Resolves when `predicate()` holds (checked every 5 ms); rejects after `timeoutMs` (default 2000). */
  waitFor(predicate: () => boolean, timeoutMs?: number): Promise<void>;
  /** Closes every connection and the server. */
  close(): Promise<void>;
}

// Bitfinex's funding ticker layout (16 values after the symbol) differs from trading pairs; clients must skip it.
const FUNDING_SYMBOL = 'fUSD';
const FUNDING_FIXTURE = [
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
  /** Last sequence number sent (with {@link FLAG_SEQ_ALL}). */
  seq: number;
}

interface ChannelTimers {
  heartbeat: NodeJS.Timeout | undefined;
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
  const symbols = [...(options.symbols ?? TOP_SYMBOLS)];
  const heartbeatIntervalMs = options.heartbeatIntervalMs ?? 15_000;
  const tradeUpdateDelayMs = options.tradeUpdateDelayMs ?? 1_000;
  const snapshotSize = options.snapshotSize ?? 30;
  // One simulated market feeds both the fixtures and autoFeed, so trade ids and prices continue seamlessly.
  const marketOptions = { ...(options.autoFeed || {}), symbols, seed: options.seed ?? 1 };
  const fixtures = new SyntheticMarket(marketOptions, Date.now() - 60_000);
  const tickers = new Map<string, readonly unknown[]>();
  const history = new Map<string, (readonly unknown[])[]>();
  for (const symbol of symbols) {
    tickers.set(symbol, tickerToWsArray(fixtures.tickerFor(symbol, Date.now() - 30_000)));
    history.set(
      symbol,
      [1, 2, 3].map((i) => tradeToArray(fixtures.tradeFor(symbol, Date.now() - 30_000 + i * 1000))),
    );
  }
  tickers.set(FUNDING_SYMBOL, FUNDING_FIXTURE.slice(1));
  history.set(FUNDING_SYMBOL, [[900_000_001, Date.now() - 20_000, 5_000, 0.0002, 2]]);
  const faults: FakeBitfinexFaults = {
    neverConfirm: new Set(),
    alreadySubscribed: new Set(),
    omitSubId: false,
    renameEchoSymbol: false,
    ignorePings: false,
  };
  const clients = new Map<WebSocket, ClientState>();
  const timers = new Map<FakeSubscription, ChannelTimers>();
  const silenced = new Set<FakeSubscription>();
  const pendingUpdates = new Set<NodeJS.Timeout>();
  const restFailures: { status: number; body: string }[] = [];
  let nextChanId = 1;
  let platformStatus = 1;
  let connections = 0;
  let restRequests = 0;
  let closed = false;

  const http = createServer((req, res) => {
    restRequests += 1;
    handleRest(req, res);
  });
  const wss = new WebSocketServer({ server: http, path: '/ws/2' });

  function handleRest(req: IncomingMessage, res: ServerResponse): void {
    const json = (status: number, body: unknown): void => {
      res
        .writeHead(status, { 'content-type': 'application/json' })
        .end(typeof body === 'string' ? body : JSON.stringify(body));
    };
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (req.method === 'GET' && url.pathname === '/v2/platform/status') {
      json(200, [platformStatus]);
      return;
    }
    const failure = restFailures.shift();
    if (failure) {
      json(failure.status, failure.body);
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
    const wanted = requested === 'ALL' ? [...tickers.keys()] : requested.split(',');
    const rows: unknown[] = [];
    for (const symbol of wanted) {
      const values = tickers.get(symbol);
      if (values) rows.push([symbol, ...values]);
    }
    json(200, rows);
  }

  wss.on('connection', (socket) => {
    connections += 1;
    const state: ClientState = { channels: new Map(), flags: 0, seq: 0 };
    clients.set(socket, state);
    const forget = (): void => {
      for (const sub of state.channels.values()) dropTimers(sub);
      clients.delete(socket);
    };
    socket.on('close', forget);
    socket.on('error', forget);
    send(socket, { event: 'info', version: 2, serverId: 'kandle-fake-bitfinex', platform: { status: platformStatus } });
    socket.on('message', (data) => handleClientMessage(socket, state, String(data)));
  });

  function handleClientMessage(socket: WebSocket, state: ClientState, text: string): void {
    let message: Record<string, unknown>;
    try {
      message = JSON.parse(text);
    } catch {
      send(socket, { event: 'error', msg: 'unknown event', code: 10000 });
      return;
    }
    switch (message.event) {
      case 'subscribe':
        subscribe(socket, state, message);
        return;
      case 'unsubscribe': {
        const chanId = message.chanId;
        const sub = typeof chanId === 'number' ? state.channels.get(chanId) : undefined;
        if (!sub) {
          // ws-general: 10400 is a generic unsubscribe failure, 10401 "not subscribed".
          send(socket, { event: 'error', msg: 'unsubscribe: not subscribed', code: 10401, chanId });
          return;
        }
        state.channels.delete(sub.chanId);
        dropTimers(sub);
        send(socket, { event: 'unsubscribed', status: 'OK', chanId });
        return;
      }
      case 'ping':
        if (!faults.ignorePings) send(socket, { event: 'pong', ts: Date.now(), cid: message.cid });
        return;
      case 'conf': {
        const flags = message.flags;
        if (typeof flags !== 'number' || !Number.isInteger(flags) || flags < 0) {
          send(socket, { event: 'conf', status: 'FAILED', flags });
          return;
        }
        state.flags = flags;
        send(socket, { event: 'conf', status: 'OK', flags });
        return;
      }
      default:
        send(socket, { event: 'error', msg: 'unknown event', code: 10000 });
        return;
    }
  }

  function subscribe(socket: WebSocket, state: ClientState, message: Record<string, unknown>): void {
    const { channel, symbol, subId } = message;
    // Bitfinex echoes the request's fields in its error events.
    const context = { channel, symbol, ...(subId === undefined ? {} : { subId }) };
    if (channel !== 'ticker' && channel !== 'trades') {
      send(socket, { event: 'error', msg: 'subscribe: invalid channel', code: 10302, ...context });
      return;
    }
    if (typeof symbol !== 'string' || !tickers.has(symbol)) {
      send(socket, { event: 'error', msg: 'symbol: invalid', code: 10300, ...context });
      return;
    }
    const key = `${channel}:${symbol}`;
    if (
      faults.alreadySubscribed.delete(key) ||
      [...state.channels.values()].some((s) => s.channel === channel && s.symbol === symbol)
    ) {
      send(socket, { event: 'error', msg: 'subscribe: dup', code: 10301, ...context });
      return;
    }
    if (state.channels.size >= DOCUMENTED_SUBSCRIPTION_LIMIT) {
      send(socket, { event: 'error', msg: 'subscribe: limit', code: 10305, ...context });
      return;
    }
    const sub: FakeSubscription = { channel, symbol, chanId: nextChanId++, subId };
    state.channels.set(sub.chanId, sub);
    if (faults.neverConfirm.has(key)) {
      // Registered server-side (a retry gets 10301) but the client never hears of it.
      silenced.add(sub);
      return;
    }
    const echoSymbol = faults.renameEchoSymbol ? symbol.toLowerCase() : symbol;
    send(socket, {
      event: 'subscribed',
      channel,
      chanId: sub.chanId,
      symbol: echoSymbol,
      ...(symbol.startsWith('f') ? { currency: symbol.slice(1) } : { pair: symbol.slice(1) }),
      ...(subId === undefined || faults.omitSubId ? {} : { subId }),
    });
    // Bitfinex answers a subscription with the current state: the ticker, or recent trades newest first.
    if (channel === 'ticker') sendOnChannel(socket, state, sub, [tickers.get(symbol)]);
    else sendOnChannel(socket, state, sub, [[...(history.get(symbol) ?? [])].reverse()]);
  }

  function send(socket: WebSocket, frame: unknown): void {
    if (socket.readyState === WebSocket.OPEN) socket.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  }

  /** Sends `[chanId, ...payload]` plus what the client's conf flags ask for, and restarts the channel's heartbeat timer. */
  function sendOnChannel(socket: WebSocket, state: ClientState, sub: FakeSubscription, payload: unknown[]): boolean {
    if (silenced.has(sub) || state.channels.get(sub.chanId) !== sub) return false;
    const frame: unknown[] = [sub.chanId, ...payload];
    if (state.flags & FLAG_SEQ_ALL) frame.push(++state.seq);
    if (state.flags & FLAG_TIMESTAMP) frame.push(Date.now());
    send(socket, frame);
    armHeartbeat(socket, state, sub);
    return true;
  }

  // Bitfinex sends a heartbeat on a channel only once it has been silent for the period.
  function armHeartbeat(socket: WebSocket, state: ClientState, sub: FakeSubscription): void {
    if (heartbeatIntervalMs <= 0 || closed) return;
    const entry = timers.get(sub) ?? { heartbeat: undefined };
    timers.set(sub, entry);
    clearTimeout(entry.heartbeat);
    entry.heartbeat = setTimeout(() => sendOnChannel(socket, state, sub, ['hb']), heartbeatIntervalMs);
    entry.heartbeat.unref();
  }

  function dropTimers(sub: FakeSubscription): void {
    clearTimeout(timers.get(sub)?.heartbeat);
    timers.delete(sub);
  }

  function broadcast(channel: FakeSubscription['channel'], symbol: string, payload: unknown[]): number {
    let sent = 0;
    for (const [socket, state] of clients) {
      for (const sub of [...state.channels.values()]) {
        if (sub.channel === channel && sub.symbol === symbol && sendOnChannel(socket, state, sub, payload)) sent += 1;
      }
    }
    return sent;
  }

  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const { port } = http.address() as AddressInfo;

  const handle: FakeBitfinex = {
    url: `ws://127.0.0.1:${port}/ws/2`,
    restUrl: `http://127.0.0.1:${port}`,
    faults,
    get clients() {
      return clients.size;
    },
    get connections() {
      return connections;
    },
    get subscriptions() {
      return [...clients.values()].flatMap((state) => [...state.channels.values()]);
    },
    get restRequests() {
      return restRequests;
    },
    pushTicker(symbol, values) {
      tickers.set(symbol, [...values]);
      return broadcast('ticker', symbol, [values]);
    },
    pushTrade(symbol, values, { update = true } = {}) {
      const trades = history.get(symbol) ?? [];
      trades.push([...values]);
      if (trades.length > snapshotSize) trades.splice(0, trades.length - snapshotSize);
      history.set(symbol, trades);
      const funding = symbol.startsWith('f');
      const sent = broadcast('trades', symbol, [funding ? 'fte' : 'te', values]);
      if (update) {
        // Bitfinex sends `tu` once the trade is stored, 1–2 s after `te`; clients must not wait for it.
        const timer = setTimeout(() => {
          pendingUpdates.delete(timer);
          broadcast('trades', symbol, [funding ? 'ftu' : 'tu', values]);
        }, tradeUpdateDelayMs);
        pendingUpdates.add(timer);
      }
      return sent;
    },
    silence(channel, symbol) {
      for (const sub of handle.subscriptions) if (sub.channel === channel && sub.symbol === symbol) silenced.add(sub);
    },
    sendRaw(frame) {
      for (const socket of clients.keys()) send(socket, frame);
    },
    sendInfo(code, message) {
      if (code === 20060) platformStatus = 0;
      if (code === 20061) platformStatus = 1;
      handle.sendRaw({ event: 'info', code, msg: message ?? `info ${code}` });
    },
    dropConnections() {
      for (const socket of clients.keys()) socket.terminate();
      for (const state of clients.values()) for (const sub of state.channels.values()) dropTimers(sub);
      clients.clear();
    },
    failRest(status, { times = 1, body } = {}) {
      const payload =
        body ?? (status === 429 ? RATE_LIMIT_BODIES.object : JSON.stringify(['error', 10020, `HTTP ${status}`]));
      for (let i = 0; i < times; i += 1) restFailures.push({ status, body: payload });
    },
    async waitFor(predicate, timeoutMs = 2_000) {
      const deadline = Date.now() + timeoutMs;
      while (!predicate()) {
        if (Date.now() > deadline) throw new Error(`fake Bitfinex: condition not met within ${timeoutMs} ms`);
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    },
    async close() {
      closed = true;
      for (const timer of pendingUpdates) clearTimeout(timer);
      for (const sub of [...timers.keys()]) dropTimers(sub);
      await feed?.stop();
      for (const socket of clients.keys()) socket.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };

  const feed = options.autoFeed ? new SyntheticSource(marketOptions, fixtures) : undefined;
  feed?.onEvent((event) => {
    if (event.kind === 'ticker') handle.pushTicker(event.ticker.symbol, tickerToWsArray(event.ticker));
    else handle.pushTrade(event.trade.symbol, tradeToArray(event.trade));
  });

  await feed?.start();
  return handle;
}
