// Sources / replay: plays recorded market events (arrays or NDJSON files) back with their original timing, scaled.
import { once } from 'node:events';
import { createReadStream, createWriteStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { FeedMessageError } from '../errors';
import type { Ticker, Trade } from '../schema/types.generated';
import { type HistoryOptions, type ResolvedHistory, resolveHistory, yieldToEventLoop } from './history';
import { eventTime } from './synthetic';
import {
  configError,
  FeedError,
  type MarketEvent,
  MarketSourceBase,
  sleep,
  tickerProblem,
  tradeProblem,
  type SourceLogOptions,
} from './source';

/** Options of {@link createReplaySource}. */
export interface ReplaySourceOptions extends SourceLogOptions {
  /** The recording: an array, any iterable, or an async iterable such as {@link loadRecording}. Each event is validated. */
  events: Iterable<MarketEvent> | AsyncIterable<MarketEvent>;
  /** Playback speed: 1 = real time, 10 = ten times faster, `'max'` = as fast as possible. Default 1. */
  speed?: number | 'max';
  /**
   * Play the recording again when it ends, forever. Each lap continues the timeline (times shifted by the
   * recording's duration plus one average gap, trade ids shifted past the recording's id range), so
   * downstream never sees time go backwards or a duplicate trade id. A one-shot async iterable is buffered
   * in memory during the first lap. Default false.
   */
  loop?: boolean;
  /**
   * Rewrite event times so they look live: the first event gets the wall-clock time of `start()`, and each
   * later one `start + (recordedTime − firstRecordedTime) / speed`, i.e. the wall-clock time it is emitted at.
   * With `speed: 'max'` the recorded spacing is kept as is. With `false`, recorded times are kept. Default true.
   */
  rebase?: boolean;
  /**
   * Backfill: the rebased clock starts `history.durationMs` before `start()`, so the events that fall in that past
   * are emitted at full speed (with `history.pause` as backpressure) with their past times, then playback
   * continues in real time. Needs `rebase: true`. Default: no history.
   */
  history?: HistoryOptions;
}

/**
 * Replays recorded events, preserving the gaps between them divided by `speed`.
 * Status becomes `ended` (and iterators finish) when a non-looping recording is exhausted.
 *
 * @example
 * ```ts
 * const source = createReplaySource({ events: loadRecording('btc-2025-01-01.ndjson'), speed: 10 });
 * source.onEvent((event) => producer.send(event).catch((e) => log.error(e.message)));
 * await source.start();
 * ```
 */
export function createReplaySource(options: ReplaySourceOptions): ReplaySource {
  return new ReplaySource(options);
}

/** Yield to the event loop every this many events at `speed: 'max'`, so I/O and timers keep running. */
const MAX_SPEED_BATCH = 256;

/** The replay source; see {@link createReplaySource}. */
export class ReplaySource extends MarketSourceBase {
  protected readonly sourceName = 'replay';
  private readonly events: Iterable<MarketEvent> | AsyncIterable<MarketEvent>;
  private readonly speed: number | 'max';
  private readonly loop: boolean;
  private readonly rebase: boolean;
  private readonly history: ResolvedHistory;
  private historyEvents = 0;
  private readonly stopping = new AbortController();
  private playback: Promise<void> | undefined;

  constructor(options: ReplaySourceOptions) {
    super(options.logger);
    const events = options.events as unknown;
    if (
      events === null ||
      typeof events !== 'object' ||
      !(Symbol.iterator in events || Symbol.asyncIterator in events)
    ) {
      throw configError('replay: events must be an array, an iterable or an async iterable', {});
    }
    this.events = options.events;
    this.speed = options.speed ?? 1;
    if (this.speed !== 'max' && !(Number.isFinite(this.speed) && this.speed > 0)) {
      throw configError("replay: speed must be a number > 0 or 'max'", { speed: this.speed });
    }
    this.loop = options.loop ?? false;
    this.rebase = options.rebase ?? true;
    this.history = resolveHistory(options.history);
    if (this.history.durationMs > 0 && !this.rebase)
      throw configError('replay: history needs rebase: true (recorded times cannot be moved into the past)', {});
  }

  async start(): Promise<void> {
    if (this.status !== 'idle') return;
    this.setStatus('live');
    this.playback = this.play();
  }

  async stop(): Promise<void> {
    if (this.status === 'idle' || this.status === 'live') this.setStatus('stopped');
    this.stopping.abort();
    await this.playback;
  }

  private async play(): Promise<void> {
    const signal = this.stopping.signal;
    const startedAt = Date.now();
    const startWall = startedAt - this.history.durationMs;
    const reiterable = Array.isArray(this.events);
    const buffered: MarketEvent[] = [];
    let firstTime: number | undefined;
    let timeShift = 0;
    let idShift = 0;
    try {
      for (let lap = 0; ; lap += 1) {
        const lapEvents = lap === 0 || reiterable ? this.events : buffered;
        const range = { minTime: Infinity, maxTime: -Infinity, minId: Infinity, maxId: -Infinity, count: 0 };
        for await (const raw of lapEvents) {
          if (signal.aborted) return;
          this.counters.messages += 1;
          let event: MarketEvent;
          try {
            event = parseMarketEvent(raw);
          } catch (error) {
            this.emitError(error as FeedMessageError);
            continue;
          }
          if (lap === 0 && this.loop && !reiterable) buffered.push(event);
          trackRange(range, event);
          const recorded = eventTime(event) + timeShift;
          firstTime ??= recorded;
          await this.waitFor(startWall, recorded - firstTime, range.count, signal, startedAt);
          if (signal.aborted) return;
          const time = this.rebase
            ? startWall + Math.round(this.speed === 'max' ? recorded - firstTime : (recorded - firstTime) / this.speed)
            : recorded;
          this.emitEvent(retime(event, time, idShift));
        }
        if (!this.loop || range.count === 0) break;
        const duration = range.maxTime - range.minTime;
        timeShift += duration + Math.max(1, Math.round(range.count > 1 ? duration / (range.count - 1) : 1000));
        if (range.maxId >= range.minId) idShift += range.maxId - range.minId + 1;
      }
      this.setStatus('ended');
    } catch (error) {
      // The recording itself failed (bad line, missing file): report it and end rather than crash.
      this.emitError(
        error instanceof FeedMessageError
          ? error
          : new FeedError(
              'recording-unreadable',
              `replay: recording could not be read: ${error instanceof Error ? error.message : String(error)}`,
              { cause: error },
            ),
      );
      if (!signal.aborted) this.setStatus('ended');
    }
  }

  private async waitFor(
    startWall: number,
    offsetMs: number,
    index: number,
    signal: AbortSignal,
    startedAt: number,
  ): Promise<void> {
    // History: events due before start() go out at once, in batches, with the receiver's backpressure in between.
    if (this.speed !== 'max' && startWall + offsetMs / this.speed <= startedAt) {
      if (++this.historyEvents % this.history.batchSize === 0) {
        await yieldToEventLoop();
        await this.history.pause();
      }
      return;
    }
    if (this.speed === 'max') {
      if (index % MAX_SPEED_BATCH === 0) await new Promise<void>((resolve) => setImmediate(resolve));
      return;
    }
    const delay = startWall + offsetMs / this.speed - Date.now();
    if (delay > 0) await sleep(delay, signal);
  }
}

function trackRange(
  range: { minTime: number; maxTime: number; minId: number; maxId: number; count: number },
  event: MarketEvent,
): void {
  const time = eventTime(event);
  range.count += 1;
  range.minTime = Math.min(range.minTime, time);
  range.maxTime = Math.max(range.maxTime, time);
  if (event.kind === 'trade') {
    range.minId = Math.min(range.minId, event.trade.id);
    range.maxId = Math.max(range.maxId, event.trade.id);
  }
}

function retime(event: MarketEvent, time: number, idShift: number): MarketEvent {
  return event.kind === 'ticker'
    ? { kind: 'ticker', ticker: { ...event.ticker, eventTime: time } }
    : { kind: 'trade', trade: { ...event.trade, time, id: event.trade.id + idShift } };
}

/**
 * Validates one recorded event (`{kind:'ticker', ticker}` or `{kind:'trade', trade}`) and returns a clean
 * copy holding only the schema fields.
 *
 * @throws FeedMessageError when it does not match the Ticker / Trade contract
 * @example
 * ```ts
 * const event = parseMarketEvent(JSON.parse(line));
 * ```
 */
export function parseMarketEvent(value: unknown): MarketEvent {
  const record = value as { kind?: unknown; ticker?: Record<string, unknown>; trade?: Record<string, unknown> } | null;
  if (record?.kind === 'ticker' && typeof record.ticker === 'object' && record.ticker !== null) {
    const t = record.ticker;
    const ticker = {
      symbol: t.symbol,
      bid: t.bid,
      bidSize: t.bidSize,
      ask: t.ask,
      askSize: t.askSize,
      dailyChange: t.dailyChange,
      dailyChangeRelative: t.dailyChangeRelative,
      lastPrice: t.lastPrice,
      volume: t.volume,
      high: t.high,
      low: t.low,
      eventTime: t.eventTime,
    } as Ticker;
    const problem = tickerProblem(ticker);
    if (problem) throw new FeedMessageError(`recorded ticker: ${problem}`, value);
    return { kind: 'ticker', ticker };
  }
  if (record?.kind === 'trade' && typeof record.trade === 'object' && record.trade !== null) {
    const t = record.trade;
    const trade = { id: t.id, symbol: t.symbol, time: t.time, amount: t.amount, price: t.price } as Trade;
    const problem = tradeProblem(trade);
    if (problem) throw new FeedMessageError(`recorded trade: ${problem}`, value);
    return { kind: 'trade', trade };
  }
  throw new FeedMessageError("recorded event must be {kind:'ticker', ticker} or {kind:'trade', trade}", value);
}

/**
 * Streams a recording from an NDJSON file: one {@link MarketEvent} JSON object per line (blank lines allowed).
 *
 * @throws FeedMessageError naming the line, when a line is not a valid event (iteration stops there)
 * @example
 * ```ts
 * for await (const event of loadRecording('session.ndjson')) console.log(event.kind);
 * ```
 */
export async function* loadRecording(path: string): AsyncGenerator<MarketEvent> {
  const lines = createInterface({ input: createReadStream(path, { encoding: 'utf8' }), crlfDelay: Infinity });
  let lineNumber = 0;
  for await (const line of lines) {
    lineNumber += 1;
    if (line.trim() === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      throw new FeedMessageError(`${path}:${lineNumber}: not valid JSON`, line);
    }
    try {
      yield parseMarketEvent(value);
    } catch (error) {
      throw new FeedMessageError(
        `${path}:${lineNumber}: ${(error as Error).message.replace(/^malformed feed message: /, '')}`,
        line,
      );
    }
  }
}

/**
 * Writes events as NDJSON (the format {@link loadRecording} reads). Pass a live source to record it until
 * it stops. Resolves with the number of events written.
 *
 * @example
 * ```ts
 * const source = createBitfinexWsSource({ symbols: ['tBTCUSD'] });
 * const written = saveRecording('session.ndjson', source); // source is an AsyncIterable
 * await source.start(); setTimeout(() => source.stop(), 60_000);
 * console.log(await written);
 * ```
 */
export async function saveRecording(
  path: string,
  events: Iterable<MarketEvent> | AsyncIterable<MarketEvent>,
): Promise<number> {
  const out = createWriteStream(path, { encoding: 'utf8' });
  const failed = once(out, 'error').then(([error]) => {
    throw error;
  });
  failed.catch(() => undefined);
  let count = 0;
  try {
    for await (const event of events) {
      if (!out.write(`${JSON.stringify(event)}\n`)) await Promise.race([once(out, 'drain'), failed]);
      count += 1;
    }
  } finally {
    out.end();
  }
  await Promise.race([once(out, 'finish'), failed]);
  return count;
}
