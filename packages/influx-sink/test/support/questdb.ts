// Sink test support / QuestDB: runs a real QuestDB (InfluxDB line protocol over HTTP, SQL over /exec) from its Maven Central jar.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, KandleError } from '@kandle/core';
import { ensureMavenLibs, freePorts, isAlive, sleep, spawnJava, stopProcess } from '@kandle/local-stack';

/** The QuestDB release the test server runs (same coordinates as tools/questdb/pom.xml). */
export const QUESTDB_VERSION = '9.3.4';

/** Options of {@link startQuestDb}; every field has a default. */
export interface QuestDbOptions {
  /** HTTP port (line protocol writes, SQL, web console), bound to 127.0.0.1 only. Default 0: a free port chosen by the OS. */
  httpPort?: number;
  /** Root folder (`conf/`, `db/`, log). Default a fresh folder under the OS temp dir. */
  dataDir?: string;
  /** JVM heap in MiB; QuestDB keeps table data off-heap. Default 256. */
  heapMb?: number;
  /** Milliseconds to wait for SQL to answer after a start. Default 60000. */
  startTimeoutMs?: number;
}

/** Answer of QuestDB's `/exec` endpoint. DDL statements answer with no columns and no rows. */
export interface QuestDbQueryResult {
  columns: Array<{ name: string; type: string }>;
  dataset: unknown[][];
  count: number;
}

/** A local QuestDB server. */
export interface QuestDb {
  /** `http://127.0.0.1:<port>`: point an InfluxDB client's `host` here; writes go to `/api/v2/write` or `/write`. */
  readonly httpUrl: string;
  readonly httpPort: number;
  readonly dataDir: string;
  /** Where the server's stdout and stderr go (inside `dataDir`). */
  readonly logFile: string;
  /** Runs SQL through `/exec`; throws a {@link KandleError} with QuestDB's message when it refuses the statement. */
  query(sql: string): Promise<QuestDbQueryResult>;
  /** Whether the JVM is running. */
  isRunning(): boolean;
  /** Stops the JVM (SIGTERM: clean shutdown; SIGKILL: crash). Data stays unless `removeData` (default false). */
  stop(options?: { signal?: 'SIGTERM' | 'SIGKILL'; removeData?: boolean }): Promise<void>;
  /** Starts a stopped server again on the same port and data, and waits until SQL answers. No-op when running. */
  start(): Promise<void>;
  /** `stop()` then `start()`. */
  restart(): Promise<void>;
}

/** Ensures the QuestDB jar is in the cache (Maven Central, first run only) and returns its path. */
export function ensureQuestDbJar(): string {
  const libs = ensureMavenLibs(`questdb-${QUESTDB_VERSION}`, [
    { groupId: 'org.questdb', artifactId: 'questdb', version: QUESTDB_VERSION },
  ]);
  return join(libs, `questdb-${QUESTDB_VERSION}.jar`);
}

/**
 * Starts QuestDB on loopback with only its HTTP server enabled (no PostgreSQL wire, no ILP/TCP, no telemetry),
 * and resolves once it answers SQL. The JVM is killed when this Node process exits.
 *
 * @example
 * ```ts
 * const qdb = await startQuestDb();
 * await qdb.query('CREATE TABLE candles (…) TIMESTAMP(timestamp) PARTITION BY DAY WAL DEDUP UPSERT KEYS(timestamp, symbol)');
 * // write line protocol to qdb.httpUrl, then:
 * const { dataset } = await qdb.query('SELECT count() FROM candles');
 * await qdb.stop({ removeData: true });
 * ```
 */
