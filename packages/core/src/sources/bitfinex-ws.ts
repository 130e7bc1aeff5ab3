// Sources / Bitfinex WebSocket: one v2 connection, ticker + trades subscriptions, heartbeats, maintenance and reconnects.
import WebSocket from 'ws';
import { FeedMessageError } from '../errors';
import type { Trade } from '../schema/types.generated';
import { type BitfinexChannel, type BitfinexChannelRef, type BitfinexWsFrame, parseWsFrame } from './bitfinex-frames';
import {
  type Backoff,
  type BackoffOptions,
  backoffDelay,
  configError,
  FeedError,
  MarketSourceBase,
  requirePositive,
  resolveBackoff,
  validateSymbols,
} from './source';

/** Bitfinex's public WebSocket v2 endpoint. */
export const BITFINEX_WS_URL = 'wss://api-pub.bitfinex.com/ws/2';
/** Bitfinex allows at most 25 channel subscriptions per public (`api-pub`) connection. */
export const MAX_PUBLIC_SUBSCRIPTIONS = 25;
/** Bitfinex rate-limits public WebSocket connections to 20 per minute per IP. */
export const MAX_CONNECTIONS_PER_MINUTE = 20;

const INFO_RESTART = 20051;
const INFO_MAINTENANCE_START = 20060;
const INFO_MAINTENANCE_END = 20061;
// A subscription that failed for these reasons will fail again on the same connection; stop waiting for it.
const SUBSCRIBE_FAILURES = new Set([10001, 10300, 10302, 10305]);

/** Options of {@link createBitfinexWsSource}. */
export interface BitfinexWsSourceOptions {
  /** Trading pairs, e.g. `['tBTCUSD']`. Funding symbols (`f…`) are refused: their frames have another layout. */
  symbols: readonly string[];
  /** Channels to subscribe per symbol. Default `['ticker', 'trades']`. */
  channels?: readonly BitfinexChannel[];
  /** Default {@link BITFINEX_WS_URL}. */
  url?: string;
  /** Reconnect delays. Default initial 1 s, max 30 s, factor 2, jitter 0.5. */
  reconnect?: BackoffOptions;
  /** Recycle the connection when no frame arrives for this long (Bitfinex sends a heartbeat per channel every ~15 s). Default 30 000. */
  heartbeatTimeoutMs?: number;
  /** Give up one connection attempt after this long. Default 10 000. */
  connectTimeoutMs?: number;
  /** `start()` rejects if no connection opened within this long (the source is then stopped). Default 30 000. */
  startTimeoutMs?: number;
  /** Subscriptions per connection, at most {@link MAX_PUBLIC_SUBSCRIPTIONS}. Default 25. */
  maxSubscriptions?: number;
  /** Connection attempts allowed per rolling minute, at most {@link MAX_CONNECTIONS_PER_MINUTE}. Default 20. */
  maxConnectsPerMinute?: number;
}

type SubscriptionState = 'pending' | 'subscribed' | 'failed';

interface Subscription extends BitfinexChannelRef {
  state: SubscriptionState;
  chanId: number | undefined;
}

/**
 * Streams tickers and trades from Bitfinex's WebSocket API v2 over a single connection.
 *
 * - Subscribes every `channel × symbol` after the server's `info` greeting, and again after every reconnect.
 * - Trades: the subscription snapshot is delivered oldest first, skipping trades already delivered
 *   (so reconnects do not duplicate); then every `te` event. `tu` events repeat a `te` and are ignored.
 * - Reconnects with jittered exponential backoff on close, error, heartbeat timeout and info 20051;
 *   pauses on 20060 (maintenance) and resubscribes on 20061.
 * - Malformed frames and Bitfinex error events go to `onError`; the source keeps running.
 *
 * @example
 * ```ts
 * const source = createBitfinexWsSource({ symbols: ['tBTCUSD', 'tETHUSD'] });
 * source.onEvent((event) => producer.send(event).catch((e) => log.error(e.message)));
 * source.onError((e) => log.warn(e.message));
 * await source.start();
 * ```
 */
export function createBitfinexWsSource(options: BitfinexWsSourceOptions): BitfinexWsSource {
  return new BitfinexWsSource(options);
}

