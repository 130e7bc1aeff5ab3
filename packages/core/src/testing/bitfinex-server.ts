// Testing / fake Bitfinex: a loopback server speaking Bitfinex's REST /v2/tickers and WebSocket v2 formats, with fault injection.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import WebSocket, { WebSocketServer } from 'ws';
import { tickerToWsArray, tradeToArray } from '../sources/bitfinex-frames';
import { MAX_PUBLIC_SUBSCRIPTIONS } from '../sources/bitfinex-ws';
import { SyntheticMarket, type SyntheticOptions, SyntheticSource, TOP_SYMBOLS } from '../sources/synthetic';

/** Options of {@link startFakeBitfinex}. */
export interface FakeBitfinexOptions {
  /** Port on 127.0.0.1; 0 picks a free one. Default 0. */
  port?: number;
  /** Trading pairs the server knows (others get error 10300 / are omitted from REST). Default {@link TOP_SYMBOLS}. */
  symbols?: readonly string[];
  /** Heartbeat `[chanId, "hb"]` period per subscribed channel; 0 disables heartbeats. Default 15 000, like Bitfinex. */
  heartbeatIntervalMs?: number;
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
}

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
  /** Sets the symbol's ticker (WS layout, 10 values) for REST and sends it to its ticker subscribers. Returns the number of frames sent. */
  pushTicker(symbol: string, values: readonly unknown[]): number;
  /** Adds a trade `[ID, MTS, AMOUNT, PRICE]` to the history and sends `te` then (unless `update: false`) `tu` to subscribers. Returns frames sent. */
  pushTrade(symbol: string, values: readonly unknown[], options?: { update?: boolean }): number;
  /** Sends a frame to every client as is (a string) or JSON-encoded. */
  sendRaw(frame: unknown): void;
  /** Sends `{event:'info', code}`. 20060 also makes new connections greet with platform status 0 until 20061. */
  sendInfo(code: number, message?: string): void;
  /** Cuts every WebSocket connection abruptly (no close frame), like a network failure. */
  dropConnections(): void;
  /** The next `times` REST requests get `status` with `body` (default for 429: `{"error":"ERR_RATE_LIMIT"}`). */
  failRest(status: number, options?: { times?: number; body?: string }): void;
  /** Resolves when `predicate()` holds (checked every 5 ms); rejects after `timeoutMs` (default 2000). */
  waitFor(predicate: () => boolean, timeoutMs?: number): Promise<void>;
  /** Closes every connection and the server. */
  close(): Promise<void>;
}

// Bitfinex's funding ticker layout differs from trading pairs; clients must skip it.
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
}

