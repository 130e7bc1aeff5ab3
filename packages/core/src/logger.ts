// Logger: the one place kandle reports problems it handles by itself (retries, skipped records, dropped events).
import type { KandleError } from './errors';

/**
 * One log method: a structured object first, then an optional message, as pino and bunyan take them. kandle puts
 * the problem under `err` (a {@link KandleError} when it has one) with its `code` and `retriable` beside it.
 */
export type KandleLogMethod = (obj: Record<string, unknown>, msg?: string) => void;

/**
 * Where kandle reports what it handles by itself: transient failures it retries, records it skips, events it
 * drops. Errors kandle cannot handle are thrown or rejected instead, never only logged.
 *
 * The shape is pino's (`level(obj, msg)`), so a pino or bunyan logger can be passed as is. Default everywhere:
 * {@link silentLogger}; {@link consoleLogger} prints to the console.
 *
 * @example
 * ```ts
 * import pino from 'pino';
 * const kandle = createKandle({ logger: pino() });
 * // or, without a logging library:
 * const consumer = await createCandleConsumer({ groupId: 'candles', logger: consoleLogger() });
 * ```
 */
export interface KandleLogger {
  /** Detail for finding a fault (a coordinator not ready yet while a group settles). */
  debug: KandleLogMethod;
  /** Progress worth knowing in normal operation. */
  info: KandleLogMethod;
  /** A problem kandle handles by itself: a retry, a skipped record, a dropped event. The old `onWarning`. */
  warn: KandleLogMethod;
  /** A failure kandle gave up on (its caller is told too, by a rejected promise or a thrown error). */
  error: KandleLogMethod;
}

/** Log levels, least to most severe. */
export type KandleLogLevel = keyof KandleLogger;

const LEVELS: readonly KandleLogLevel[] = ['debug', 'info', 'warn', 'error'];
const ignore: KandleLogMethod = () => undefined;

/** The default logger: drops everything. */
export const silentLogger: KandleLogger = Object.freeze({ debug: ignore, info: ignore, warn: ignore, error: ignore });

/** Options of {@link consoleLogger}. */
export interface ConsoleLoggerOptions {
  /** Least severe level printed. Default `'warn'`. */
  level?: KandleLogLevel;
  /** Printed before each message. Default `'[kandle]'`. */
  prefix?: string;
  /** Prints one formatted line. Default: `console[level](line)`. */
  write?: (line: string, level: KandleLogLevel) => void;
}

/**
 * A logger that prints one line per entry to the console: the prefix, the message, the error's code in brackets
 * (and its message when it differs), or the object as JSON when it holds no error.
 *
 * @example
 * ```ts
 * const producer = await createCryptoProducer({ logger: consoleLogger({ level: 'info', prefix: '[feed]' }) });
 * // [feed] offset commit failed [COMMIT_FAILED]
 * ```
 */
export function consoleLogger(options: ConsoleLoggerOptions = {}): KandleLogger {
  const prefix = options.prefix ?? '[kandle]';
  const least = LEVELS.indexOf(options.level ?? 'warn');
  const write = options.write ?? ((line: string, level: KandleLogLevel) => console[level](line));
  const methodFor =
    (level: KandleLogLevel): KandleLogMethod =>
    (obj, msg) =>
      write(formatLine(prefix, obj, msg), level);
  return {
    debug: least <= 0 ? methodFor('debug') : ignore,
    info: least <= 1 ? methodFor('info') : ignore,
    warn: least <= 2 ? methodFor('warn') : ignore,
    error: methodFor('error'),
  };
}

/** `prefix msg [CODE] err.message`, each part only when present and new. */
function formatLine(prefix: string, obj: Record<string, unknown>, msg: string | undefined): string {
  const { err } = obj;
  const parts = [prefix, msg];
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    if (code !== undefined) parts.push(`[${String(code)}]`);
    if (err.message !== msg) parts.push(err.message);
  } else if (Object.keys(obj).length > 0) {
    parts.push(JSON.stringify(obj));
  }
  return parts.filter((part) => part).join(' ');
}

/**
 * The object kandle logs a {@link KandleError} with: pino's `err` key, plus its `code` and `retriable` beside it so
 * log queries can filter on them. Use it to log your own errors the same way.
 *
 * @example
 * ```ts
 * logger.error({ ...errorLogFields(e), points: 3 }, e.message);
 * ```
 */
export function errorLogFields(error: KandleError): Record<string, unknown> {
  return { err: error, code: error.code, retriable: error.retriable };
}

/** Internal: logs `error` as a warning, its message as the log message. */
export function logWarning(logger: KandleLogger, error: KandleError): void {
  logger.warn(errorLogFields(error), error.message);
}

/**
 * Internal, the one adapter of the deprecated `onWarning` callbacks: a logger whose warnings about a
 * {@link KandleError} also reach `onWarning`, with the same error object. Without `onWarning` it is `logger`.
 */
export function withWarningCallback(
  logger: KandleLogger | undefined,
  onWarning: ((error: KandleError) => void) | undefined,
): KandleLogger {
  const base = logger ?? silentLogger;
  if (!onWarning) return base;
  return {
    debug: (obj, msg) => base.debug(obj, msg),
    info: (obj, msg) => base.info(obj, msg),
    error: (obj, msg) => base.error(obj, msg),
    warn: (obj, msg) => {
      base.warn(obj, msg);
      if (isKandleError(obj.err)) onWarning(obj.err);
    },
  };
}

function isKandleError(value: unknown): value is KandleError {
  return value instanceof Error && typeof (value as { code?: unknown }).code === 'string' && 'retriable' in value;
}
