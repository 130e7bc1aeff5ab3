// Test servers: the line-protocol servers the sink's real-server tests run against (QuestDB, InfluxDB 3 Core) and how they are chosen.
import { createServer } from 'node:net';
import { type QuestDb, startQuestDb } from './questdb';

/** One result row, column name → value, whatever server answered it. */
export type Row = Record<string, unknown>;

/**
 * A real server that accepts the sink's writes (InfluxDB line protocol on `/api/v2/write`) and answers SQL, so the
 * tests can read back independently what the sink stored. The SQL the tests send is the subset both servers accept
 * (`count(*)`, `count(DISTINCT …)`, `LIKE`, double-quoted identifiers); only the timestamp column's name differs.
 */
export interface LineProtocolServer {
  /** Shown in test names and log lines. */
  readonly name: string;
  /** Base URL the sink writes to. */
  readonly host: string;
  readonly token: string;
  readonly database: string;
  /** Name of the timestamp column in SQL: `timestamp` in QuestDB, `time` in InfluxDB 3. */
  readonly timeColumn: string;
  /** Makes the server keep one row per measurement, tag set and timestamp, as InfluxDB 3 does by itself. */
  prepare(): Promise<void>;
  /** Runs SQL; throws with the server's message when it refuses the statement. */
  query(sql: string): Promise<Row[]>;
  /** Creates `measurement` with a BOOLEAN `open` column, so the server refuses candle lines (float `open`) sent to it. */
  createRefusingMeasurement(measurement: string): Promise<void>;
  /** Kills the server abruptly (SIGKILL, like a crash); its data stays for {@link start}. */
  stop(): Promise<void>;
  /** Starts a stopped server again on the same URL and data, and resolves once it answers. */
  start(): Promise<void>;
  /** Stops the server for good and removes its data. */
  close(): Promise<void>;
}

/** Waits until `sql` (a single count, aliased `n`) returns `expected`; returns the last count seen. */
export async function waitForCount(
  server: LineProtocolServer,
  sql: string,
  expected: number,
  timeoutMs = 30_000,
): Promise<number> {
  // QuestDB applies WAL tables asynchronously, and InfluxDB 3 knows a table only after its first write: both are
  // "not yet" rather than failures while the deadline has not passed.
  const deadline = Date.now() + timeoutMs;
  let last = -1;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      last = Number((await server.query(sql))[0]?.n ?? 0);
      lastError = undefined;
      if (last === expected) return last;
    } catch (error) {
      lastError = error;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  if (lastError !== undefined) throw lastError;
  return last;
}

/**
 * Milliseconds since the epoch from a timestamp as either server returns it: QuestDB sends
 * `2024-01-01T00:00:00.000000Z`, InfluxDB 3 an ISO string that may lack the zone (it is UTC) and may carry up to
 * nine fractional digits, which `Date.parse` does not accept.
 */
export function epochMs(value: unknown): number {
  if (typeof value !== 'string') throw new Error(`not a timestamp: ${JSON.stringify(value)}`);
  const match = /^(\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:?\d{2})?$/.exec(value.trim());
  if (!match) throw new Error(`not a timestamp: ${JSON.stringify(value)}`);
  const [, seconds, fraction = '', zone = 'Z'] = match;
  const millis = fraction.padEnd(3, '0').slice(0, 3);
  return Date.parse(`${seconds?.replace(' ', 'T')}.${millis}${zone}`);
}

// ---------------------------------------------------------------------------------------------------------- QuestDB

/**
 * InfluxDB 3 overwrites a point with the same measurement, tag set and timestamp on its own. QuestDB does that only
 * for WAL tables declared with DEDUP UPSERT KEYS over the designated timestamp and the tag columns, so the tables are
 * created first (line protocol would otherwise auto-create them without deduplication).
 */
const QUESTDB_SINK_TABLES = {
  candles: `CREATE TABLE IF NOT EXISTS candles (
      symbol SYMBOL, interval SYMBOL, source SYMBOL,
      open DOUBLE, high DOUBLE, low DOUBLE, close DOUBLE, volume DOUBLE, count LONG,
      timestamp TIMESTAMP
    ) TIMESTAMP(timestamp) PARTITION BY DAY WAL DEDUP UPSERT KEYS(timestamp, symbol, interval, source)`,
  tickers: `CREATE TABLE IF NOT EXISTS tickers (
      symbol SYMBOL,
      bid DOUBLE, bid_size DOUBLE, ask DOUBLE, ask_size DOUBLE, daily_change DOUBLE, daily_change_relative DOUBLE,
      last_price DOUBLE, close_price DOUBLE, volume DOUBLE, high DOUBLE, low DOUBLE,
      timestamp TIMESTAMP
    ) TIMESTAMP(timestamp) PARTITION BY DAY WAL DEDUP UPSERT KEYS(timestamp, symbol)`,
  trades: `CREATE TABLE IF NOT EXISTS trades (
      symbol SYMBOL, trade_id SYMBOL, amount DOUBLE, price DOUBLE,
      timestamp TIMESTAMP
    ) TIMESTAMP(timestamp) PARTITION BY DAY WAL DEDUP UPSERT KEYS(timestamp, symbol, trade_id)`,
} as const;

