// Sources / Bitfinex WebSocket: one v2 connection, ticker + trades subscriptions, heartbeats, maintenance and reconnects.
import type WebSocket from 'ws';
import { FeedMessageError } from '../errors';
import { loadWebSocket } from '../lazy-deps';
import type { Trade } from '../schema/types.generated';
import {
  type BackfillResult,
  type BitfinexHistoryOptions,
  backfillTrades,
  type ResolvedBitfinexHistory,
  resolveBitfinexHistory,
} from './bitfinex-history';
import {
  type BitfinexApiError,
  type BitfinexChannel,
  type BitfinexChannelRef,
  type BitfinexWsFrame,
  CONF_FLAG_SEQ_ALL,
  CONF_FLAG_TIMESTAMP,
  parseWsFrame,
} from './bitfinex-frames';
import {
  type Backoff,
  type BackoffOptions,
  backoffDelay,
  configError,
  FeedError,
  MarketSourceBase,
  requirePositive,
  resolveBackoff,
  rollingWindowWait,
  validateSymbols,
  type SourceLogOptions,
} from './source';

/** Bitfinex's public WebSocket v2 endpoint. */
export const BITFINEX_WS_URL = 'wss://api-pub.bitfinex.com/ws/2';
/**
 * Channel subscriptions per connection kandle allows. `ws-general` documents 30 for public channels; kandle stays
 * at 25 so that a resubscription in flight (a channel being replaced) never meets the limit.
 */
export const MAX_PUBLIC_SUBSCRIPTIONS = 25;
/** Bitfinex rate-limits public WebSocket connections to 20 per minute per IP. */
export const MAX_CONNECTIONS_PER_MINUTE = 20;

const INFO_RESTART = 20051;
const INFO_MAINTENANCE_START = 20060;
const INFO_MAINTENANCE_END = 20061;
const ALREADY_SUBSCRIBED = 10301;
// A subscription that failed for these reasons will fail again on the same connection; stop waiting for it.
// 10000 (unknown event) and 10020 (bad request parameters) are refusals of the request itself, just as final.
const SUBSCRIBE_FAILURES = new Set([10000, 10001, 10020, 10300, 10302, 10305]);

/** Options of {@link createBitfinexWsSource}. */
export interface BitfinexWsSourceOptions extends SourceLogOptions {
  /** Trading pairs, `t` + uppercase (e.g. `['tBTCUSD', 'tTESTBTC:TESTUSD']`). Funding symbols (`f…`) are refused: their frames have another layout. */
  symbols: readonly string[];
  /** Channels to subscribe per symbol. Default `['ticker', 'trades']`. */
  channels?: readonly BitfinexChannel[];
  /** Default {@link BITFINEX_WS_URL}. */
  url?: string;
  /** Reconnect delays, also the waits between subscription attempts. Default initial 1 s, max 30 s, factor 2, jitter 0.5. */
  reconnect?: BackoffOptions;
  /** Recycle the connection when no frame arrives for this long (Bitfinex sends a heartbeat per silent channel every 15 s). Default 30 000. */
  heartbeatTimeoutMs?: number;
  /** Give up one connection attempt after this long. Default 10 000. */
  connectTimeoutMs?: number;
  /** `start()` rejects if no connection opened within this long (the source is then stopped). Default 30 000. */
  startTimeoutMs?: number;
  /** Subscriptions per connection, at most {@link MAX_PUBLIC_SUBSCRIPTIONS}. Default 25. */
  maxSubscriptions?: number;
  /** Connection attempts allowed per rolling minute, at most {@link MAX_CONNECTIONS_PER_MINUTE}. Default 20. */
  maxConnectsPerMinute?: number;
  /** A subscription not confirmed within this long is sent again (after a backoff delay). Default 10 000. */
  subscribeTimeoutMs?: number;
  /** Subscribe attempts per channel before it is reported (`subscribe-timeout`) and given up until the next connection. Default 5. */
  maxSubscribeAttempts?: number;
  /** A subscribed channel with no frame (data or heartbeat) for this long while others flow is reported and resubscribed. Default 45 000 (three heartbeat periods). */
  channelSilenceMs?: number;
  /** Longest maintenance pause (20060 without 20061, or platform status 0) before reconnecting; Bitfinex documents at most 120 s. Default 150 000. */
  maintenanceMaxPauseMs?: number;
  /** Ping period while paused for maintenance, when no channel sends heartbeats; must be below `heartbeatTimeoutMs`. Default a third of `heartbeatTimeoutMs`. */
  pingIntervalMs?: number;
  /** Ask Bitfinex to number every channel frame (conf flag SEQ_ALL); a gap is reported (`sequence-gap`) and the connection recycled. Default false. */
  sequenceNumbers?: boolean;
  /** Ask Bitfinex to timestamp every channel frame (conf flag TIMESTAMP); tickers then get the server's time as `eventTime`. Default false. */
  serverTimestamps?: boolean;
  /**
   * Backfill before going live: with `history.durationMs` > 0, `start()` resolves at once, the trades of the last
   * `durationMs` (or since `history.resumeFrom()`) are fetched from Bitfinex's REST trades history and emitted in
   * event-time order, and only then does the WebSocket connect (its trades snapshot skips every trade up to the
   * backfill's end). `startTimeoutMs` does not apply then: connection failures after the backfill are reported and
   * retried. Needs the `trades` channel. See {@link BitfinexHistoryOptions}. Default: no history.
   */
  history?: BitfinexHistoryOptions;
}