/**
 * Starts a fake Bitfinex on 127.0.0.1 speaking exactly the documented public formats:
 * REST `GET /v2/tickers?symbols=…` and WebSocket v2 on `/ws/2` (info greeting, subscribe/subscribed,
 * unsubscribe/unsubscribed, error 10300/10301/10302/10305, ticker and trades snapshots, `te`/`tu`,
 * heartbeats, ping/pong). Faults are injected through the returned handle.
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
  const clients = new Map<WebSocket, ClientState>();
  const restFailures: { status: number; body: string }[] = [];
  let nextChanId = 1;
  let platformStatus = 1;
  let connections = 0;
  let restRequests = 0;

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
    const failure = restFailures.shift();
    if (failure) {
      json(failure.status, failure.body);
      return;
    }
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (req.method !== 'GET' || url.pathname !== '/v2/tickers') {
      json(404, ['error', 10020, 'not found']);
      return;
    }
    const requested = url.searchParams.get('symbols');
    if (!requested) {
      json(500, ['error', 10020, 'symbols: invalid']);
      return;
    }
    const wanted = requested === 'ALL' ? [...tickers.keys(), 'fUSD'] : requested.split(',');
    const rows: unknown[] = [];
    for (const symbol of wanted) {
      const values = tickers.get(symbol);
      if (values) rows.push([symbol, ...values]);
      else if (symbol === FUNDING_FIXTURE[0]) rows.push(FUNDING_FIXTURE);
    }
    json(200, rows);
  }

  wss.on('connection', (socket) => {
    connections += 1;
    const state: ClientState = { channels: new Map() };
    clients.set(socket, state);
    socket.on('close', () => clients.delete(socket));
    socket.on('error', () => clients.delete(socket));
    send(socket, { event: 'info', version: 2, serverId: 'kandle-fake-bitfinex', platform: { status: platformStatus } });
    socket.on('message', (data) => handleClientMessage(socket, state, String(data)));
  });

  function handleClientMessage(socket: WebSocket, state: ClientState, text: string): void {
    let message: {
      event?: unknown;
      channel?: unknown;
      symbol?: unknown;
      chanId?: unknown;
      cid?: unknown;
      flags?: unknown;
    };
    try {
      message = JSON.parse(text);
    } catch {
      send(socket, { event: 'error', msg: 'unknown event', code: 10000 });
      return;
    }
    switch (message.event) {
      case 'subscribe':
        subscribe(socket, state, message.channel, message.symbol);
        return;
      case 'unsubscribe': {
        const chanId = message.chanId;
        if (typeof chanId !== 'number' || !state.channels.delete(chanId)) {
          send(socket, { event: 'error', msg: 'unsubscribe: invalid', code: 10400, chanId });
          return;
        }
        send(socket, { event: 'unsubscribed', status: 'OK', chanId });
        return;
      }
      case 'ping':
        send(socket, { event: 'pong', ts: Date.now(), cid: message.cid });
        return;
      case 'conf':
        send(socket, { event: 'conf', status: 'OK', flags: message.flags });
        return;
      default:
        send(socket, { event: 'error', msg: 'unknown event', code: 10000 });
        return;
    }
  }

  function subscribe(socket: WebSocket, state: ClientState, channel: unknown, symbol: unknown): void {
    const context = { channel, symbol };
    if (channel !== 'ticker' && channel !== 'trades') {
      send(socket, { event: 'error', msg: 'subscribe: invalid channel', code: 10302, ...context });
      return;
    }
    if (typeof symbol !== 'string' || !tickers.has(symbol)) {
      send(socket, { event: 'error', msg: 'symbol: invalid', code: 10300, ...context });
      return;
    }
    if ([...state.channels.values()].some((s) => s.channel === channel && s.symbol === symbol)) {
      send(socket, { event: 'error', msg: 'subscribe: dup', code: 10301, ...context });
      return;
    }
    if (state.channels.size >= MAX_PUBLIC_SUBSCRIPTIONS) {
      send(socket, { event: 'error', msg: 'subscribe: limit', code: 10305, ...context });
      return;
    }
    const chanId = nextChanId++;
    state.channels.set(chanId, { channel, symbol, chanId });
    send(socket, { event: 'subscribed', channel, chanId, symbol, pair: symbol.slice(1) });
    // Bitfinex answers a subscription with the current state: the ticker, or recent trades newest first.
    if (channel === 'ticker') send(socket, [chanId, tickers.get(symbol)]);
    else send(socket, [chanId, [...(history.get(symbol) ?? [])].reverse()]);
  }

  function send(socket: WebSocket, frame: unknown): void {
    if (socket.readyState === WebSocket.OPEN) socket.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  }

  function broadcast(
    channel: FakeSubscription['channel'],
    symbol: string,
    payload: (chanId: number) => unknown[],
  ): number {
    let sent = 0;
    for (const [socket, state] of clients) {
      for (const sub of state.channels.values()) {
        if (sub.channel === channel && sub.symbol === symbol) {
          send(socket, payload(sub.chanId));
          sent += 1;
        }
      }
    }
    return sent;
  }

  const heartbeat =
    heartbeatIntervalMs > 0
      ? setInterval(() => {
          for (const [socket, state] of clients)
            for (const chanId of state.channels.keys()) send(socket, [chanId, 'hb']);
        }, heartbeatIntervalMs)
      : undefined;
  heartbeat?.unref();

  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const { port } = http.address() as AddressInfo;

  const handle: FakeBitfinex = {
    url: `ws://127.0.0.1:${port}/ws/2`,
    restUrl: `http://127.0.0.1:${port}`,
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
      return broadcast('ticker', symbol, (chanId) => [chanId, values]);
    },
    pushTrade(symbol, values, { update = true } = {}) {
      const trades = history.get(symbol) ?? [];
      trades.push([...values]);
      if (trades.length > snapshotSize) trades.splice(0, trades.length - snapshotSize);
      history.set(symbol, trades);
      return (
        broadcast('trades', symbol, (chanId) => [chanId, 'te', values]) +
        (update ? broadcast('trades', symbol, (chanId) => [chanId, 'tu', values]) : 0)
      );
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
      clients.clear();
    },
    failRest(status, { times = 1, body } = {}) {
      const payload =
        body ??
        (status === 429
          ? JSON.stringify({ error: 'ERR_RATE_LIMIT' })
          : JSON.stringify(['error', 10020, `HTTP ${status}`]));
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
      if (heartbeat) clearInterval(heartbeat);
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
