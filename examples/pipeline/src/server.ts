// Server: the live page over node:http: static files, candles and Kafka view as JSON, live updates as server-sent events.
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { dirname, extname, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Candle, CandleInterval, CandleSource } from '@kandle/core';
import type { CandleStore } from './candle-store';
import type { KafkaView } from './kafka-view';
import { type FaultAction, type FaultLab, FaultRequestError } from './fault-lab';
import { BrowseRequestError, type MessageBrowser } from './message-browser';

/** What `GET /api/config` tells the page. */
export interface PageInfo {
  symbols: readonly string[];
  intervals: readonly CandleInterval[];
  /** Candle sources offered; the first is the default (`trade`: true OHLCV). */
  sources: readonly CandleSource[];
  groupId: string;
  /** `deadLetter`: where the group puts records it cannot decode (browsable when the message browser knows it). */
  topics: { tickers: string; trades: string; deadLetter?: string };
  /** Where the market data comes from (`synthetic`, `replay`, `bitfinex`). */
  feed: string;
}

/** Options of {@link startPageServer}. */
export interface PageServerOptions {
  /** Interface to bind. Use a loopback address unless the page must be reachable from elsewhere. */
  host: string;
  /** 0 picks a free port. */
  port: number;
  store: CandleStore;
  info: PageInfo;
  /** Takes a fresh Kafka view; should answer within a couple of seconds whatever the cluster does. */
  kafkaView: () => Promise<KafkaView>;
  /**
   * Serves `POST /api/fault` (stop, kill, start a broker) when given: pass it only for brokers this process started.
   * Default: none (the route answers 404).
   */
  faultLab?: FaultLab;
  /** Serves `GET /api/messages` (the page's message browser). Default: none (404). */
  messages?: MessageBrowser;
  /** Served as `GET /metrics` (Prometheus text). Default: no `/metrics` (404). */
  metrics?: { contentType: string; render(): Promise<string> };
  /** How often `/events` pushes a Kafka view. Default 2000 ms. */
  kafkaRefreshMs?: number;
  /** Default `console.warn`. */
  warn?: (message: string) => void;
}

/** A running page server. */
export interface PageServer {
  /** `http://host:port/`. */
  url: string;
  /** Open `/events` streams. */
  clients(): number;
  /** Ends the event streams and stops listening. */
  close(): Promise<void>;
}

const PUBLIC_DIR = fileURLToPath(new URL('../public/', import.meta.url));
const CHART_LIBRARY_PATH = '/vendor/lightweight-charts.js';
const CHART_LIBRARY_FILE = join(
  dirname(createRequire(import.meta.url).resolve('lightweight-charts/package.json')),
  'dist/lightweight-charts.standalone.production.js',
);
const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
};

/** One `/events` stream and the series it asked for (unset fields match everything). */
interface EventClient {
  response: ServerResponse;
  symbol: string | null;
  interval: string | null;
  source: string | null;
}

/**
 * Serves the live candlestick page.
 *
 * - `GET /` and `public/*`: the page; `GET /vendor/lightweight-charts.js`: the chart library from node_modules.
 * - `GET /api/config`: symbols, intervals, sources, group and topics.
 * - `GET /api/candles?symbol=&interval=&source=`: the kept candles of one series, oldest first.
 * - `GET /api/kafka`: a {@link KafkaView}.
 * - `GET /api/messages?topic=&partition=&offset=&limit=` (or `time=` Unix ms / ISO 8601 instead of `offset`): one
 *   page of decoded records, see {@link MessageBrowser}.
 * - `GET /metrics`: Prometheus text exposition, when `metrics` is given.
 * - `POST /api/fault?action=stop|kill|start&broker=<id>`: the fault lab, when `faultLab` is given; only from a
 *   loopback address and with the `x-kandle-fault: 1` header (a cross-site form cannot send it), 202 when started,
 *   409 while another operation runs.
 * - `GET /events?symbol=&interval=&source=`: server-sent events `candles` (changed candles of that series) and
 *   `kafka` (a Kafka view every `kafkaRefreshMs`).
 *
 * @example
 * ```ts
 * const server = await startPageServer({ host: '127.0.0.1', port: 0, store, info, kafkaView: viewer.snapshot });
 * console.log(server.url);
 * await server.close();
 * ```
 */
