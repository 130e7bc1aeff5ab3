// Sink: sends buffered points to InfluxDB 3 in batches, retrying what may succeed, and settles each write() by durability.
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import type { Socket } from 'node:net';
import { InfluxDBClient, setLogger } from '@influxdata/influxdb3-client';
import { type CandleUpdate, errorLogFields, fullJitterMs, KandleError, type Ticker, type Trade } from '@kandle/core';
import { SinkWriteError } from './errors';
import { type PendingEntry, PointBuffer } from './batcher';
import { type InfluxSinkOptions, type ResolvedSinkOptions, resolveSinkOptions } from './options';
import { candleToPoint, type LinePoint, renderLine, SeriesCache, tickerToPoint, tradeToPoint } from './points';
import { classifyWriteError, offendingLineIndexes, type WriteFailure } from './write-failure';

/** Counters of one sink since it was created. */
export interface SinkStats {
  /** Points the server accepted (after coalescing). */
  pointsWritten: number;
  /** Write requests the server accepted. */
  batchesWritten: number;
  /** Write requests repeated after a retryable failure. */
  retries: number;
  /** Points that failed for good (their writes were rejected). */
  failedPoints: number;
  /** Write requests that failed for good (a batch split after a 4xx counts once per request). */
  failedBatches: number;
  /** Updates merged into a not-yet-sent point of the same series and timestamp. */
  coalescedPoints: number;
  /** Points buffered or in flight (bounded by `maxPendingPoints`). */
  pendingPoints: number;
  /** Points of writes waiting for room in the buffer. */
  waitingPoints: number;
  /** The latest failure, retried or not; `null` until one happens. Never contains the token. */
  lastError: { message: string; status?: number; at: number } | null;
}

/**
 * Writes kandle records to InfluxDB 3. Every write method resolves only once all its points are durable
 * (their batch was accepted), so a Kafka consumer may commit offsets right after awaiting it.
 */
export interface InfluxSink {
  /** Upserts candles: every update of one candle lands on the same point. Rejects with `SinkWriteError` if a point can never be stored. */
  write(updates: readonly CandleUpdate[]): Promise<void>;
  /** Writes raw tickers to the tickers measurement (same contract as {@link InfluxSink.write}). */
  writeTickers(tickers: readonly Ticker[]): Promise<void>;
  /** Writes raw trades to the trades measurement (same contract as {@link InfluxSink.write}). */
  writeTrades(trades: readonly Trade[]): Promise<void>;
  /** Sends everything written so far without waiting for full batches; rejects with the first failure among them. */
  flush(): Promise<void>;
  /** Refuses new writes, flushes (failing what is still unsent after `closeTimeoutMs`) and releases the client. Never rejects. */
  close(): Promise<void>;
  stats(): SinkStats;
}

/**
 * Creates a sink writing to InfluxDB 3 through `@influxdata/influxdb3-client` (`/api/v2/write`, precision ms).
 * Connection settings fall back to `INFLUX_HOST`, `INFLUX_TOKEN` and `INFLUX_DATABASE`.
 *
 * @throws ConfigError when the host, token or database is missing or an option is out of range.
 * @example
 * ```ts
 * const sink = createInfluxSink({ host: 'http://127.0.0.1:8181', database: 'kandle' });
 * await sink.write(updates);        // durable once this resolves: safe to commit the Kafka offsets
 * await sink.close();
 * ```
 */
export function createInfluxSink(options: InfluxSinkOptions = {}): InfluxSink {
  return new BatchingInfluxSink(resolveSinkOptions(options));
}

class BatchingInfluxSink implements InfluxSink {
  private readonly client: InfluxDBClient;
  private readonly agent: HttpAgent;
  private readonly buffer: PointBuffer;
  // One cache per record kind: their tag lists differ, so their keys must never meet.
  private readonly candleSeries = new SeriesCache();
  private readonly tickerSeries = new SeriesCache();
  private readonly counters = { pointsWritten: 0, batchesWritten: 0, retries: 0, failedPoints: 0, failedBatches: 0 };
  private lastError: SinkStats['lastError'] = null;
  private flushTimer: NodeJS.Timeout | undefined;
  /** When the flush timer was armed for the points now buffered (their batch's age counts from here). */
  private batchOpenedAt = 0;
  /** When the latest write() put points into the buffer (the linger counts from here). */
  private lastWriteAt = 0;
  private sending = false;
  /** Send non-full batches until the buffer is empty (set by the flush timer, flush() and close()). */
  private draining = false;
  private closing: Promise<void> | undefined;
  private aborted = false;
  private wakeRetrySleep: (() => void) | undefined;
  private idleWaiters: Array<() => void> = [];

