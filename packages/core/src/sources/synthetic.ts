// Sources / synthetic: a seeded geometric-Brownian-motion market that emits realistic tickers and trades offline.
import type { Ticker, Trade } from '../schema/types.generated';
import { type HistoryOptions, type ResolvedHistory, resolveHistory, yieldToEventLoop } from './history';
import {
  configError,
  type MarketEvent,
  MarketSourceBase,
  requirePositive,
  type SourceLogOptions,
  validateSymbols,
} from './source';

/** The most popular Bitfinex USD pairs; the default symbol set of the synthetic source and the fake server. */
export const TOP_SYMBOLS = [
  'tBTCUSD',
  'tETHUSD',
  'tSOLUSD',
  'tXRPUSD',
  'tADAUSD',
  'tDOGEUSD',
  'tLTCUSD',
  'tDOTUSD',
] as const;

/** Realistic starting prices (USD) for {@link TOP_SYMBOLS}. Other symbols start at 100. */
export const DEFAULT_START_PRICES: Readonly<Record<string, number>> = Object.freeze({
  tBTCUSD: 95_000,
  tETHUSD: 3_500,
  tSOLUSD: 180,
  tXRPUSD: 2.3,
  tADAUSD: 0.75,
  tDOGEUSD: 0.25,
  tLTCUSD: 100,
  tDOTUSD: 6.5,
});

const FALLBACK_START_PRICE = 100;
/** 2025-01-01T00:00:00Z: a fixed default so generated data is reproducible. */
const DEFAULT_START_TIME = 1_735_689_600_000;
const MS_PER_YEAR = 365.25 * 24 * 3600 * 1000;

/** Options shared by {@link createSyntheticSource} and {@link generateSyntheticEvents}. */
export interface SyntheticOptions {
  /** Pairs to simulate. Default {@link TOP_SYMBOLS}. */
  symbols?: readonly string[];
  /** Average events per second over all symbols (Poisson arrivals). Default 20. */
  ratePerSecond?: number;
  /** PRNG seed; the same seed gives the same prices, amounts and ids. Default: random. */
  seed?: number;
  /** Starting price per symbol. Default {@link DEFAULT_START_PRICES} (100 for unknown symbols). */
  startPrices?: Readonly<Record<string, number>>;
  /** Annualized volatility of the geometric Brownian motion (0.8 = 80 %/year, typical for crypto). Default 0.8. */
  volatility?: number;
  /** Fraction of events that are tickers; the rest are trades. Default 0.25. */
  tickerShare?: number;
}

/** Options of {@link generateSyntheticEvents}. */
export interface GenerateSyntheticOptions extends SyntheticOptions {
  /** How many events to generate. */
  count: number;
  /** Simulated time of the start, Unix ms. Default 2025-01-01T00:00:00Z. */
  startTime?: number;
}

/**
 * Generates `count` synthetic events, with event times starting at `startTime`. Pure: the same options
 * (including `seed`) always give the same events. Handy for tests, benchmarks and recordings.
 *
 * @example
 * ```ts
 * const events = generateSyntheticEvents({ count: 10_000, seed: 7, symbols: ['tBTCUSD'] });
 * ```
 */
export function generateSyntheticEvents(options: GenerateSyntheticOptions): MarketEvent[] {
  if (!Number.isSafeInteger(options.count) || options.count < 0)
    throw configError('count must be an integer ≥ 0', { count: options.count });
  const market = new SyntheticMarket(options, options.startTime ?? DEFAULT_START_TIME);
  return Array.from({ length: options.count }, () => market.next());
}

/** Options of {@link createSyntheticSource}. */
export interface SyntheticSourceOptions extends SyntheticOptions, SourceLogOptions {
  /** Stop (status `ended`) after this many events (history included). Default: run until `stop()`. */
  maxEvents?: number;
  /**
   * Backfill: start `history.durationMs` back in event time and emit that past at full speed before going live
   * (see {@link HistoryOptions}). `history.ratePerSecond` sets the density of the past (default `ratePerSecond`):
   * a sparser past passes hours of candles through Kafka in seconds. Default: no history.
   */
  history?: HistoryOptions & { ratePerSecond?: number };
}