/** The WebSocket v2 source; see {@link createBitfinexWsSource}. */
export class BitfinexWsSource extends MarketSourceBase {
  protected readonly sourceName = 'bitfinex-ws';
  private readonly url: string;
  private readonly backoff: Backoff;
  private readonly heartbeatTimeoutMs: number;
  private readonly connectTimeoutMs: number;
  private readonly startTimeoutMs: number;
  private readonly maxConnectsPerMinute: number;
  private readonly subscriptions = new Map<string, Subscription>();
  private readonly byChanId = new Map<number, Subscription>();
  private readonly lastTradeId = new Map<string, number>();
  private readonly connectTimes: number[] = [];
  private socket: WebSocket | undefined;
  private greeted = false;
  private paused = false;
  private attempt = 0;
  private everOpened = false;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private watchdog: NodeJS.Timeout | undefined;
  private startWaiter: { resolve: () => void; reject: (error: Error) => void; timer: NodeJS.Timeout } | undefined;

  constructor(options: BitfinexWsSourceOptions) {
    super();
    const symbols = validateSymbols(options.symbols, 'Bitfinex WebSocket source');
    const funding = symbols.filter((symbol) => !symbol.startsWith('t'));
    if (funding.length > 0)
      throw configError('Bitfinex WebSocket source: only trading pairs (t…) are supported', { symbols: funding });
    const channels = options.channels ?? ['ticker', 'trades'];
    if (
      channels.length === 0 ||
      new Set(channels).size !== channels.length ||
      channels.some((c) => c !== 'ticker' && c !== 'trades')
    ) {
      throw configError("channels must be a non-empty, duplicate-free subset of ['ticker', 'trades']", { channels });
    }
    const maxSubscriptions = options.maxSubscriptions ?? MAX_PUBLIC_SUBSCRIPTIONS;
    if (!(maxSubscriptions >= 1 && maxSubscriptions <= MAX_PUBLIC_SUBSCRIPTIONS)) {
      throw configError(`maxSubscriptions must be within [1, ${MAX_PUBLIC_SUBSCRIPTIONS}]`, { maxSubscriptions });
    }
    if (symbols.length * channels.length > maxSubscriptions) {
      throw configError(
        `${symbols.length} symbols × ${channels.length} channels exceed ${maxSubscriptions} subscriptions per connection; split them over several sources`,
        { symbols: symbols.length, channels },
      );
    }
    this.maxConnectsPerMinute = options.maxConnectsPerMinute ?? MAX_CONNECTIONS_PER_MINUTE;
    if (!(this.maxConnectsPerMinute >= 1 && this.maxConnectsPerMinute <= MAX_CONNECTIONS_PER_MINUTE)) {
      throw configError(`maxConnectsPerMinute must be within [1, ${MAX_CONNECTIONS_PER_MINUTE}]`, {
        maxConnectsPerMinute: this.maxConnectsPerMinute,
      });
    }
    this.url = options.url ?? BITFINEX_WS_URL;
    if (!/^wss?:\/\/[^/]/.test(this.url)) throw configError('url must be a ws:// or wss:// URL', { url: this.url });
    this.backoff = resolveBackoff(options.reconnect, { initialDelayMs: 1_000, maxDelayMs: 30_000 });
    this.heartbeatTimeoutMs = options.heartbeatTimeoutMs ?? 30_000;
    requirePositive('heartbeatTimeoutMs', this.heartbeatTimeoutMs);
    this.connectTimeoutMs = options.connectTimeoutMs ?? 10_000;
    requirePositive('connectTimeoutMs', this.connectTimeoutMs);
    this.startTimeoutMs = options.startTimeoutMs ?? 30_000;
    requirePositive('startTimeoutMs', this.startTimeoutMs);
    for (const channel of channels) {
      for (const symbol of symbols) {
        this.subscriptions.set(keyOf(channel, symbol), { channel, symbol, state: 'pending', chanId: undefined });
      }
    }
  }

