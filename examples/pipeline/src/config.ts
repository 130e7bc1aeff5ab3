// Config: environment variables → the pipeline's typed, validated options (every problem reported at once).
import { existsSync } from 'node:fs';
import {
  bitfinexSymbolProblem,
  type CandleInterval,
  ConfigError,
  parseInterval,
  resolveKafkaConnection,
  resolveRegistryConnection,
  TOP_SYMBOLS,
} from '@kandle/core';

/** Where market data comes from. `bitfinex` needs the internet; the other two run offline. */
export type SourceKind = 'synthetic' | 'replay' | 'bitfinex';

/**
 * Which local stack the job uses when `KAFKA_BROKERS` is unset: `auto` (a running JVM stack, else the Docker Compose
 * stack when Docker answers, else new JVMs), `jvm` (never touches Docker) or `compose` (Docker required).
 */
export type StackMode = 'auto' | 'jvm' | 'compose';

/** The consumer-group strategies librdkafka runs natively (custom assignors: see examples/custom-assignor). */
export type NativeAssignment = 'range' | 'roundrobin' | 'cooperative-sticky';

/** InfluxDB 3 connection of the optional sink. */
export interface InfluxConfig {
  host: string;
  token: string;
  database: string;
  /** `KANDLE_INFLUX_TICKERS`, default true: also copy every ticker to the `tickers` measurement. */
  tickers: boolean;
  /** `KANDLE_INFLUX_TRADES`, default true: also copy every trade to the `trades` measurement. */
  trades: boolean;
}

/** Everything the main job reads from the environment, with defaults applied. */
export interface PipelineConfig {
  /** `KAFKA_BROKERS`; undefined → use (or start) the local stack. */
  kafkaBrokers: string | undefined;
  /** `SCHEMA_REGISTRY_URL`; set together with `KAFKA_BROKERS`. */
  schemaRegistryUrl: string | undefined;
  /** `KANDLE_STACK`, default `auto`: how the local stack is picked when the two above are unset. */
  stackMode: StackMode;
  /** `KANDLE_SOURCE`, default `synthetic`. */
  source: SourceKind;
  /** `KANDLE_SYMBOLS`, default the eight most popular USD pairs. */
  symbols: string[];
  /** `KANDLE_SPEED`: replay playback speed (or `max`); for synthetic, a multiplier of 20 events/s. Default 1. */
  speed: number | 'max';
  /** `KANDLE_REPLAY_FILE`: NDJSON recording; undefined → a generated, seeded hour of market data. */
  replayFile: string | undefined;
  /** `KANDLE_BITFINEX_URL`: WebSocket URL (e.g. the fake server of `@kandle/local-stack`). */
  bitfinexUrl: string | undefined;
  /**
   * `KANDLE_BITFINEX_REST_URL`: REST base URL of the history backfill. Default: the host of `KANDLE_BITFINEX_URL`
   * (ws → http, wss → https; Bitfinex and the fake serve both on one host), else Bitfinex's public REST URL.
   */
  bitfinexRestUrl: string | undefined;
  /** `KANDLE_INTERVALS`, default `1m,5m,15m,1h`. */
  intervals: CandleInterval[];
  /** `KANDLE_TICKERS_TOPIC` / `KANDLE_TRADES_TOPIC`, default `tickers` / `trades`. */
  topics: { tickers: string; trades: string };
  /** `KANDLE_GROUP`, default `candles`. */
  groupId: string;
  /** `KANDLE_DLQ_TOPIC`, default `kandle.dlq`: where the group puts records it cannot decode (browsable on the page). */
  deadLetterTopic: string;
  /** `KANDLE_ASSIGNMENT`, default `range` (Kafka's default, as in the original kafka-python project). */
  assignment: NativeAssignment;
  /** `KANDLE_PORT`, default 8080; 0 picks a free port. */
  port: number;
  /** `KANDLE_HOST`, default `127.0.0.1` (loopback only). */
  host: string;
  /**
   * `KANDLE_HISTORY`, default `6h` (`0` turns it off): how much past every source backfills on start, through Kafka,
   * before going live (synthetic generates it, replay starts its clock that far back, bitfinex fetches its REST trades
   * history, resuming after the newest trade already on the trades topic). Milliseconds.
   */
  historyMs: number;
  /** `INFLUX_HOST` + `INFLUX_TOKEN` + `INFLUX_DATABASE`; undefined when `INFLUX_HOST` is unset. */
  influx: InfluxConfig | undefined;
}