/**
 * A live source of synthetic market data: event times follow the wall clock from `start()`, so
 * candles built from it look live. No network needed.
 *
 * @example
 * ```ts
 * const source = createSyntheticSource({ seed: 42, ratePerSecond: 50 });
 * source.onTrade((t) => console.log(t.symbol, t.price, t.amount));
 * await source.start();
 * ```
 */
export function createSyntheticSource(options: SyntheticSourceOptions = {}): SyntheticSource {
  return new SyntheticSource(options);
}

/** The live synthetic source; see {@link createSyntheticSource}. */
export class SyntheticSource extends MarketSourceBase {
  protected readonly sourceName = 'synthetic';
  private readonly options: SyntheticSourceOptions;
  private readonly maxEvents: number;
  private readonly market: SyntheticMarket | undefined;
  private readonly history: ResolvedHistory;
  private readonly historyRate: number;
  private timer: NodeJS.Timeout | undefined;
  private backfill: Promise<number> = Promise.resolve(0);

  /** @param market - internal: continue an existing simulated market (the fake server's fixtures) instead of a new one. */
  constructor(options: SyntheticSourceOptions, market?: SyntheticMarket) {
    super(options.logger);
    this.options = options;
    this.market = market;
    this.maxEvents = options.maxEvents ?? Number.POSITIVE_INFINITY;
    if (!(this.maxEvents >= 0)) throw configError('maxEvents must be ≥ 0', { maxEvents: options.maxEvents });
    new SyntheticMarket(options, 0); // validates options now rather than at start()
    this.history = resolveHistory(options.history);
    this.historyRate = options.history?.ratePerSecond ?? options.ratePerSecond ?? 20;
    requirePositive('history.ratePerSecond', this.historyRate);
  }

  /**
   * Starts the source and resolves at once; with `history`, the past is emitted in the background first (see
   * {@link SyntheticSource.backfilled}), then live events follow the wall clock.
   */
  async start(): Promise<void> {
    if (this.status !== 'idle') return;
    const now = Date.now();
    this.setStatus('live');
    // An existing market (the fake server's) already has its own clock and past: it only catches up to now.
    if (this.market || this.history.durationMs === 0) {
      const market = this.market ?? new SyntheticMarket(this.options, now);
      market.syncClock(now);
      this.pumpLive(market, market.next());
      return;
    }
    const market = new SyntheticMarket(this.options, now - this.history.durationMs);
    market.setRate(this.historyRate);
    this.backfill = this.emitHistory(market, now).then(({ emitted, pending }) => {
      // The event after the history was drawn at the history's rate; the ones after it follow the live rate.
      market.setRate(this.options.ratePerSecond ?? 20);
      if (this.status === 'live') this.pumpLive(market, pending);
      return emitted;
    });
  }

  /** Resolves with the number of history events once the backfill is emitted (0 without `history`). */
  backfilled(): Promise<number> {
    return this.backfill;
  }

  private async emitHistory(
    market: SyntheticMarket,
    until: number,
  ): Promise<{ emitted: number; pending: MarketEvent }> {
    let pending = market.next();
    let emitted = 0;
    while (this.status === 'live' && eventTime(pending) <= until && this.counters.messages < this.maxEvents) {
      this.counters.messages += 1;
      this.emitEvent(pending);
      pending = market.next();
      if (++emitted % this.history.batchSize === 0) {
        await yieldToEventLoop();
        await this.history.pause();
      }
    }
    return { emitted, pending };
  }