type SubscriptionState = 'pending' | 'subscribed' | 'failed';

interface Subscription extends BitfinexChannelRef {
  state: SubscriptionState;
  chanId: number | undefined;
  /** Sent with every subscribe and matched against the echo, so a normalised symbol in the echo cannot lose the channel. */
  subId: number;
  /** Subscribe requests sent since the last confirmation. */
  attempts: number;
  /** Fires when a sent subscribe is not confirmed in time, or when the next attempt is due. */
  timer: NodeJS.Timeout | undefined;
  /** Last frame (data or heartbeat) on this channel. */
  lastFrameAt: number;
  /** Resubscriptions for silence since the channel last sent a frame: bounds the cure for a channel that stays mute. */
  silentResubscribes: number;
}

/**
 * Streams tickers and trades from Bitfinex's WebSocket API v2 over a single connection.
 *
 * - Subscribes every `channel × symbol` after the server's `info` greeting (each with a `subId`), and again after
 *   every reconnect. A subscription not confirmed in time is retried with backoff, up to `maxSubscribeAttempts`.
 * - Trades: the subscription snapshot is delivered oldest first, skipping trades already delivered
 *   (so reconnects do not duplicate); then every `te` event. `tu` events repeat a `te` and are ignored.
 * - Reconnects with jittered exponential backoff on close, error, heartbeat timeout and info 20051;
 *   pauses on 20060 (maintenance, pinging to keep the connection checked) and resubscribes on 20061, or
 *   reconnects once the pause exceeds `maintenanceMaxPauseMs`.
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
  private readonly subscribeTimeoutMs: number;
  private readonly maxSubscribeAttempts: number;
  private readonly channelSilenceMs: number;
  private readonly maintenanceMaxPauseMs: number;
  private readonly pingIntervalMs: number;
  private readonly confFlags: number;
  private readonly subscriptions = new Map<string, Subscription>();
  // Keyed by the subId's text: a server may echo the number back as a string.
  private readonly bySubId = new Map<string, Subscription>();
  private readonly byChanId = new Map<number, Subscription>();
  private readonly lastTradeId = new Map<string, number>();
  private readonly connectTimes: number[] = [];
  private socket: WebSocket | undefined;
  private greeted = false;
  private paused = false;
  private attempt = 0;
  private everOpened = false;
  private lastSeq: number | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private watchdog: NodeJS.Timeout | undefined;
  private silenceCheck: NodeJS.Timeout | undefined;
  private pingTimer: NodeJS.Timeout | undefined;
  private maintenanceTimer: NodeJS.Timeout | undefined;
  private readonly history: ResolvedBitfinexHistory | undefined;
  private readonly stopBackfill = new AbortController();
  /** Snapshot trades up to this event time were covered by the backfill (emitted, or delivered before its resume point). */
  private backfilledUntil = Number.NEGATIVE_INFINITY;
  private backfill: Promise<BackfillResult | undefined> = Promise.resolve(undefined);
  private startWaiter: { resolve: () => void; reject: (error: Error) => void; timer: NodeJS.Timeout } | undefined;

  constructor(options: BitfinexWsSourceOptions) {
    super(options.logger);
    const symbols = tradingSymbols(options.symbols);
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
    this.history = options.history?.durationMs ? resolveBitfinexHistory(options.history) : undefined;
    if (this.history && !channels.includes('trades'))
      throw configError("history needs the 'trades' channel", { channels });
    this.url = options.url ?? BITFINEX_WS_URL;
    if (!/^wss?:\/\/[^/]/.test(this.url)) throw configError('url must be a ws:// or wss:// URL', { url: this.url });
    this.backoff = resolveBackoff(options.reconnect, { initialDelayMs: 1_000, maxDelayMs: 30_000 });
    this.heartbeatTimeoutMs = positive('heartbeatTimeoutMs', options.heartbeatTimeoutMs, 30_000);
    this.connectTimeoutMs = positive('connectTimeoutMs', options.connectTimeoutMs, 10_000);
    this.startTimeoutMs = positive('startTimeoutMs', options.startTimeoutMs, 30_000);
    this.subscribeTimeoutMs = positive('subscribeTimeoutMs', options.subscribeTimeoutMs, 10_000);
    this.maxSubscribeAttempts = options.maxSubscribeAttempts ?? 5;
    if (!(Number.isInteger(this.maxSubscribeAttempts) && this.maxSubscribeAttempts >= 1))
      throw configError('maxSubscribeAttempts must be an integer ≥ 1', {
        maxSubscribeAttempts: this.maxSubscribeAttempts,
      });
    this.channelSilenceMs = positive('channelSilenceMs', options.channelSilenceMs, 45_000);
    this.maintenanceMaxPauseMs = positive('maintenanceMaxPauseMs', options.maintenanceMaxPauseMs, 150_000);
    this.pingIntervalMs = positive(
      'pingIntervalMs',
      options.pingIntervalMs,
      Math.max(1, Math.floor(this.heartbeatTimeoutMs / 3)),
    );
    if (this.pingIntervalMs >= this.heartbeatTimeoutMs)
      throw configError('pingIntervalMs must be below heartbeatTimeoutMs', { pingIntervalMs: this.pingIntervalMs });
    this.confFlags =
      (options.sequenceNumbers ? CONF_FLAG_SEQ_ALL : 0) | (options.serverTimestamps ? CONF_FLAG_TIMESTAMP : 0);
    let subId = 0;
    for (const channel of channels) {
      for (const symbol of symbols) {
        const subscription: Subscription = {
          channel,
          symbol,
          state: 'pending',
          chanId: undefined,
          subId: ++subId,
          attempts: 0,
          timer: undefined,
          lastFrameAt: 0,
          silentResubscribes: 0,
        };
        this.subscriptions.set(keyOf(channel, symbol), subscription);
        this.bySubId.set(String(subscription.subId), subscription);
      }
    }
  }

  async start(): Promise<void> {
    if (this.status !== 'idle') return;
    this.setStatus('connecting');
    if (this.history) {
      this.backfill = this.backfillThenConnect(this.history);
      return;
    }
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

  /** Resolves once the `history` backfill is emitted (undefined without one, or when it failed or was stopped). */
  backfilled(): Promise<BackfillResult | undefined> {
    return this.backfill;
  }

  async stop(): Promise<void> {
    if (this.status === 'stopped') return;
    this.setStatus('stopped');
    this.stopBackfill.abort();
    clearTimeout(this.reconnectTimer);
    this.clearConnectionTimers();
    this.settleStart();
    const socket = this.socket;
    this.socket = undefined;
    if (!socket || socket.readyState === socket.CLOSED) return;
    await new Promise<void>((resolve) => {
      const force = setTimeout(() => {
        socket.terminate();
        resolve();
      }, 2_000);
      socket.once('close', () => {
        clearTimeout(force);
        resolve();
      });
      if (socket.readyState === socket.OPEN) socket.close(1000, 'client stop');
      else socket.terminate();
    });
  }

  /** The past from the REST history, then the live connection (whose trades snapshot skips what the backfill covered). */
  private async backfillThenConnect(history: ResolvedBitfinexHistory): Promise<BackfillResult | undefined> {
    const symbols = [...new Set([...this.subscriptions.values()].map((s) => s.symbol))];
    let result: BackfillResult | undefined;
    try {
      result = await backfillTrades(symbols, history, {
        emit: (trade) => {
          this.counters.messages += 1;
          this.emitTrade(trade);
        },
        onError: (error) => this.emitError(error),
        signal: this.stopBackfill.signal,
      });
      for (const [symbol, id] of result.lastTradeIds) this.lastTradeId.set(symbol, id);
      this.backfilledUntil = result.to;
    } catch (cause) {
      const message = cause instanceof Error ? cause.message : String(cause);
      this.emitError(new FeedError('network', `history backfill failed, going live without it: ${message}`, { cause }));
    }
    this.connect();
    return result;
  }

  private connect(): void {
    if (this.status === 'stopped') return;
    const now = Date.now();
    this.connectTimes.push(now);
    const WebSocketClass = loadWebSocket();
    const socket = new WebSocketClass(this.url, { handshakeTimeout: this.connectTimeoutMs });
    this.socket = socket;
    this.greeted = false;
    this.lastSeq = undefined;
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
    this.clearConnectionTimers();
    this.byChanId.clear();
    for (const subscription of this.subscriptions.values()) {
      // A new connection starts with nothing subscribed; even given-up channels get a fresh chance there.
      subscription.state = 'pending';
      subscription.chanId = undefined;
      subscription.silentResubscribes = 0;
    }
    if (this.status === 'stopped') return;
    this.setStatus('reconnecting');
    const delay = Math.max(
      backoffDelay(this.backoff, this.attempt),
      rollingWindowWait(this.connectTimes, this.maxConnectsPerMinute, 60_000, Date.now()),
    );
    this.attempt += 1;
    if (this.everOpened) this.counters.reconnects += 1;
    this.reconnectTimer = setTimeout(() => this.connect(), delay);
  }

  private clearConnectionTimers(): void {
    clearTimeout(this.watchdog);
    clearInterval(this.silenceCheck);
    this.silenceCheck = undefined;
    this.stopMaintenanceTimers();
    for (const subscription of this.subscriptions.values()) {
      clearTimeout(subscription.timer);
      subscription.timer = undefined;
    }
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
      frame = parseWsFrame(text, (chanId) => this.byChanId.get(chanId), Date.now(), this.confFlags);
    } catch (error) {
      // A frame we could not read may have carried a sequence number: restart the count rather than see a false gap.
      this.lastSeq = undefined;
      this.emitError(error instanceof FeedMessageError ? error : new FeedMessageError(String(error), text));
      return;
    }
    if ('seq' in frame && !this.checkSequence(frame.seq)) return;
    switch (frame.type) {
      case 'info':
        this.handleInfo(frame);
        return;
      case 'subscribed':
        this.confirm(frame);
        return;
      case 'unsubscribed':
        this.byChanId.delete(frame.chanId);
        return;
      case 'error':
        this.handleApiError(frame.error, frame.subId);
        return;
      case 'conf':
        if (!frame.ok)
          this.emitError(
            new FeedError('api-error', `Bitfinex refused conf flags ${this.confFlags}`, {
              details: { flags: frame.flags },
            }),
          );
        return;
      case 'heartbeat':
        this.counters.heartbeats += 1;
        this.touch(frame.chanId);
        return;
      case 'ticker':
        this.touch(frame.chanId);
        this.emitTicker(frame.ticker);
        return;
      case 'trades':
        this.touch(frame.chanId);
        this.deliverTrades(frame.trades, frame.snapshot);
        return;
      case 'trade-update':
        this.touch(frame.chanId);
        this.counters.ignored += 1;
        return;
      case 'unknown-channel':
        this.counters.ignored += 1;
        return;
      case 'event':
        return;
    }
  }

  /** With SEQ_ALL every channel frame is numbered per connection; a gap means frames were lost, so start afresh. */
  private checkSequence(seq: number | undefined): boolean {
    if (seq === undefined) return true;
    const expected = this.lastSeq === undefined ? undefined : this.lastSeq + 1;
    this.lastSeq = seq;
    if (expected === undefined || seq === expected) return true;
    this.emitError(
      new FeedError('sequence-gap', `Bitfinex sequence jumped from ${expected - 1} to ${seq}; reconnecting`, {
        details: { expected, received: seq },
      }),
    );
    this.recycle();
    return false;
  }

  private touch(chanId: number): void {
    const subscription = this.byChanId.get(chanId);
    if (!subscription) return;
    subscription.lastFrameAt = Date.now();
    subscription.silentResubscribes = 0;
  }

  private handleInfo(info: Extract<BitfinexWsFrame, { type: 'info' }>): void {
    if (info.version !== undefined) {
      this.greeted = true;
      this.attempt = 0;
      if (info.version !== 2)
        this.emitError(new FeedMessageError(`unsupported Bitfinex API version ${info.version}`, info));
      // Before any subscribe, so that every channel frame carries what was asked for.
      if (this.confFlags !== 0) this.send({ event: 'conf', flags: this.confFlags });
      if (info.platformStatus === 0) {
        this.enterMaintenance();
        return;
      }
      this.leaveMaintenance();
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
      this.leaveMaintenance();
      this.unsubscribeAll();
      this.subscribeAll();
      return;
    }
  }

  private enterMaintenance(): void {
    const wasPaused = this.paused;
    this.paused = true;
    this.setStatus('paused');
    this.unsubscribeAll();
    this.armWatchdog();
    if (wasPaused && this.maintenanceTimer) return;
    // No channel sends heartbeats now: pings (answered by pong) are what keeps a dead connection from going unseen.
    clearInterval(this.pingTimer);
    this.pingTimer = setInterval(() => this.send({ event: 'ping', cid: Date.now() }), this.pingIntervalMs);
    // Bitfinex documents maintenance as lasting at most 120 s; a 20061 that never comes must not pause us forever.
    clearTimeout(this.maintenanceTimer);
    this.maintenanceTimer = setTimeout(() => {
      this.emitError(
        new FeedError(
          'maintenance-timeout',
          `maintenance lasted over ${this.maintenanceMaxPauseMs} ms without info 20061; reconnecting`,
          { details: { maintenanceMaxPauseMs: this.maintenanceMaxPauseMs } },
        ),
      );
      this.maintenanceTimer = undefined;
      this.recycle();
    }, this.maintenanceMaxPauseMs);
  }

  private leaveMaintenance(): void {
    this.paused = false;
    this.stopMaintenanceTimers();
    this.setStatus('live');
  }

  private stopMaintenanceTimers(): void {
    clearInterval(this.pingTimer);
    clearTimeout(this.maintenanceTimer);
    this.pingTimer = undefined;
    this.maintenanceTimer = undefined;
  }

  private subscribeAll(): void {
    for (const subscription of this.subscriptions.values()) {
      if (subscription.state === 'subscribed') continue;
      // attempts are not reset here: they bound the retries of a channel across the connections its 10301s recycle,
      // and once given up a channel gets one attempt per new connection.
      subscription.state = 'pending';
      this.sendSubscribe(subscription);
    }
    this.armWatchdog();
    this.armSilenceCheck();
  }

  /** Sends one subscribe attempt and arms its confirmation deadline. */
  private sendSubscribe(subscription: Subscription): void {
    clearTimeout(subscription.timer);
    subscription.attempts += 1;
    const { channel, symbol, subId } = subscription;
    this.send({ event: 'subscribe', channel, symbol, subId });
    subscription.timer = setTimeout(() => this.onSubscribeTimeout(subscription), this.subscribeTimeoutMs);
  }

  private onSubscribeTimeout(subscription: Subscription): void {
    subscription.timer = undefined;
    if (subscription.state !== 'pending' || this.paused) return;
    if (subscription.attempts >= this.maxSubscribeAttempts) {
      this.giveUp(subscription, `not confirmed after ${subscription.attempts} attempts`);
      return;
    }
    subscription.timer = setTimeout(
      () => {
        subscription.timer = undefined;
        if (subscription.state === 'pending' && !this.paused) this.sendSubscribe(subscription);
      },
      backoffDelay(this.backoff, subscription.attempts - 1),
    );
  }

  private giveUp(subscription: Subscription, why: string): void {
    clearTimeout(subscription.timer);
    subscription.timer = undefined;
    subscription.state = 'failed';
    this.emitError(
      new FeedError(
        'subscribe-timeout',
        `${subscription.channel} ${subscription.symbol}: ${why}; giving up on it until the next connection`,
        { details: { channel: subscription.channel, symbol: subscription.symbol, attempts: subscription.attempts } },
      ),
    );
    this.armWatchdog();
  }

  private confirm(frame: Extract<BitfinexWsFrame, { type: 'subscribed' }>): void {
    // Match by our own subId; only a server that echoes none is matched by channel and symbol.
    const subscription = isSubId(frame.subId)
      ? this.bySubId.get(String(frame.subId))
      : this.subscriptions.get(keyOf(frame.channel, frame.symbol));
    if (!subscription) {
      this.counters.ignored += 1;
      return;
    }
    if (subscription.state === 'subscribed' && subscription.chanId !== frame.chanId) {
      // A late echo of an earlier attempt: keep one channel, release the other.
      this.send({ event: 'unsubscribe', chanId: frame.chanId });
      this.counters.ignored += 1;
      return;
    }
    clearTimeout(subscription.timer);
    subscription.timer = undefined;
    subscription.state = 'subscribed';
    subscription.attempts = 0;
    subscription.chanId = frame.chanId;
    subscription.lastFrameAt = Date.now();
    this.byChanId.set(frame.chanId, subscription);
  }

  private handleApiError(error: BitfinexApiError, subId: unknown): void {
    this.emitError(error);
    const subscription = isSubId(subId)
      ? this.bySubId.get(String(subId))
      : this.subscriptions.get(keyOf(String(error.channel), String(error.symbol)));
    if (subscription?.state !== 'pending') return;
    if (SUBSCRIBE_FAILURES.has(error.bitfinexCode)) {
      clearTimeout(subscription.timer);
      subscription.timer = undefined;
      subscription.state = 'failed';
      this.armWatchdog();
      return;
    }
    if (error.bitfinexCode === ALREADY_SUBSCRIBED) {
      // The server holds this channel but we never learned its chanId (its confirmation was lost), so its data
      // cannot be routed, and unsubscribing needs that chanId. A fresh connection starts with nothing subscribed.
      if (subscription.attempts >= this.maxSubscribeAttempts) {
        this.giveUp(subscription, 'the server reports it already subscribed but never confirmed it');
        return;
      }
      this.recycle();
    }
  }

  /** Reports and resubscribes a channel that went quiet while others keep flowing (Bitfinex heartbeats silent channels). */
  private armSilenceCheck(): void {
    clearInterval(this.silenceCheck);
    this.silenceCheck = setInterval(
      () => {
        if (this.paused) return;
        const now = Date.now();
        const subscribed = [...this.subscriptions.values()].filter((s) => s.state === 'subscribed');
        const flowing = subscribed.some((s) => now - s.lastFrameAt < this.channelSilenceMs);
        // All channels silent at once is the connection's problem: the heartbeat watchdog handles that.
        if (!flowing) return;
        for (const subscription of subscribed) {
          const silentMs = now - subscription.lastFrameAt;
          if (silentMs >= this.channelSilenceMs) this.onChannelSilent(subscription, silentMs);
        }
      },
      Math.max(1, Math.floor(this.channelSilenceMs / 3)),
    );
  }

  /** Releases a mute channel and subscribes it again, at most `maxSubscribeAttempts` times in a row. */
  private onChannelSilent(subscription: Subscription, silentMs: number): void {
    const givingUp = subscription.silentResubscribes >= this.maxSubscribeAttempts;
    const { channel, symbol, chanId } = subscription;
    this.emitError(
      new FeedError(
        'channel-silent',
        `${channel} ${symbol} sent nothing for ${silentMs} ms while other channels flowed; ${givingUp ? 'giving up on it until the next connection' : 'resubscribing'}`,
        { details: { channel, symbol, chanId, resubscribes: subscription.silentResubscribes, gaveUp: givingUp } },
      ),
    );
    if (chanId !== undefined) {
      this.send({ event: 'unsubscribe', chanId });
      this.byChanId.delete(chanId);
    }
    subscription.chanId = undefined;
    if (givingUp) {
      subscription.state = 'failed';
      this.armWatchdog();
      return;
    }
    subscription.silentResubscribes += 1;
    subscription.state = 'pending';
    this.sendSubscribe(subscription);
  }

  private unsubscribeAll(): void {
    for (const subscription of this.subscriptions.values()) {
      if (subscription.chanId !== undefined) this.send({ event: 'unsubscribe', chanId: subscription.chanId });
      clearTimeout(subscription.timer);
      subscription.timer = undefined;
      subscription.state = 'pending';
      subscription.chanId = undefined;
    }
    // Frames still in flight for the old ids are counted as ignored.
    this.byChanId.clear();
  }

  private deliverTrades(trades: readonly Trade[], snapshot: boolean): void {
    for (const trade of trades) {
      const last = this.lastTradeId.get(trade.symbol);
      if (snapshot && ((last !== undefined && trade.id <= last) || trade.time <= this.backfilledUntil)) {
        this.counters.ignored += 1;
        continue;
      }
      if (last === undefined || trade.id > last) this.lastTradeId.set(trade.symbol, trade.id);
      this.emitTrade(trade);
    }
  }

  /**
   * Restarts the dead-connection timer, or leaves it off when silence is expected (nothing can be subscribed).
   * It stays on during maintenance: pings are answered there.
   */
  private armWatchdog(): void {
    clearTimeout(this.watchdog);
    this.watchdog = undefined;
    if (!this.socket) return;
    const expectingTraffic =
      !this.greeted || this.paused || [...this.subscriptions.values()].some((s) => s.state !== 'failed');
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
    const socket = this.socket;
    if (socket !== undefined && socket.readyState === socket.OPEN) socket.send(JSON.stringify(message));
  }

  private settleStart(): void {
    if (!this.startWaiter) return;
    clearTimeout(this.startWaiter.timer);
    this.startWaiter.resolve();
    this.startWaiter = undefined;
  }
}

/** ConfigError unless every symbol is a trading pair: `t` + uppercase. Funding (`f…`) frames have another layout. */
function tradingSymbols(symbols: readonly string[]): string[] {
  const valid = validateSymbols(symbols, 'Bitfinex WebSocket source');
  const funding = valid.filter((symbol) => !symbol.startsWith('t'));
  if (funding.length > 0) {
    throw configError(
      `Bitfinex WebSocket source: ${funding.join(', ')} ${funding.length === 1 ? 'is a funding symbol' : 'are funding symbols'}; only trading pairs (t…) are supported, since funding tickers and trades have another layout`,
      { symbols: funding },
    );
  }
  return valid;
}

function isSubId(value: unknown): value is number | string {
  return typeof value === 'number' || typeof value === 'string';
}

function positive(name: string, value: number | undefined, fallback: number): number {
  const resolved = value ?? fallback;
  requirePositive(name, resolved);
  return resolved;
}

function keyOf(channel: string, symbol: string): string {
  return `${channel}:${symbol}`;
}

function rawToText(data: WebSocket.RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  if (data instanceof ArrayBuffer) return Buffer.from(data).toString('utf8');
  return data.toString('utf8');
}
