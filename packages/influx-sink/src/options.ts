// Sink options: the typed settings of the InfluxDB sink, their defaults, env fallbacks and validation.
import { ConfigError, type KandleLogger } from '@kandle/core';
import { type SinkLogger, sinkLoggerOf } from './sink-logger';

/** Measurement (table) names, one per record kind. */
export interface MeasurementNames {
  /** Default `candles`. */
  candles: string;
  /** Default `tickers`. */
  tickers: string;
  /** Default `trades`. */
  trades: string;
}

/**
 * Options of {@link createInfluxSink}. Only the connection needs a value, and it may come from the environment.
 *
 * @example
 * ```ts
 * const sink = createInfluxSink({ host: 'http://127.0.0.1:8181', database: 'kandle', batchSize: 5000 });
 * ```
 */
export interface InfluxSinkOptions {
  /** Server base URL, e.g. `http://127.0.0.1:8181`. Default `$INFLUX_HOST`; required. */
  host?: string;
  /** API token. Default `$INFLUX_TOKEN`; required by the client (a server started `--without-auth` accepts any value). Never logged. */
  token?: string;
  /** Database (v2 API: bucket) to write to. Default `$INFLUX_DATABASE`; required. */
  database?: string;
  /** `Authorization` scheme sent before the token: `Token` (client default) or `Bearer`. Default `$INFLUX_AUTH_SCHEME`, else the client's. */
  authScheme?: string;
  /** Measurement names per record kind. Default `{ candles: 'candles', tickers: 'tickers', trades: 'trades' }`. */
  measurements?: Partial<MeasurementNames>;
  /** Points per write request; a full batch is sent at once. Default 1000. */
  batchSize?: number;
  /** A non-full batch is sent at the latest this long after its first point arrived. Default 1000 ms. */
  flushIntervalMs?: number;
  /**
   * A non-full batch is sent once no write() has added points for this long (or at `flushIntervalMs`, whichever
   * comes first). A consumer that awaits each write sends nothing more until it resolves, so without a short linger
   * it would wait a whole `flushIntervalMs` per write. Larger values give fuller batches (fewer requests) to callers
   * that write without awaiting; `Infinity` restores the old behaviour (only batch size and `flushIntervalMs`).
   * Default 5 ms.
   */
  lingerMs?: number;
  /** Points buffered or in flight at most; beyond that `write()` waits for room. Default 50000. */
  maxPendingPoints?: number;
  /**
   * Request bodies larger than this many bytes are gzipped (client option, zlib's default level). `Infinity` turns
   * gzip off. Gzip shrinks candle line protocol about 25x (116 to 4.5 bytes per point) for about 2 µs of CPU per
   * point, close to half of the sink's own CPU: worth it over a real network, not on loopback or a fast LAN.
   * Default 1000.
   */
  gzipThreshold?: number;
  /** Retries of one batch before its points fail. Default `Infinity`: while the server is down the sink keeps trying and its callers wait. */
  maxRetries?: number;
  /** Milliseconds one batch may spend retrying before its points fail. Default `Infinity` (see `maxRetries`). */
  maxRetryTimeMs?: number;
  /** Cap of the first backoff window; window n is `min(retryMaxDelayMs, retryBaseDelayMs · 2^(n-1))`. Default 200 ms. */
  retryBaseDelayMs?: number;
  /** Largest backoff window. Default 5000 ms. */
  retryMaxDelayMs?: number;
  /** A write request whose connection stays silent this long fails with a timeout, its connection is closed, and it is retried. Default 10000 ms. */
  requestTimeoutMs?: number;
  /** How long `close()` waits for buffered points before failing them. Default 30000 ms. */
  closeTimeoutMs?: number;
  /**
   * Receives retry warnings (`warn`, with a retriable `SINK_WRITE_FAILED` KandleError under `err`) and batch
   * failures (`error`, with the {@link SinkWriteError}). Messages never contain the token. A pino-shaped
   * `KandleLogger` from `@kandle/core`; the older message-first {@link SinkLogger} (no `debug`/`info`) is still
   * accepted. Default: silent (see docs/logging.md); failed points also reject their `write()`.
   */
  logger?: KandleLogger | SinkLogger;
}

/** {@link InfluxSinkOptions} with every default applied and every value checked. */
export interface ResolvedSinkOptions {
  host: string;
  token: string;
  database: string;
  authScheme: string | undefined;
  measurements: MeasurementNames;
  batchSize: number;
  flushIntervalMs: number;
  lingerMs: number;
  maxPendingPoints: number;
  gzipThreshold: number;
  maxRetries: number;
  maxRetryTimeMs: number;
  retryBaseDelayMs: number;
  retryMaxDelayMs: number;
  requestTimeoutMs: number;
  closeTimeoutMs: number;
  logger: KandleLogger;
}