  private pumpLive(market: SyntheticMarket, first: MarketEvent): void {
    let pending = first;
    const pump = (): void => {
      this.timer = undefined;
      const now = Date.now();
      // Emit everything that is due, so a busy event loop catches up instead of drifting.
      while (this.status === 'live' && eventTime(pending) <= now) {
        if (this.counters.messages >= this.maxEvents) {
          this.setStatus('ended');
          return;
        }
        this.counters.messages += 1;
        this.emitEvent(pending);
        pending = market.next();
      }
      if (this.counters.messages >= this.maxEvents) {
        this.setStatus('ended');
        return;
      }
      if (this.status === 'live') this.timer = setTimeout(pump, Math.max(0, eventTime(pending) - Date.now()));
    };
    pump();
  }

  async stop(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.status !== 'ended') this.setStatus('stopped');
  }
}

/** Internal: the event time of any market event. */
export function eventTime(event: MarketEvent): number {
  return event.kind === 'ticker' ? event.ticker.eventTime : event.trade.time;
}

/** Internal: mulberry32, a tiny fast seeded PRNG with good enough statistics for simulated prices. */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

interface SymbolState {
  symbol: string;
  price: number;
  lastUpdate: number;
  open24h: number;
  high: number;
  low: number;
  volume: number;
  nextTradeId: number;
}

/**
 * Internal: the simulated market. Each `next()` advances simulated time by an exponential gap,
 * moves one random symbol's price by GBM over the time since its last move, and emits a ticker or a trade.
 */
export class SyntheticMarket {
  private readonly random: () => number;
  private readonly states: SymbolState[];
  private meanGapMs: number;
  private readonly volatility: number;
  private readonly tickerShare: number;
  private clock: number;

  constructor(options: SyntheticOptions, startTime: number) {
    const symbols = validateSymbols(options.symbols ?? TOP_SYMBOLS, 'synthetic source');
    const rate = options.ratePerSecond ?? 20;
    requirePositive('ratePerSecond', rate);
    this.volatility = options.volatility ?? 0.8;
    requirePositive('volatility', this.volatility, true);
    this.tickerShare = options.tickerShare ?? 0.25;
    if (!(this.tickerShare >= 0 && this.tickerShare <= 1))
      throw configError('tickerShare must be within [0, 1]', { tickerShare: this.tickerShare });
    requirePositive('startTime', startTime, true);
    this.meanGapMs = 1000 / rate;
    this.random = mulberry32(options.seed ?? Math.floor(Math.random() * 2 ** 32));
    this.clock = startTime;
    this.states = symbols.map((symbol, index) => {
      const start = options.startPrices?.[symbol] ?? DEFAULT_START_PRICES[symbol] ?? FALLBACK_START_PRICE;
      requirePositive(`startPrices.${symbol}`, start);
      const open24h = start * Math.exp(0.02 * this.gaussian());
      const range = 0.005 + 0.01 * this.random();
      return {
        symbol,
        price: start,
        lastUpdate: startTime,
        open24h,
        high: roundToTick(Math.max(open24h, start) * (1 + range), start),
        low: roundToTick(Math.min(open24h, start) * (1 - range), start),
        // About 50 M USD of daily volume, in base-currency units like Bitfinex reports it.
        volume: roundTo((5e7 * (0.5 + this.random())) / start, 1e-8),
        nextTradeId: 1_600_000_000 + index * 100_000_000,
      };
    });
  }

  /** The next event in simulated time. */
  next(): MarketEvent {
    this.clock += -Math.log(1 - this.random()) * this.meanGapMs;
    const time = Math.floor(this.clock);
    const state = this.states[Math.floor(this.random() * this.states.length)] as SymbolState;
    this.move(state, time);
    return this.random() < this.tickerShare
      ? { kind: 'ticker', ticker: this.ticker(state, time) }
      : { kind: 'trade', trade: this.trade(state, time) };
  }

