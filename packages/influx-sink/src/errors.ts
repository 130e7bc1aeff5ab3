// Sink / errors: the failure of the last step (points InfluxDB could not store), a KandleError like every other.
import { KandleError } from '@kandle/core';

/**
 * A sink could not make a batch durable: InfluxDB refused the points for good, or retries ran out, or the sink was
 * closed before they were stored. `details` says which points (measurement, symbol, HTTP status) where known.
 *
 * @example
 * ```ts
 * try { await sink.write(update) } catch (e) {
 *   if (e instanceof SinkWriteError) log.warn(e.message, e.details); // skip it, like a dead letter
 * }
 * ```
 */
export class SinkWriteError extends KandleError {
  constructor(message: string, details: Record<string, unknown>, cause?: unknown) {
    super('SINK_WRITE_FAILED', message, { cause, details });
  }
}