/** The defaults, as strings exactly like they would appear in the environment (`.env.example` repeats them). */
export const CONFIG_DEFAULTS = {
  KANDLE_STACK: 'auto',
  KANDLE_SOURCE: 'synthetic',
  KANDLE_SYMBOLS: TOP_SYMBOLS.join(','),
  KANDLE_SPEED: '1',
  KANDLE_INTERVALS: '1m,5m,15m,1h',
  KANDLE_TICKERS_TOPIC: 'tickers',
  KANDLE_TRADES_TOPIC: 'trades',
  KANDLE_GROUP: 'candles',
  KANDLE_DLQ_TOPIC: 'kandle.dlq',
  KANDLE_ASSIGNMENT: 'range',
  KANDLE_PORT: '8080',
  KANDLE_HOST: '127.0.0.1',
  KANDLE_HISTORY: '6h',
  KANDLE_INFLUX_TICKERS: 'true',
  KANDLE_INFLUX_TRADES: 'true',
  INFLUX_DATABASE: 'kandle',
} as const;

const STACK_MODES: readonly StackMode[] = ['auto', 'jvm', 'compose'];
const SOURCES: readonly SourceKind[] = ['synthetic', 'replay', 'bitfinex'];
const ASSIGNMENTS: readonly NativeAssignment[] = ['range', 'roundrobin', 'cooperative-sticky'];
const BOOLEANS = ['true', 'false'] as const;
const TOPIC_NAME = /^[a-zA-Z0-9._-]{1,249}$/;

/**
 * Reads the pipeline's configuration from `env` (default `process.env`). Empty values count as unset.
 *
 * @throws {ConfigError} listing every invalid variable (`details.problems`), not only the first.
 * @example
 * ```ts
 * const config = loadConfig({ KANDLE_SOURCE: 'replay', KANDLE_SPEED: '10', KANDLE_PORT: '0' });
 * config.speed; // 10
 * ```
 */
export function loadConfig(env: Readonly<Record<string, string | undefined>> = process.env): PipelineConfig {
  const reader = new EnvReader(env);
  const connection = readConnection(reader);
  const source = reader.oneOf('KANDLE_SOURCE', SOURCES);
  const feed = readFeed(reader, source);
  const intervals = list(reader.readOr('KANDLE_INTERVALS')) as CandleInterval[];
  if (intervals.length === 0) reader.problem('KANDLE_INTERVALS must name at least one interval, e.g. 1m');
  for (const interval of intervals) reader.check('KANDLE_INTERVALS', () => parseInterval(interval));
  if (new Set(intervals).size !== intervals.length) reader.problem('KANDLE_INTERVALS contains duplicates');
  const topics = readTopics(reader);
  const groupId = reader.readOr('KANDLE_GROUP');
  const assignment = reader.oneOf('KANDLE_ASSIGNMENT', ASSIGNMENTS);

  const portText = reader.readOr('KANDLE_PORT');
  const port = Number(portText);
  if (!/^\d+$/.test(portText) || port > 65_535) reader.problem(`KANDLE_PORT=${portText} must be an integer 0-65535`);
  const host = reader.readOr('KANDLE_HOST');
  const historyText = reader.readOr('KANDLE_HISTORY');
  const historyMs = parseDuration(historyText);
  if (historyMs === undefined)
    reader.problem(`KANDLE_HISTORY=${historyText} must be 0 or a duration like 90m, 6h, 2d (s, m, h, d)`);
  const influx = readInflux(reader);

  if (reader.problems.length > 0)
    throw new ConfigError(`invalid environment:\n  - ${reader.problems.join('\n  - ')}`, { problems: reader.problems });
  return {
    ...connection,
    source,
    ...feed,
    intervals,
    ...topics,
    groupId,
    assignment,
    port,
    host,
    historyMs: historyMs ?? 0,
    influx,
  };
}

/** Reads variables and collects every problem, so one start reports them all. */
class EnvReader {
  readonly problems: string[] = [];

  constructor(private readonly env: Readonly<Record<string, string | undefined>>) {}

  /** The trimmed value; empty counts as unset. */
  read(name: string): string | undefined {
    const value = this.env[name]?.trim();
    return value === '' ? undefined : value;
  }

  readOr(name: keyof typeof CONFIG_DEFAULTS): string {
    return this.read(name) ?? CONFIG_DEFAULTS[name];
  }