/** QuestDB from its Maven Central jar on loopback (`startQuestDb` of ./questdb.ts). */
export async function startQuestDbServer(): Promise<LineProtocolServer> {
  const qdb: QuestDb = await startQuestDb();
  return {
    name: 'QuestDB',
    host: qdb.httpUrl,
    token: 'not-checked-by-questdb',
    database: 'kandle',
    timeColumn: 'timestamp',
    async prepare() {
      for (const ddl of Object.values(QUESTDB_SINK_TABLES)) await qdb.query(ddl);
    },
    async query(sql) {
      const { columns, dataset } = await qdb.query(sql);
      return dataset.map((values) => Object.fromEntries(columns.map((column, i) => [column.name, values[i]])));
    },
    async createRefusingMeasurement(measurement) {
      // A line whose field type differs from the column's is refused with a 400 that names the line.
      await qdb.query(
        `CREATE TABLE IF NOT EXISTS ${measurement} (symbol SYMBOL, open BOOLEAN, timestamp TIMESTAMP) TIMESTAMP(timestamp) PARTITION BY DAY WAL`,
      );
    },
    stop: () => qdb.stop({ signal: 'SIGKILL' }),
    start: () => qdb.start(),
    close: () => qdb.stop({ removeData: true }),
  };
}

// -------------------------------------------------------------------------------------------------- InfluxDB 3 Core

export const INFLUXDB3_IMAGE = 'influxdb:3-core';
const INFLUXDB3_PORT = 8181;
const INFLUXDB3_DATA_DIR = '/var/lib/influxdb3';

/**
 * InfluxDB 3 Core in Docker through testcontainers: `influxdb3 serve` with the file object store and no auth (the
 * sink still sends its token; the server ignores it).
 */
export async function startInfluxDb3Server(): Promise<LineProtocolServer> {
  const { GenericContainer, Wait, getContainerRuntimeClient } = await import('testcontainers');
  // A fixed host port: the fault test kills and starts the same container, and Docker would give a dynamically
  // mapped port a new number on start, while the sink under test keeps the URL it was created with.
  const hostPort = await freePort();
  const container = await new GenericContainer(INFLUXDB3_IMAGE)
    // The image runs as uid 1500, which may not own the data dir (influxdata/influxdata-docker#848); root always does.
    .withUser('root')
    .withCommand([
      'influxdb3',
      'serve',
      '--node-id',
      'node0',
      '--object-store',
      'file',
      '--data-dir',
      INFLUXDB3_DATA_DIR,
      '--without-auth',
    ])
    .withExposedPorts({ container: INFLUXDB3_PORT, host: hostPort })
    .withWaitStrategy(Wait.forHttp('/health', INFLUXDB3_PORT).forStatusCode(200))
    .withStartupTimeout(120_000)
    .start();

  const host = `http://${container.getHost()}:${container.getMappedPort(INFLUXDB3_PORT)}`;
  const database = 'kandle';
  // The data dir lives in the container's own filesystem, which a killed container keeps until it is removed, so
  // stop() and start() go through the engine directly: testcontainers' stop() would remove it, restart() never
  // leaves it down.
  const engineContainer = async () => {
    const client = await getContainerRuntimeClient();
    return { client, handle: client.container.getById(container.getId()) };
  };

  const server: LineProtocolServer = {
    name: 'InfluxDB 3 Core',
    host,
    token: 'not-checked-without-auth',
    database,
    timeColumn: 'time',
    async prepare() {
      // Writes create the database too; creating it first lets queries run before the first write lands.
      const response = await fetch(`${host}/api/v3/configure/database`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ db: database }),
      });
      if (!response.ok && response.status !== 409) {
        throw new Error(`InfluxDB 3 did not create database ${database}: ${response.status} ${await response.text()}`);
      }
    },
    async query(sql) {
      const response = await fetch(
        `${host}/api/v3/query_sql?${new URLSearchParams({ db: database, q: sql, format: 'json' })}`,
      );
      const text = await response.text();
      if (!response.ok) throw new Error(`InfluxDB 3 refused SQL (${response.status}): ${text}\n${sql}`);
      const rows: unknown = text.trim() === '' ? [] : JSON.parse(text);
      if (!Array.isArray(rows)) throw new Error(`InfluxDB 3 answered SQL with something other than rows: ${text}`);
      return rows as Row[];
    },
    async createRefusingMeasurement(measurement) {
      // InfluxDB 3 fixes a column's type with the first write: a BOOLEAN `open` makes later float `open` lines
      // refused, each named in the 400's `data[].original_line`. Same tags as a candle, so only the type differs.
      const response = await fetch(
        `${host}/api/v2/write?${new URLSearchParams({ bucket: database, precision: 'ms' })}`,
        {
          method: 'POST',
          body: `${measurement},interval=1m,source=trade,symbol=tSEED open=true ${Date.UTC(2024, 0, 1)}`,
        },
      );
      if (!response.ok)
        throw new Error(`InfluxDB 3 refused the seed line: ${response.status} ${await response.text()}`);
    },
    async stop() {
      const { handle } = await engineContainer();
      await handle.kill(); // SIGKILL
    },
    async start() {
      const { client, handle } = await engineContainer();
      await client.container.start(handle);
      await waitForHealth(host, 120_000);
    },
    async close() {
      await container.stop({ remove: true, removeVolumes: true });
    },
  };
  return server;
}