/** Defaults of every tunable option, as documented on {@link InfluxSinkOptions}. */
export const SINK_DEFAULTS = Object.freeze({
  measurements: Object.freeze({ candles: 'candles', tickers: 'tickers', trades: 'trades' }),
  batchSize: 1000,
  flushIntervalMs: 1000,
  lingerMs: 5,
  maxPendingPoints: 50_000,
  gzipThreshold: 1000,
  maxRetries: Number.POSITIVE_INFINITY,
  maxRetryTimeMs: Number.POSITIVE_INFINITY,
  retryBaseDelayMs: 200,
  retryMaxDelayMs: 5000,
  requestTimeoutMs: 10_000,
  closeTimeoutMs: 30_000,
});

/** Applies env fallbacks and defaults; throws {@link ConfigError} naming the first bad value. */
export function resolveSinkOptions(
  options: InfluxSinkOptions,
  env: NodeJS.ProcessEnv = process.env,
): ResolvedSinkOptions {
  const host = nonEmpty(options.host ?? env.INFLUX_HOST);
  if (!host) throw new ConfigError('InfluxDB host missing: pass `host` or set INFLUX_HOST');
  if (!/^https?:\/\/[^\s/]+/.test(host)) {
    throw new ConfigError(`InfluxDB host must be an http(s) URL, got "${host}"`, { host });
  }
  const database = nonEmpty(options.database ?? env.INFLUX_DATABASE);
  if (!database) throw new ConfigError('InfluxDB database missing: pass `database` or set INFLUX_DATABASE');
  const token = nonEmpty(options.token ?? env.INFLUX_TOKEN);
  if (!token) {
    throw new ConfigError(
      'InfluxDB token missing: pass `token` or set INFLUX_TOKEN (a server without auth accepts any value)',
    );
  }

  const measurements: MeasurementNames = { ...SINK_DEFAULTS.measurements, ...definedOnly(options.measurements ?? {}) };
  for (const [kind, name] of Object.entries(measurements)) {
    if (typeof name !== 'string' || name.trim() === '')
      throw new ConfigError(`measurements.${kind} must be a non-empty string`);
  }

  const resolved: ResolvedSinkOptions = {
    host: host.replace(/\/+$/, ''),
    token,
    database,
    authScheme: nonEmpty(options.authScheme ?? env.INFLUX_AUTH_SCHEME),
    measurements,
    batchSize: positiveInteger('batchSize', options.batchSize ?? SINK_DEFAULTS.batchSize),
    flushIntervalMs: nonNegative('flushIntervalMs', options.flushIntervalMs ?? SINK_DEFAULTS.flushIntervalMs, false),
    lingerMs: nonNegative('lingerMs', options.lingerMs ?? SINK_DEFAULTS.lingerMs, true),
    maxPendingPoints: positiveInteger('maxPendingPoints', options.maxPendingPoints ?? SINK_DEFAULTS.maxPendingPoints),
    gzipThreshold: nonNegative('gzipThreshold', options.gzipThreshold ?? SINK_DEFAULTS.gzipThreshold, true),
    maxRetries: nonNegative('maxRetries', options.maxRetries ?? SINK_DEFAULTS.maxRetries, true),
    maxRetryTimeMs: nonNegative('maxRetryTimeMs', options.maxRetryTimeMs ?? SINK_DEFAULTS.maxRetryTimeMs, true),
    retryBaseDelayMs: nonNegative(
      'retryBaseDelayMs',
      options.retryBaseDelayMs ?? SINK_DEFAULTS.retryBaseDelayMs,
      false,
    ),
    retryMaxDelayMs: nonNegative('retryMaxDelayMs', options.retryMaxDelayMs ?? SINK_DEFAULTS.retryMaxDelayMs, false),
    requestTimeoutMs: positiveInteger('requestTimeoutMs', options.requestTimeoutMs ?? SINK_DEFAULTS.requestTimeoutMs),
    closeTimeoutMs: nonNegative('closeTimeoutMs', options.closeTimeoutMs ?? SINK_DEFAULTS.closeTimeoutMs, true),
    logger: sinkLoggerOf(options.logger),
  };
  if (resolved.maxPendingPoints < resolved.batchSize) {
    throw new ConfigError(
      `maxPendingPoints (${resolved.maxPendingPoints}) must be at least batchSize (${resolved.batchSize})`,
    );
  }
  if (resolved.retryMaxDelayMs < resolved.retryBaseDelayMs) {
    throw new ConfigError(
      `retryMaxDelayMs (${resolved.retryMaxDelayMs}) must be at least retryBaseDelayMs (${resolved.retryBaseDelayMs})`,
    );
  }
  return resolved;
}

function nonEmpty(value: string | undefined): string | undefined {
  const trimmed = value?.trim();
  return trimmed ? trimmed : undefined;
}

function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function positiveInteger(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) throw new ConfigError(`${name} must be a positive integer, got ${value}`);
  return value;
}

function nonNegative(name: string, value: number, infinityAllowed: boolean): number {
  const ok =
    typeof value === 'number' &&
    value >= 0 &&
    (Number.isFinite(value) || (infinityAllowed && value === Number.POSITIVE_INFINITY));
  if (!ok)
    throw new ConfigError(
      `${name} must be a non-negative number${infinityAllowed ? ' or Infinity' : ''}, got ${value}`,
    );
  return value;
}