  oneOf<T extends string>(name: keyof typeof CONFIG_DEFAULTS, allowed: readonly T[]): T {
    const value = this.readOr(name);
    if ((allowed as readonly string[]).includes(value)) return value as T;
    this.problem(`${name}=${value} must be one of ${allowed.join(', ')}`);
    return CONFIG_DEFAULTS[name] as T;
  }

  /** Runs a validator that throws; its message becomes a problem of `name`. */
  check(name: string, validate: () => void): void {
    try {
      validate();
    } catch (e) {
      this.problem(`${name}: ${(e as Error).message}`);
    }
  }

  problem(text: string): void {
    this.problems.push(text);
  }
}

/** Which cluster: `KAFKA_BROKERS` + `SCHEMA_REGISTRY_URL` (both or neither), or the local stack `KANDLE_STACK` picks. */
function readConnection(reader: EnvReader): Pick<PipelineConfig, 'kafkaBrokers' | 'schemaRegistryUrl' | 'stackMode'> {
  const kafkaBrokers = reader.read('KAFKA_BROKERS');
  const schemaRegistryUrl = reader.read('SCHEMA_REGISTRY_URL');
  if (kafkaBrokers) reader.check('KAFKA_BROKERS', () => resolveKafkaConnection({ brokers: kafkaBrokers }));
  if (schemaRegistryUrl)
    reader.check('SCHEMA_REGISTRY_URL', () => resolveRegistryConnection({ url: schemaRegistryUrl }));
  // Half a connection is a mistake, not a reason to start a private stack next to the user's cluster.
  if (!kafkaBrokers !== !schemaRegistryUrl)
    reader.problem('KAFKA_BROKERS and SCHEMA_REGISTRY_URL go together: set both, or neither to use the local stack');
  const stackMode = reader.oneOf('KANDLE_STACK', STACK_MODES);
  // Asking for a particular local stack and naming a cluster at the same time is ambiguous: say so instead of guessing.
  if (stackMode !== 'auto' && (kafkaBrokers || schemaRegistryUrl))
    reader.problem(
      `KANDLE_STACK=${stackMode} chooses a local stack, but KAFKA_BROKERS/SCHEMA_REGISTRY_URL name a cluster: unset one or the other`,
    );
  return { kafkaBrokers, schemaRegistryUrl, stackMode };
}

/** The feed: symbols, speed, and the options only one source kind takes (each refused for the others). */
function readFeed(
  reader: EnvReader,
  source: SourceKind,
): Pick<PipelineConfig, 'symbols' | 'speed' | 'replayFile' | 'bitfinexUrl' | 'bitfinexRestUrl'> {
  const symbols = list(reader.readOr('KANDLE_SYMBOLS'));
  if (symbols.length === 0) reader.problem('KANDLE_SYMBOLS must name at least one symbol, e.g. tBTCUSD');
  for (const symbol of symbols) {
    // The sources' own check (case hints included); candles are built from trading pairs only, not funding.
    const problem = bitfinexSymbolProblem(symbol);
    if (problem) reader.problem(`KANDLE_SYMBOLS: ${problem}`);
    else if (!symbol.startsWith('t'))
      reader.problem(`KANDLE_SYMBOLS: "${symbol}" is a funding currency, not a trading pair (expected e.g. tBTCUSD)`);
  }
  if (new Set(symbols).size !== symbols.length) reader.problem('KANDLE_SYMBOLS contains duplicates');

  const speedText = reader.readOr('KANDLE_SPEED');
  let speed: number | 'max' = 1;
  if (speedText === 'max') {
    if (source === 'replay') speed = 'max';
    else reader.problem('KANDLE_SPEED=max only applies to KANDLE_SOURCE=replay');
  } else if (isNumber(speedText) && Number(speedText) > 0) speed = Number(speedText);
  else reader.problem(`KANDLE_SPEED=${speedText} must be a number > 0 (or max for replay)`);

  const replayFile = reader.read('KANDLE_REPLAY_FILE');
  if (replayFile && source !== 'replay') reader.problem('KANDLE_REPLAY_FILE needs KANDLE_SOURCE=replay');
  if (replayFile && !existsSync(replayFile)) reader.problem(`KANDLE_REPLAY_FILE: no file at ${replayFile}`);

  const bitfinexUrl = reader.read('KANDLE_BITFINEX_URL');
  if (bitfinexUrl && source !== 'bitfinex') reader.problem('KANDLE_BITFINEX_URL needs KANDLE_SOURCE=bitfinex');
  if (bitfinexUrl && !/^wss?:\/\/\S+$/.test(bitfinexUrl))
    reader.problem(`KANDLE_BITFINEX_URL=${bitfinexUrl} must be a ws:// or wss:// URL`);
  const restUrlText = reader.read('KANDLE_BITFINEX_REST_URL');
  if (restUrlText && source !== 'bitfinex') reader.problem('KANDLE_BITFINEX_REST_URL needs KANDLE_SOURCE=bitfinex');
  if (restUrlText && !/^https?:\/\/\S+$/.test(restUrlText))
    reader.problem(`KANDLE_BITFINEX_REST_URL=${restUrlText} must be an http:// or https:// URL`);
  const bitfinexRestUrl = restUrlText ?? (bitfinexUrl ? restUrlOf(bitfinexUrl) : undefined);
  return { symbols, speed, replayFile, bitfinexUrl, bitfinexRestUrl };
}