export async function startQuestDb(options: QuestDbOptions = {}): Promise<QuestDb> {
  const requestedPort = options.httpPort ?? 0;
  if (!Number.isInteger(requestedPort) || requestedPort < 0 || requestedPort > 65535) {
    throw new ConfigError(`httpPort must be an integer in 0..65535, got ${requestedPort}`);
  }
  const heapMb = options.heapMb ?? 256;
  const startTimeoutMs = options.startTimeoutMs ?? 60_000;
  const dataDir = options.dataDir ?? join(tmpdir(), `kandle-questdb-${randomBytes(4).toString('hex')}`);
  const jar = ensureQuestDbJar();
  const httpPort = requestedPort > 0 ? requestedPort : ((await freePorts(1))[0] as number);
  writeServerConf(dataDir, httpPort);

  const httpUrl = `http://127.0.0.1:${httpPort}`;
  const logFile = join(dataDir, 'questdb.log');
  let pid: number | null = null;

  const server: QuestDb = {
    httpUrl,
    httpPort,
    dataDir,
    logFile,
    query: (sql) => runQuery(httpUrl, sql),
    isRunning: () => pid !== null && isAlive(pid),
    async stop(opts = {}) {
      if (pid !== null) await stopProcess(pid, opts.signal ?? 'SIGTERM', 30_000);
      pid = null;
      if (opts.removeData) rmSync(dataDir, { recursive: true, force: true });
    },
    async start() {
      if (server.isRunning()) return;
      const started = spawnJava({
        args: [
          `-Xms${Math.min(64, heapMb)}m`,
          `-Xmx${heapMb}m`,
          '-Djava.awt.headless=true',
          '-p',
          jar,
          '-m',
          'io.questdb/io.questdb.ServerMain',
          '-d',
          dataDir,
        ],
        logFile,
      });
      pid = started;
      try {
        await waitForSql(httpUrl, startTimeoutMs, () => isAlive(started));
      } catch (error) {
        await stopProcess(started, 'SIGKILL');
        pid = null;
        throw new KandleError(
          'BROKER_UNREACHABLE',
          `${(error as Error).message}; last log lines:\n${tail(logFile, 15)}`,
          {
            details: { logFile, httpUrl },
          },
        );
      }
    },
    async restart() {
      await server.stop();
      await server.start();
    },
  };
  await server.start();
  return server;
}

// Only HTTP is needed (line protocol + SQL); everything else is off so parallel test servers never collide on ports.
function writeServerConf(dataDir: string, httpPort: number): void {
  mkdirSync(join(dataDir, 'conf'), { recursive: true });
  const settings: Record<string, string | number | boolean> = {
    'http.net.bind.to': `127.0.0.1:${httpPort}`,
    'http.min.enabled': false,
    'pg.enabled': false,
    'line.tcp.enabled': false,
    'line.udp.enabled': false,
    'telemetry.enabled': false,
    // The machine has 2 cores shared with other test servers: keep QuestDB's thread pools small.
    'shared.worker.count': 2,
    'http.worker.count': 1,
    'wal.apply.worker.count': 1,
    'mat.view.refresh.worker.count': 1,
  };
  writeFileSync(
    join(dataDir, 'conf', 'server.conf'),
    `${Object.entries(settings)
      .map(([k, v]) => `${k}=${v}`)
      .join('\n')}\n`,
  );
}

async function runQuery(httpUrl: string, sql: string): Promise<QuestDbQueryResult> {
  let response: Response;
  try {
    response = await fetch(`${httpUrl}/exec?${new URLSearchParams({ query: sql })}`);
  } catch (error) {
    throw new KandleError('BROKER_UNREACHABLE', `QuestDB at ${httpUrl} is unreachable`, {
      cause: error,
      details: { httpUrl },
    });
  }
  const text = await response.text();
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(text) as Record<string, unknown>;
  } catch {
    body = { error: text };
  }
  if (!response.ok || typeof body.error === 'string') {
    throw new KandleError('LOCAL_STACK_FAILED', `QuestDB refused SQL: ${String(body.error ?? response.status)}`, {
      details: { sql, status: response.status, position: body.position },
    });
  }
  return {
    columns: (body.columns as QuestDbQueryResult['columns'] | undefined) ?? [],
    dataset: (body.dataset as unknown[][] | undefined) ?? [],
    count: typeof body.count === 'number' ? body.count : 0,
  };
}

async function waitForSql(httpUrl: string, timeoutMs: number, alive: () => boolean): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!alive()) throw new Error(`QuestDB exited during start-up`);
    try {
      const response = await fetch(`${httpUrl}/exec?query=${encodeURIComponent('SELECT 1')}`);
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    await sleep(200);
  }
  throw new Error(`QuestDB did not answer SQL at ${httpUrl} within ${timeoutMs} ms`);
}

function tail(file: string, lines: number): string {
  if (!existsSync(file)) return '(no log)';
  return readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
}
