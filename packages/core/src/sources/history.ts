// Sources / history: the backfill phase of the offline sources (the past at full speed, with backpressure, then live).
import { configError, requirePositive } from './source';

/**
 * Backfill before going live: the source starts `durationMs` back in event time and emits that past as fast as
 * the consumer of its events accepts, then continues live. Events keep their (past) event times, so candles built
 * downstream cover the history; the past is emitted in event-time order before any live event, so a watermark
 * downstream never sees it as late.
 */
export interface HistoryOptions {
  /** How far back in event time the source starts, in ms. Default 0: no backfill, start live. */
  durationMs?: number;
  /**
   * Awaited after every `batchSize` history events, so the receiver can apply backpressure (e.g. wait while a
   * producer has too many records in flight). The source also yields to the event loop between batches, so
   * delivery reports and HTTP keep flowing. Default: no extra wait.
   */
  pause?: () => Promise<void> | void;
  /** History events between two pauses. Default 1000. */
  batchSize?: number;
}

/** Internal: {@link HistoryOptions} with defaults applied and validated. */
export interface ResolvedHistory {
  durationMs: number;
  pause: () => Promise<void> | void;
  batchSize: number;
}

/** Internal: fills the defaults of {@link HistoryOptions}; throws CONFIG_INVALID on bad values. */
export function resolveHistory(options: HistoryOptions | undefined): ResolvedHistory {
  const durationMs = options?.durationMs ?? 0;
  requirePositive('history.durationMs', durationMs, true);
  const batchSize = options?.batchSize ?? 1000;
  if (!Number.isSafeInteger(batchSize) || batchSize < 1)
    throw configError('history.batchSize must be an integer ≥ 1', { batchSize });
  return { durationMs, batchSize, pause: options?.pause ?? (() => undefined) };
}

/** Lets timers and I/O (delivery reports, HTTP) run between history batches. */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