  async start(): Promise<void> {
    if (this.status !== 'idle') return;
    this.setStatus('connecting');
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.startWaiter = undefined;
        reject(new FeedError('network', `could not connect to ${this.url} within ${this.startTimeoutMs} ms`));
        void this.stop();
      }, this.startTimeoutMs);
      this.startWaiter = { resolve, reject, timer };
      this.connect();
    });
  }

  async stop(): Promise<void> {
    if (this.status === 'stopped') return;
    this.setStatus('stopped');
    clearTimeout(this.reconnectTimer);
    clearTimeout(this.watchdog);
    this.settleStart();
    const socket = this.socket;
    this.socket = undefined;
    if (!socket || socket.readyState === WebSocket.CLOSED) return;
    await new Promise<void>((resolve) => {
      const force = setTimeout(() => {
        socket.terminate();
        resolve();
      }, 2_000);
      socket.once('close', () => {
        clearTimeout(force);
        resolve();
      });
      if (socket.readyState === WebSocket.OPEN) socket.close(1000, 'client stop');
      else socket.terminate();
    });
  }

  private connect(): void {
    if (this.status === 'stopped') return;
    const now = Date.now();
    this.connectTimes.push(now);
    const socket = new WebSocket(this.url, { handshakeTimeout: this.connectTimeoutMs });
    this.socket = socket;
    this.greeted = false;
    // Every handler checks it still owns the current socket: late events of a replaced socket are ignored.
    socket.on('open', () => {
      if (socket !== this.socket) return;
      this.everOpened = true;
      this.setStatus(this.paused ? 'paused' : 'live');
      this.settleStart();
      this.armWatchdog();
    });
    socket.on('message', (data: WebSocket.RawData) => {
      if (socket !== this.socket) return;
      try {
        this.handleText(rawToText(data));
      } catch (cause) {
        // Last line of defence: nothing may escape a socket handler.
        this.emitError(
          new FeedMessageError(
            `frame handling failed: ${cause instanceof Error ? cause.message : String(cause)}`,
            rawToText(data),
          ),
        );
      }
    });
    socket.on('error', (error: Error) => {
      if (socket !== this.socket) return;
      this.emitError(
        new FeedError('network', `Bitfinex WebSocket error: ${error.message}`, {
          cause: error,
          details: { url: this.url },
        }),
      );
    });
    socket.on('close', () => {
      if (socket !== this.socket) return;
      this.socket = undefined;
      this.onConnectionLost();
    });
  }

  private onConnectionLost(): void {
    clearTimeout(this.watchdog);
    this.byChanId.clear();
    for (const subscription of this.subscriptions.values()) {
      subscription.state = 'pending';
      subscription.chanId = undefined;
    }
    if (this.status === 'stopped') return;
    this.setStatus('reconnecting');
    let delay = backoffDelay(this.backoff, this.attempt);
    this.attempt += 1;
    const windowStart = Date.now() - 60_000;
    while (this.connectTimes.length > 0 && (this.connectTimes[0] as number) <= windowStart) this.connectTimes.shift();
    if (this.connectTimes.length >= this.maxConnectsPerMinute) {
      delay = Math.max(delay, (this.connectTimes[0] as number) - windowStart);
    }
    if (this.everOpened) this.counters.reconnects += 1;
    this.reconnectTimer = setTimeout(() => this.connect(), delay);
  }

  /** Drops the current connection; the close handler schedules the reconnect. */
  private recycle(): void {
    this.socket?.terminate();
  }

  private handleText(text: string): void {
    this.counters.messages += 1;
    this.armWatchdog();
    let frame: BitfinexWsFrame;
    try {
      frame = parseWsFrame(text, (chanId) => this.byChanId.get(chanId), Date.now());
    } catch (error) {
      this.emitError(error instanceof FeedMessageError ? error : new FeedMessageError(String(error), text));
      return;
    }
    switch (frame.type) {
      case 'info':
        this.handleInfo(frame);
        return;
      case 'subscribed': {
        const subscription = this.subscriptions.get(keyOf(frame.channel, frame.symbol));
        if (!subscription) {
          this.counters.ignored += 1;
          return;
        }
        subscription.state = 'subscribed';
        subscription.chanId = frame.chanId;
        this.byChanId.set(frame.chanId, subscription);
        return;
      }
      case 'unsubscribed':
        this.byChanId.delete(frame.chanId);
        return;
      case 'error': {
        const { error } = frame;
        const subscription = this.subscriptions.get(keyOf(String(error.channel), String(error.symbol)));
        if (subscription?.state === 'pending' && SUBSCRIBE_FAILURES.has(error.bitfinexCode))
          subscription.state = 'failed';
        this.armWatchdog();
        this.emitError(error);
        return;
      }
      case 'heartbeat':
        this.counters.heartbeats += 1;
        return;
      case 'ticker':
        this.emitTicker(frame.ticker);
        return;
      case 'trades':
        this.deliverTrades(frame.trades, frame.snapshot);
        return;
      case 'trade-update':
      case 'unknown-channel':
        this.counters.ignored += 1;
        return;
      case 'event':
        return;
    }
  }

  private handleInfo(info: Extract<BitfinexWsFrame, { type: 'info' }>): void {
    if (info.version !== undefined) {
      this.greeted = true;
      this.attempt = 0;
      if (info.version !== 2)
        this.emitError(new FeedMessageError(`unsupported Bitfinex API version ${info.version}`, info));
      if (info.platformStatus === 0) {
        this.enterMaintenance();
        return;
      }
      this.paused = false;
      this.setStatus('live');
      this.subscribeAll();
      return;
    }
    if (info.code === INFO_RESTART) {
      this.recycle();
      return;
    }
    if (info.code === INFO_MAINTENANCE_START) {
      this.enterMaintenance();
      return;
    }
    if (info.code === INFO_MAINTENANCE_END) {
      this.paused = false;
      this.setStatus('live');
      this.unsubscribeAll();
      this.subscribeAll();
      return;
    }
  }

  private enterMaintenance(): void {
    this.paused = true;
    this.setStatus('paused');
    this.unsubscribeAll();
    this.armWatchdog();
  }

  private subscribeAll(): void {
    for (const subscription of this.subscriptions.values()) {
      if (subscription.state === 'subscribed') continue;
      subscription.state = 'pending';
      this.send({ event: 'subscribe', channel: subscription.channel, symbol: subscription.symbol });
    }
    this.armWatchdog();
  }

  private unsubscribeAll(): void {
    for (const subscription of this.subscriptions.values()) {
      if (subscription.chanId !== undefined) this.send({ event: 'unsubscribe', chanId: subscription.chanId });
      subscription.state = 'pending';
      subscription.chanId = undefined;
    }
    // Frames still in flight for the old ids are counted as ignored.
    this.byChanId.clear();
  }

  private deliverTrades(trades: readonly Trade[], snapshot: boolean): void {
    for (const trade of trades) {
      const last = this.lastTradeId.get(trade.symbol);
      if (snapshot && last !== undefined && trade.id <= last) {
        this.counters.ignored += 1;
        continue;
      }
      if (last === undefined || trade.id > last) this.lastTradeId.set(trade.symbol, trade.id);
      this.emitTrade(trade);
    }
  }

  /** Restarts the dead-connection timer, or leaves it off when silence is expected (maintenance, nothing subscribed). */
  private armWatchdog(): void {
    clearTimeout(this.watchdog);
    this.watchdog = undefined;
    if (!this.socket || this.paused) return;
    const expectingTraffic = !this.greeted || [...this.subscriptions.values()].some((s) => s.state !== 'failed');
    if (!expectingTraffic) return;
    this.watchdog = setTimeout(() => {
      this.emitError(
        new FeedError(
          'heartbeat-timeout',
          `no frame from ${this.url} for ${this.heartbeatTimeoutMs} ms; reconnecting`,
          {
            details: { heartbeatTimeoutMs: this.heartbeatTimeoutMs },
          },
        ),
      );
      this.recycle();
    }, this.heartbeatTimeoutMs);
  }

  private send(message: Record<string, unknown>): void {
    if (this.socket?.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify(message));
  }

  private settleStart(): void {
    if (!this.startWaiter) return;
    clearTimeout(this.startWaiter.timer);
    this.startWaiter.resolve();
    this.startWaiter = undefined;
  }
}

function keyOf(channel: string, symbol: string): string {
  return `${channel}:${symbol}`;
}

function rawToText(data: WebSocket.RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  if (data instanceof ArrayBuffer) return Buffer.from(data).toString('utf8');
  return data.toString('utf8');
}