  constructor(private readonly options: ResolvedSinkOptions) {
    muteClientWriteFailureLog();
    this.agent = closingAgent(options.host, options.requestTimeoutMs);
    this.client = new InfluxDBClient({
      host: options.host,
      database: options.database,
      writeTimeout: options.requestTimeoutMs,
      token: options.token,
      transportOptions: { agent: this.agent },
      ...(options.authScheme === undefined ? {} : { authScheme: options.authScheme }),
      // noSync stays false: with it the server answers before the WAL is persisted, which would break the ack contract.
      writeOptions: { precision: 'ms', gzipThreshold: options.gzipThreshold, noSync: false },
    });
    this.buffer = new PointBuffer(options.maxPendingPoints);
  }

  write(updates: readonly CandleUpdate[]): Promise<void> {
    const measurement = this.options.measurements.candles;
    return this.enqueue(() => updates.map((update) => candleToPoint(update.candle, measurement, this.candleSeries)));
  }

  writeTickers(tickers: readonly Ticker[]): Promise<void> {
    const measurement = this.options.measurements.tickers;
    return this.enqueue(() => tickers.map((ticker) => tickerToPoint(ticker, measurement, this.tickerSeries)));
  }

  writeTrades(trades: readonly Trade[]): Promise<void> {
    const measurement = this.options.measurements.trades;
    return this.enqueue(() => trades.map((trade) => tradeToPoint(trade, measurement)));
  }