  /** Changes the average event rate from the next event on (the history and the live phase differ). */
  setRate(ratePerSecond: number): void {
    requirePositive('ratePerSecond', ratePerSecond);
    this.meanGapMs = 1000 / ratePerSecond;
  }

  /** Moves simulated time forward to `time` (never backwards), so the next event happens after it. */
  syncClock(time: number): void {
    this.clock = Math.max(this.clock, time);
  }

  /** A ticker for `symbol` at `time` (the price moves up to `time` first). */
  tickerFor(symbol: string, time: number): Ticker {
    const state = this.stateOf(symbol);
    this.move(state, time);
    return this.ticker(state, time);
  }

  /** A trade for `symbol` at `time` (the price moves up to `time` first). */
  tradeFor(symbol: string, time: number): Trade {
    const state = this.stateOf(symbol);
    this.move(state, time);
    return this.trade(state, time);
  }

  private stateOf(symbol: string): SymbolState {
    const state = this.states.find((s) => s.symbol === symbol);
    if (!state) throw configError(`synthetic market does not simulate ${symbol}`, { symbol });
    return state;
  }

  private move(state: SymbolState, time: number): void {
    const years = Math.max(0, time - state.lastUpdate) / MS_PER_YEAR;
    const sigma = this.volatility;
    state.price *= Math.exp(-0.5 * sigma * sigma * years + sigma * Math.sqrt(years) * this.gaussian());
    state.lastUpdate = time;
    const last = roundToTick(state.price, state.price);
    state.high = Math.max(state.high, last);
    state.low = Math.min(state.low, last);
  }

  private ticker(state: SymbolState, time: number): Ticker {
    const tick = tickSize(state.price);
    const lastPrice = roundToTick(state.price, state.price);
    // bid ≤ last ≤ ask, one or two ticks apart, like a liquid book.
    const bid = roundTo(Math.max(tick, lastPrice - tick * Math.floor(this.random() * 2)), tick);
    const ask = roundTo(bid + tick * (1 + Math.floor(this.random() * 2)), tick);
    const dailyChange = roundTo(lastPrice - state.open24h, tick);
    return {
      symbol: state.symbol,
      bid,
      bidSize: roundTo(this.notional() / lastPrice, 1e-8),
      ask,
      askSize: roundTo(this.notional() / lastPrice, 1e-8),
      dailyChange,
      dailyChangeRelative: roundTo(dailyChange / state.open24h, 1e-4),
      lastPrice,
      volume: roundTo(state.volume, 1e-8),
      high: state.high,
      low: state.low,
      eventTime: time,
    };
  }

  private trade(state: SymbolState, time: number): Trade {
    const price = roundToTick(state.price, state.price);
    const size = Math.max(1e-8, roundTo(this.notional() / price, 1e-8));
    state.volume += size;
    state.nextTradeId += 1 + Math.floor(this.random() * 4);
    return { id: state.nextTradeId, symbol: state.symbol, time, amount: this.random() < 0.5 ? -size : size, price };
  }

  /** A trade-sized USD amount: log-normal around 2 000 USD, as real order flow is heavy-tailed. */
  private notional(): number {
    return 2000 * Math.exp(1.2 * this.gaussian());
  }

  private gaussian(): number {
    const u = 1 - this.random();
    const v = this.random();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }
}

/** Bitfinex quotes prices with 5 significant digits; this is the price step at `price`'s magnitude. */
function tickSize(price: number): number {
  return 10 ** (Math.floor(Math.log10(price)) - 4);
}

function roundToTick(value: number, magnitude: number): number {
  return roundTo(value, tickSize(magnitude));
}

// Rounds through toFixed so results are the shortest decimal (0.1 + 0.2 style noise would leak into charts).
function roundTo(value: number, step: number): number {
  const decimals = Math.max(0, Math.min(12, -Math.floor(Math.log10(step) + 1e-9)));
  return Number((Math.round(value / step) * step).toFixed(decimals));
}