export async function startPageServer(options: PageServerOptions): Promise<PageServer> {
  const refreshMs = options.kafkaRefreshMs ?? 2000;
  const live = new LiveUpdates(options, refreshMs);
  const routes: Record<string, Route> = {
    '/api/config': async (_url, _request, response) => json(response, 200, options.info),
    '/api/candles': async (url, _request, response) => {
      const symbol = url.searchParams.get('symbol') ?? '';
      const interval = url.searchParams.get('interval') ?? '';
      const source = url.searchParams.get('source') ?? options.info.sources[0] ?? 'trade';
      const problem = selectionProblem(options.info, symbol, interval, source);
      if (problem) return json(response, 400, { error: problem });
      json(response, 200, options.store.series(symbol, interval, source as CandleSource));
    },
    '/api/kafka': async (_url, _request, response) => json(response, 200, await live.view()),
    '/api/messages': messagesRoute(options.messages),
    '/metrics': async (_url, _request, response) => {
      if (!options.metrics) return json(response, 404, { error: 'not found' });
      const body = await options.metrics.render();
      response.writeHead(200, { 'content-type': options.metrics.contentType, 'cache-control': 'no-store' });
      response.end(body);
    },
    '/events': async (url, request, response) => live.add(url, request, response),
  };

  const server = createServer((request, response) => {
    const url = new URL(request.url ?? '/', 'http://localhost');
    if (request.method === 'POST' && url.pathname === '/api/fault')
      return faultRequest(options.faultLab, url, request, response);
    if (request.method !== 'GET' && request.method !== 'HEAD') return json(response, 405, { error: 'GET only' });
    const route = routes[url.pathname];
    const handled = route
      ? route(url, request, response)
      : url.pathname === CHART_LIBRARY_PATH
        ? sendFile(response, CHART_LIBRARY_FILE)
        : sendStatic(response, url.pathname);
    handled.catch((e: Error) => {
      if (!response.headersSent) json(response, 503, { error: e.message });
      else response.end();
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;

  let closed: Promise<void> | undefined;
  return {
    url: `http://${host}:${address.port}/`,
    clients: () => live.size,
    close() {
      closed ??= new Promise<void>((resolve) => {
        live.close();
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closed;
    },
  };
}

type Route = (url: URL, request: IncomingMessage, response: ServerResponse) => Promise<void>;

/**
 * The `/events` streams: changed candles as the store reports them, and a Kafka view every `refreshMs` (one
 * snapshot at a time, shared by every caller, also `/api/kafka`'s).
 */
class LiveUpdates {
  private readonly clients = new Set<EventClient>();
  private latestView: KafkaView | undefined;
  private refreshing: Promise<KafkaView> | undefined;
  private lastProblem = '';
  private readonly timer: NodeJS.Timeout;
  private readonly unsubscribe: () => void;
  private readonly warn: (message: string) => void;

  constructor(
    private readonly options: Pick<PageServerOptions, 'kafkaView' | 'store' | 'warn'>,
    private readonly refreshMs: number,
  ) {
    this.warn = options.warn ?? ((message: string) => console.warn(message));
    this.unsubscribe = options.store.onChange((changed) => this.candlesChanged(changed));
    this.timer = setInterval(() => this.pushView(), refreshMs);
    this.timer.unref();
  }

  get size(): number {
    return this.clients.size;
  }

  /** The latest view when younger than the refresh period, else a fresh one. */
  view(): Promise<KafkaView> {
    const latest = this.latestView;
    return latest && Date.now() - latest.at < this.refreshMs ? Promise.resolve(latest) : this.refresh();
  }

  /** Opens one `/events` stream for the series its query names (unset parameters match everything). */
  add(url: URL, request: IncomingMessage, response: ServerResponse): void {
    const client: EventClient = {
      response,
      symbol: url.searchParams.get('symbol'),
      interval: url.searchParams.get('interval'),
      source: url.searchParams.get('source'),
    };
    response.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
    });
    response.write('retry: 2000\n\n');
    this.clients.add(client);
    request.on('close', () => this.clients.delete(client));
    if (this.latestView) send(client, 'kafka', this.latestView);
    else
      void this.refresh().then(
        (view) => send(client, 'kafka', view),
        () => undefined,
      );
  }

  close(): void {
    clearInterval(this.timer);
    this.unsubscribe();
    for (const client of this.clients) client.response.end();
    this.clients.clear();
  }

  private refresh(): Promise<KafkaView> {
    this.refreshing ??= this.options
      .kafkaView()
      .then((view) => {
        this.latestView = view;
        this.lastProblem = '';
        return view;
      })
      .finally(() => {
        this.refreshing = undefined;
      });
    return this.refreshing;
  }

  private pushView(): void {
    if (this.clients.size === 0) return;
    this.refresh().then(
      (view) => {
        for (const client of this.clients) send(client, 'kafka', view);
      },
      (e: Error) => {
        // A broker restart makes every refresh fail for a while: say it once, keep the page informed.
        if (e.message !== this.lastProblem) this.warn(`kafka view: ${e.message}`);
        this.lastProblem = e.message;
        for (const client of this.clients) send(client, 'kafka-error', { message: e.message });
      },
    );
  }

  private candlesChanged(changed: Candle[]): void {
    for (const client of this.clients) {
      const mine = changed.filter(
        (c) =>
          (client.symbol === null || c.symbol === client.symbol) &&
          (client.interval === null || c.interval === client.interval) &&
          (client.source === null || c.source === client.source),
      );
      if (mine.length > 0) send(client, 'candles', mine);
    }
  }
}

function send(client: EventClient, event: string, data: unknown): void {
  client.response.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
}

/** `GET /api/messages`: one page of the message browser; a bad request is a 400, a cluster that cannot answer a 503. */
function messagesRoute(messages: MessageBrowser | undefined): Route {
  return async (url, _request, response) => {
    if (!messages) return json(response, 404, { error: 'not found' });
    const number = (name: string) => {
      const text = url.searchParams.get(name);
      return text === null || text === '' ? undefined : Number(text);
    };
    const timeText = url.searchParams.get('time') ?? '';
    // Unix ms, or an ISO 8601 date (a bad one becomes NaN and is refused by the browser).
    const time = timeText === '' ? undefined : /^\d+$/.test(timeText) ? Number(timeText) : Date.parse(timeText);
    try {
      const page = await messages.page({
        topic: url.searchParams.get('topic') ?? '',
        partition: number('partition') ?? 0,
        ...(number('offset') === undefined ? {} : { offset: number('offset') as number }),
        ...(time === undefined ? {} : { time }),
        ...(number('limit') === undefined ? {} : { limit: number('limit') as number }),
      });
      json(response, 200, page);
    } catch (e) {
      if (!(e instanceof BrowseRequestError)) throw e;
      json(response, 400, { error: e.message });
    }
  };
}

const FAULT_ACTIONS: readonly FaultAction[] = ['stop', 'kill', 'start'];

/**
 * `POST /api/fault`: refused unless the lab exists, the caller is on this machine and sent the lab's header; the lab
 * itself refuses a second operation while one runs (409).
 */
function faultRequest(lab: FaultLab | undefined, url: URL, request: IncomingMessage, response: ServerResponse): void {
  request.resume(); // the body is not used; drain it so the connection can be reused
  try {
    if (!lab) throw new FaultRequestError(404, 'no fault lab: the page was started without one');
    if (!isLoopback(request.socket.remoteAddress))
      throw new FaultRequestError(403, 'fault controls answer loopback clients only');
    if (request.headers['x-kandle-fault'] !== '1')
      throw new FaultRequestError(403, 'fault requests need the header x-kandle-fault: 1');
    const action = url.searchParams.get('action') as FaultAction;
    const broker = Number(url.searchParams.get('broker'));
    if (!FAULT_ACTIONS.includes(action)) throw new FaultRequestError(400, `action must be one of ${FAULT_ACTIONS}`);
    if (!Number.isInteger(broker)) throw new FaultRequestError(400, 'broker must be a broker id');
    json(response, 202, { operation: lab.request(action, broker), lab: lab.view() });
  } catch (e) {
    if (!(e instanceof FaultRequestError)) throw e;
    json(response, e.status, { error: e.message, ...(lab ? { lab: lab.view() } : {}) });
  }
}

function isLoopback(address: string | undefined): boolean {
  return address === '::1' || /^(::ffff:)?127\./.test(address ?? '');
}

/** Why a requested series is not one the page offers, or undefined. */
function selectionProblem(info: PageInfo, symbol: string, interval: string, source: string): string | undefined {
  if (!info.symbols.includes(symbol)) return `unknown symbol "${symbol}"; one of ${info.symbols.join(', ')}`;
  if (!(info.intervals as readonly string[]).includes(interval))
    return `unknown interval "${interval}"; one of ${info.intervals.join(', ')}`;
  if (!(info.sources as readonly string[]).includes(source))
    return `unknown source "${source}"; one of ${info.sources.join(', ')}`;
  return undefined;
}

function json(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
  response.end(JSON.stringify(body));
}

async function sendStatic(response: ServerResponse, pathname: string): Promise<void> {
  let relative: string;
  try {
    relative = normalize(decodeURIComponent(pathname === '/' ? '/index.html' : pathname));
  } catch {
    return json(response, 400, { error: 'bad path' });
  }
  const file = join(PUBLIC_DIR, relative);
  // normalize() resolved any `..`; anything now outside public/ was an escape attempt.
  if (!file.startsWith(PUBLIC_DIR.endsWith(sep) ? PUBLIC_DIR : PUBLIC_DIR + sep))
    return json(response, 404, { error: 'not found' });
  return sendFile(response, file);
}

async function sendFile(response: ServerResponse, file: string): Promise<void> {
  let body: Buffer;
  try {
    body = await readFile(file);
  } catch {
    return json(response, 404, { error: 'not found' });
  }
  response.writeHead(200, {
    'content-type': CONTENT_TYPES[extname(file)] ?? 'application/octet-stream',
    'cache-control': 'no-cache',
    'x-content-type-options': 'nosniff',
  });
  response.end(body);
}