  async flush(): Promise<void> {
    const open = this.buffer.openTickets();
    if (open.length === 0) return;
    this.draining = true;
    this.kick();
    const results = await Promise.allSettled(open.map((ticket) => ticket.promise));
    const failure = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failure) throw failure.reason;
  }

  close(): Promise<void> {
    this.closing ??= this.shutDown();
    return this.closing;
  }

  stats(): SinkStats {
    return {
      ...this.counters,
      coalescedPoints: this.buffer.coalesced,
      pendingPoints: this.buffer.pendingCount,
      waitingPoints: this.buffer.waitingCount,
      lastError: this.lastError,
    };
  }

  private enqueue(toPoints: () => LinePoint[]): Promise<void> {
    if (this.closing) return Promise.reject(new SinkWriteError('the InfluxDB sink is closed', {}));
    let points: LinePoint[];
    try {
      // Convert the whole write first: a bad record rejects it before any of its points are buffered.
      points = toPoints();
    } catch (error) {
      return Promise.reject(error);
    }
    if (points.length === 0) return Promise.resolve();
    const ticket = this.buffer.enqueue(points);
    this.admit();
    return ticket.promise;
  }

  private admit(): void {
    this.buffer.admit();
    this.lastWriteAt = Date.now();
    if (this.buffer.bufferedCount >= this.options.batchSize) this.kick();
    else if (this.buffer.bufferedCount > 0) this.armFlushTimer();
  }

  /**
   * A non-full batch goes out once writes pause for `lingerMs` (a caller awaiting its write sends nothing more until
   * it resolves, so waiting longer only delays it) or once it is `flushIntervalMs` old, whichever comes first.
   * The timer is re-armed when it fires rather than on every write, which would cost a timer per write() call.
   */
  private armFlushTimer(): void {
    if (this.flushTimer || this.sending) return;
    this.batchOpenedAt = Date.now();
    this.scheduleFlush(this.batchOpenedAt);
  }

  private scheduleFlush(now: number): void {
    const { lingerMs, flushIntervalMs } = this.options;
    const dueAt = Math.min(this.lastWriteAt + lingerMs, this.batchOpenedAt + flushIntervalMs);
    this.flushTimer = setTimeout(
      () => {
        this.flushTimer = undefined;
        const firedAt = Date.now();
        if (firedAt < Math.min(this.lastWriteAt + lingerMs, this.batchOpenedAt + flushIntervalMs)) {
          // Writes kept coming while the timer ran: linger again from the latest one.
          this.scheduleFlush(firedAt);
          return;
        }
        this.draining = true;
        this.kick();
      },
      Math.max(0, dueAt - now),
    );
  }

  private kick(): void {
    if (this.sending) return;
    this.sending = true;
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    void this.sendLoop();
  }

  // One batch in flight at a time: a later version of a point can never overtake an earlier one on the wire.
  private async sendLoop(): Promise<void> {
    try {
      for (;;) {
        const buffered = this.buffer.bufferedCount;
        if (buffered === 0) {
          this.draining = false;
          break;
        }
        if (buffered < this.options.batchSize && !this.draining && !this.closing) break;
        const batch = this.buffer.take(this.options.batchSize);
        await this.sendBatch(batch);
        this.buffer.admit();
      }
    } catch (error) {
      // sendBatch settles its own entries; reaching here is a bug, so fail loudly instead of hanging writers.
      this.options.logger.error({ error: this.scrub(String(error)) }, 'influx sink send loop crashed');
      this.buffer.failUnsent(new SinkWriteError('the InfluxDB sink failed internally', {}, error));
    }
    this.sending = false;
    if (this.buffer.bufferedCount > 0) this.armFlushTimer();
    if (this.buffer.pendingCount === 0) for (const resolve of this.idleWaiters.splice(0)) resolve();
  }

  /** Sends one batch until it is accepted or can never be; settles every entry either way. Never throws. */
  private async sendBatch(entries: PendingEntry[]): Promise<void> {
    let remaining = entries;
    const startedAt = Date.now();
    let attempt = 0;
    while (remaining.length > 0) {
      if (this.aborted) {
        this.failEntries(
          remaining,
          new SinkWriteError('the InfluxDB sink was closed before these points were stored', {
            points: remaining.length,
          }),
        );
        return;
      }
      try {
        await this.client.write(requestBody(remaining), this.options.database, undefined, {
          precision: 'ms',
          gzipThreshold: this.options.gzipThreshold,
        });
        this.buffer.ack(remaining);
        this.counters.batchesWritten++;
        this.counters.pointsWritten += remaining.length;
        return;
      } catch (error) {
        const failure = classifyWriteError(error);
        this.recordError(failure);
        if (!failure.retryable) {
          if (failure.status === 413 && remaining.length > 1) {
            // Too large for the server: halves are sent one after the other, each with its own retry budget.
            const half = Math.ceil(remaining.length / 2);
            await this.sendBatch(remaining.slice(0, half));
            await this.sendBatch(remaining.slice(half));
            return;
          }
          const lines = remaining.map(renderLine);
          const blamed = new Set(offendingLineIndexes(failure.body, lines));
          if (blamed.size > 0 && blamed.size < remaining.length) {
            // The server named the bad lines: fail those, resend the rest (re-sending already stored lines is harmless).
            const bad = remaining.filter((_, i) => blamed.has(i));
            this.failEntries(bad, this.rejection(failure, bad, error, attempt));
            remaining = remaining.filter((_, i) => !blamed.has(i));
            continue;
          }
          const culprits = blamed.size > 0 ? remaining : remaining.slice(0, 1);
          this.failEntries(remaining, this.rejection(failure, culprits, error, attempt));
          return;
        }
        attempt++;
        const delay = Math.max(
          failure.retryAfterMs ?? 0,
          fullJitterMs(attempt - 1, this.options.retryBaseDelayMs, this.options.retryMaxDelayMs),
        );
        if (attempt > this.options.maxRetries || Date.now() - startedAt + delay > this.options.maxRetryTimeMs) {
          this.failEntries(remaining, this.gaveUp(failure, remaining, error, attempt - 1, Date.now() - startedAt));
          return;
        }
        this.counters.retries++;
        const retrying = new KandleError(
          'SINK_WRITE_FAILED',
          `write of ${remaining.length} points failed (${this.scrub(failure.message)}); retry ${attempt} in ${delay} ms`,
          { retriable: true, details: { points: remaining.length, attempt, delayMs: delay, status: failure.status } },
        );
        this.options.logger.warn({ ...errorLogFields(retrying), points: remaining.length }, retrying.message);
        await this.retrySleep(delay);
      }
    }
  }

  private failEntries(entries: PendingEntry[], error: SinkWriteError): void {
    this.counters.failedBatches++;
    this.counters.failedPoints += entries.length;
    this.lastError = { message: error.message, at: Date.now(), ...statusOf(error) };
    this.options.logger.error({ ...errorLogFields(error), points: entries.length }, error.message);
    this.buffer.fail(entries, error);
  }

  private rejection(failure: WriteFailure, culprits: PendingEntry[], cause: unknown, retries: number): SinkWriteError {
    const shown = culprits.slice(0, 5).map((entry) => truncate(this.scrub(renderLine(entry))));
    return new SinkWriteError(
      `InfluxDB refused ${culprits.length === 1 ? 'a point' : `${culprits.length} points`} (${this.scrub(failure.message)}); first refused line: ${shown[0] ?? '?'}`,
      {
        ...(failure.status === undefined ? {} : { status: failure.status }),
        lines: shown,
        ...(failure.body === undefined ? {} : { body: truncate(this.scrub(failure.body)) }),
        retries,
      },
      this.safeCause(cause),
    );
  }

  private gaveUp(
    failure: WriteFailure,
    entries: PendingEntry[],
    cause: unknown,
    retries: number,
    elapsedMs: number,
  ): SinkWriteError {
    return new SinkWriteError(
      `InfluxDB write of ${entries.length} points still failing after ${retries} retries in ${elapsedMs} ms (${this.scrub(failure.message)}); first line: ${truncate(this.scrub(entries[0] ? renderLine(entries[0]) : ''))}`,
      {
        ...(failure.status === undefined ? {} : { status: failure.status }),
        retries,
        elapsedMs,
        points: entries.length,
      },
      this.safeCause(cause),
    );
  }

  private recordError(failure: WriteFailure): void {
    this.lastError = {
      message: this.scrub(failure.message),
      at: Date.now(),
      ...(failure.status === undefined ? {} : { status: failure.status }),
    };
  }

  // The client's errors carry response headers and bodies; keep only a scrubbed name, message and code.
  private safeCause(error: unknown): Error {
    const safe = new Error(this.scrub(error instanceof Error ? error.message : String(error)));
    if (error instanceof Error) safe.name = error.name;
    const code = (error as { code?: unknown } | null)?.code;
    if (typeof code === 'string') (safe as Error & { code?: string }).code = code;
    return safe;
  }

  /** Removes the token verbatim: `redactSecrets` only recognises it next to a keyword, a server might echo it bare. */
  private scrub(text: string): string {
    return text.split(this.options.token).join('[redacted]');
  }

  private retrySleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      const self = this;
      function done() {
        clearTimeout(timer);
        if (self.wakeRetrySleep === done) self.wakeRetrySleep = undefined;
        resolve();
      }
      this.wakeRetrySleep = done;
    });
  }

  private async shutDown(): Promise<void> {
    const limit = this.options.closeTimeoutMs;
    const giveUp = Number.isFinite(limit) ? setTimeout(() => this.abort(), limit) : undefined;
    try {
      await this.flush().catch(() => undefined);
      if (this.sending) await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
    } finally {
      if (giveUp) clearTimeout(giveUp);
      if (this.flushTimer) clearTimeout(this.flushTimer);
      this.flushTimer = undefined;
      await this.client.close().catch(() => undefined);
      this.agent.destroy();
    }
  }

  private abort(): void {
    this.aborted = true;
    const unsent = this.buffer.failUnsent(
      new SinkWriteError('the InfluxDB sink was closed before these points were stored', {}),
    );
    if (unsent > 0) {
      this.counters.failedPoints += unsent;
      this.options.logger.error({ points: unsent }, `close timed out: ${unsent} unsent points failed`);
    }
    this.wakeRetrySleep?.();
  }
}

