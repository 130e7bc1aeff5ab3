// Sink logger: the one adapter that keeps the sink's older message-first logger working on core's KandleLogger.
import { type KandleLogger, type KandleLogMethod, silentLogger } from '@kandle/core';

/**
 * The sink's former logger shape: message first, details second.
 *
 * @deprecated Pass a `KandleLogger` from `@kandle/core` (pino-shaped: `warn(obj, msg)`; a pino instance works as
 * is). A `SinkLogger` still works: it is told the same message, with the log object (minus `err`) as details.
 */
export interface SinkLogger {
  warn(message: string, details?: Record<string, unknown>): void;
  error(message: string, details?: Record<string, unknown>): void;
}

/**
 * Internal: the sink's logger as a {@link KandleLogger}. A logger with `debug` and `info` methods is taken as a
 * KandleLogger; one with only `warn` and `error` is a {@link SinkLogger} and is adapted; none is silent.
 */
export function sinkLoggerOf(logger: KandleLogger | SinkLogger | undefined): KandleLogger {
  if (!logger) return silentLogger;
  if (isKandleLogger(logger)) return logger;
  const legacy = logger;
  const ignore: KandleLogMethod = () => undefined;
  return {
    debug: ignore,
    info: ignore,
    warn: (obj, msg) => legacy.warn(msg ?? '', withoutErr(obj)),
    error: (obj, msg) => legacy.error(msg ?? '', withoutErr(obj)),
  };
}

function isKandleLogger(logger: KandleLogger | SinkLogger): logger is KandleLogger {
  const { debug, info } = logger as Partial<KandleLogger>;
  return typeof debug === 'function' && typeof info === 'function';
}

// The message already says what `err` says; the details keep what it does not (code, points, status).
function withoutErr(obj: Record<string, unknown>): Record<string, unknown> {
  const { err: _err, ...details } = obj;
  return details;
}