async function waitForHealth(host: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      if ((await fetch(`${host}/health`)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`InfluxDB 3 at ${host} did not answer /health within ${timeoutMs} ms`);
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, () => {
      const address = probe.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      probe.close(() => resolve(port));
    });
  });
}

// ------------------------------------------------------------------------------------------------------- selection

/** One entry of the test matrix: a server, whether its tests run, and how to start it. */
export interface ServerChoice {
  /** Describe-block title; says why when the block is skipped. */
  title: string;
  enabled: boolean;
  start(): Promise<LineProtocolServer>;
}

const SELECTIONS = ['all', 'questdb', 'influxdb3'] as const;
type Selection = (typeof SELECTIONS)[number];

/**
 * The servers to test against, from `KANDLE_TEST_INFLUX` (`questdb`, `influxdb3` or `all`, the default).
 *
 * `all` runs QuestDB always and InfluxDB 3 Core when a Docker engine answers; without one that block is skipped, not
 * passed. `influxdb3` asks for InfluxDB 3 explicitly, so there its block is never skipped: with no Docker engine it
 * fails with testcontainers' own error instead of going green having tested nothing.
 */
export async function chooseServers(value = process.env.KANDLE_TEST_INFLUX): Promise<ServerChoice[]> {
  const selection = (value === undefined || value === '' ? 'all' : value.toLowerCase()) as Selection;
  if (!SELECTIONS.includes(selection)) {
    throw new Error(`KANDLE_TEST_INFLUX must be one of ${SELECTIONS.join(', ')}; got ${JSON.stringify(value)}`);
  }
  const choices: ServerChoice[] = [];
  if (selection !== 'influxdb3') {
    choices.push({ title: 'QuestDB', enabled: true, start: startQuestDbServer });
  }
  if (selection !== 'questdb') {
    const docker = await detectDocker();
    const enabled = docker.reachable || selection === 'influxdb3';
    if (!docker.reachable) {
      process.stderr.write(
        `[influx-sink] InfluxDB 3 Core tests ${enabled ? 'requested but will fail' : 'skipped'}: no Docker engine reachable for testcontainers (${docker.reason})\n`,
      );
    }
    choices.push({
      title: docker.reachable
        ? `InfluxDB 3 Core (testcontainers, ${INFLUXDB3_IMAGE})`
        : 'InfluxDB 3 Core (testcontainers: no Docker engine reachable)',
      enabled,
      start: startInfluxDb3Server,
    });
  }
  return choices;
}

/**
 * Asks testcontainers for a container runtime. Without one it rejects in milliseconds ("Could not find a working
 * container runtime strategy"); the timeout only guards against an engine socket that accepts but never answers.
 */
async function detectDocker(timeoutMs = 5000): Promise<{ reachable: true } | { reachable: false; reason: string }> {
  let timer: NodeJS.Timeout | undefined;
  try {
    const { getContainerRuntimeClient } = await import('testcontainers');
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      timer.unref();
    });
    await Promise.race([getContainerRuntimeClient(), timeout]);
    return { reachable: true };
  } catch (error) {
    return { reachable: false, reason: error instanceof Error ? error.message : String(error) };
  } finally {
    clearTimeout(timer);
  }
}