/**
 * The client's write timeout only rejects the request (RequestTimedOutError); it leaves the socket open, so a server
 * that accepts and never answers would keep one hung connection per retry for as long as it stays silent. This agent
 * destroys a socket once it has been idle for the request timeout, which ends the hung request for good.
 */
function closingAgent(host: string, requestTimeoutMs: number): HttpAgent {
  const close = (socket: Socket): Socket => {
    socket.setTimeout(requestTimeoutMs);
    socket.on('timeout', () => socket.destroy());
    return socket;
  };
  // keepAlive as Node's global agent has it since Node 19: batches reuse one connection.
  if (host.startsWith('https:')) {
    return new (class extends HttpsAgent {
      override createConnection(...args: Parameters<HttpsAgent['createConnection']>) {
        return close(super.createConnection(...args) as Socket);
      }
    })({ keepAlive: true });
  }
  return new (class extends HttpAgent {
    override createConnection(...args: Parameters<HttpAgent['createConnection']>) {
      return close(super.createConnection(...args) as Socket);
    }
  })({ keepAlive: true });
}

/**
 * One request body: the batch's lines rendered and joined into one flat string. The client's async `write` keeps its
 * argument alive until the server answers, so it gets this one string rather than the array of a thousand lines,
 * which then die young instead of being copied by every collection during the request.
 */
function requestBody(entries: readonly PendingEntry[]): string {
  const lines = new Array<string>(entries.length);
  for (let i = 0; i < entries.length; i++) lines[i] = renderLine(entries[i] as PendingEntry);
  return lines.join('\n');
}

function statusOf(error: SinkWriteError): { status?: number } {
  const status = error.details.status;
  return typeof status === 'number' ? { status } : {};
}

function truncate(text: string): string {
  return text.length > 500 ? `${text.slice(0, 500)}…` : text;
}

let clientLogMuted = false;

// The client prints every failed write to console.error, including each retry while a server is down; the sink
// reports those itself (logger, stats, SinkWriteError), so only that one message is dropped, process-wide.
function muteClientWriteFailureLog(): void {
  if (clientLogMuted) return;
  clientLogMuted = true;
  const previous = setLogger({
    error(message, error) {
      if (!message.startsWith('Write to InfluxDB failed')) previous.error(message, error);
    },
    warn(message, error) {
      previous.warn(message, error);
    },
  });
}