/** The tickers, trades and dead-letter topics: valid names, all different. */
function readTopics(reader: EnvReader): Pick<PipelineConfig, 'topics' | 'deadLetterTopic'> {
  const topics = { tickers: reader.readOr('KANDLE_TICKERS_TOPIC'), trades: reader.readOr('KANDLE_TRADES_TOPIC') };
  for (const [name, topic] of [
    ['KANDLE_TICKERS_TOPIC', topics.tickers],
    ['KANDLE_TRADES_TOPIC', topics.trades],
  ] as const)
    if (!TOPIC_NAME.test(topic)) reader.problem(`${name}=${topic} is not a valid topic name ([a-zA-Z0-9._-])`);
  if (topics.tickers === topics.trades) reader.problem('KANDLE_TICKERS_TOPIC and KANDLE_TRADES_TOPIC must differ');
  const deadLetterTopic = reader.readOr('KANDLE_DLQ_TOPIC');
  if (!TOPIC_NAME.test(deadLetterTopic))
    reader.problem(`KANDLE_DLQ_TOPIC=${deadLetterTopic} is not a valid topic name ([a-zA-Z0-9._-])`);
  else if (deadLetterTopic === topics.tickers || deadLetterTopic === topics.trades)
    reader.problem('KANDLE_DLQ_TOPIC must differ from the tickers and trades topics');
  return { topics, deadLetterTopic };
}

/** The InfluxDB sink, when `INFLUX_HOST` is set (the token is never echoed, only whether it is there). */
function readInflux(reader: EnvReader): InfluxConfig | undefined {
  // Read (and checked) even without INFLUX_HOST, so a copied .env.example never fails and a typo is still caught.
  const writeTickers = reader.oneOf('KANDLE_INFLUX_TICKERS', BOOLEANS) === 'true';
  const writeTrades = reader.oneOf('KANDLE_INFLUX_TRADES', BOOLEANS) === 'true';
  const influxHost = reader.read('INFLUX_HOST');
  if (!influxHost) return undefined;
  const influxToken = reader.read('INFLUX_TOKEN');
  if (!/^https?:\/\/\S+$/.test(influxHost)) reader.problem(`INFLUX_HOST=${influxHost} must be an http(s):// URL`);
  if (!influxToken) reader.problem('INFLUX_TOKEN is required with INFLUX_HOST (any value for a server without auth)');
  return {
    host: influxHost,
    token: influxToken ?? '',
    database: reader.readOr('INFLUX_DATABASE'),
    tickers: writeTickers,
    trades: writeTrades,
  };
}

const DURATION_UNITS_MS = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** `0`, or a whole number with one unit (`90m`, `6h`, `2d`), in ms; undefined when malformed. */
function parseDuration(text: string): number | undefined {
  if (text === '0') return 0;
  const match = /^(\d+)([smhd])$/.exec(text);
  return match ? Number(match[1]) * DURATION_UNITS_MS[match[2] as keyof typeof DURATION_UNITS_MS] : undefined;
}

function list(text: string): string[] {
  return text
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
}

function isNumber(text: string): boolean {
  return /^\d+(\.\d+)?$/.test(text) || /^\.\d+$/.test(text);
}

/** The REST base URL on the host of a Bitfinex WebSocket URL: `wss://api-pub.bitfinex.com/ws/2` → `https://api-pub.bitfinex.com`. */
function restUrlOf(webSocketUrl: string): string | undefined {
  try {
    const url = new URL(webSocketUrl);
    return `${url.protocol === 'wss:' ? 'https' : 'http'}://${url.host}`;
  } catch {
    return undefined;
  }
}
