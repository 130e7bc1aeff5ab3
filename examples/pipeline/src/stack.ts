// Stack: finds the Kafka brokers and schema registry to use: the configured ones, a running local stack, the compose stack, or new JVMs.
import { type ExecFileException, execFile, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '@kandle/core';
import type { PipelineConfig } from './config';
import type { BrokerControl } from './fault-lab';

/** Where the brokers and registry come from (see {@link chooseStack}). */
export type StackChoice = 'env' | 'stack' | 'compose' | 'started';

/** Brokers and registry the pipeline talks to, and how to release them. */
export interface KafkaStack {
  brokers: string;
  registryUrl: string;
  /**
   * `env`: from KAFKA_BROKERS; `stack`: the one `npm run stack:up` runs; `compose`: compose/docker-compose.yml on
   * Docker (started here or already running); `started`: JVMs started here.
   */
  origin: StackChoice;
  /** The log line for what `stop()` releases; undefined when `stop()` leaves everything running. */
  stopNotice: string | undefined;
  /** Stops what this process started; does nothing for what was running before or configured. */
  stop(): Promise<void>;
  /**
   * The broker JVMs, for the page's fault lab: only for origin `started` (JVMs this process started), undefined for
   * every stack kandle found or was given, which the lab must never stop.
   */
  brokerControl?: BrokerControl;
}

/** Options of {@link resolveStack}. */
export interface ResolveStackOptions {
  /** The record `npm run stack:up` writes. Default `<repo>/.kandle/stack/stack.json`. */
  stackFile?: string;
  /** Progress messages (starting JVMs takes 15-40 s, the compose stack longer). Default `console.log`. */
  log?: (message: string) => void;
  /** The Docker CLI to run. Default `docker`, looked up on PATH. */
  dockerCommand?: string;
}

/** The part of `.kandle/stack/stack.json` this reads. */
interface StackRecord {
  kafka: { dir: string; bootstrapServers: string };
  registry: { url: string; pid: number };
}

export const DEFAULT_STACK_FILE = fileURLToPath(new URL('../../../.kandle/stack/stack.json', import.meta.url));

/** The compose file `KANDLE_STACK=compose` (or `auto` with Docker) brings up. */
export const COMPOSE_FILE = fileURLToPath(new URL('../../../compose/docker-compose.yml', import.meta.url));

/**
 * How a program on the host reaches the compose stack. Copied from compose/docker-compose.yml: the `EXTERNAL`
 * advertised listeners of kafka-1..3, and the ports schema-registry and influxdb publish on 127.0.0.1 (docs/compose.md,
 * "How kandle connects"). test/stack.test.ts parses the compose file and fails when these drift from it.
 */
export const COMPOSE_ADDRESSES = {
  brokers: '127.0.0.1:29092,127.0.0.1:29093,127.0.0.1:29094',
  registryUrl: 'http://127.0.0.1:8081',
  influxHost: 'http://127.0.0.1:8181',
} as const;

/** The compose services the pipeline needs; when all of them already run, the stack is used as it is. */
export const COMPOSE_KAFKA_SERVICES = ['kafka-1', 'kafka-2', 'kafka-3', 'schema-registry'] as const;

/**
 * Each Docker probe's time limit. `docker compose version` runs locally and `docker info` asks the engine; both answer
 * in well under a second when Docker works, and a dead remote DOCKER_HOST must not hold up the JVM fallback for long.
 */
export const DOCKER_PROBE_TIMEOUT_MS = 3000;

/** What {@link probeDocker} found: Docker with Compose v2 answering, or the first missing piece, in words. */
export type DockerProbe =
  | { available: true; composeVersion: string; engineVersion: string }
  | { available: false; missing: string };

/** What {@link chooseStack} decides from; the two observations are asked for only when the decision needs them. */
export interface StackChoiceInputs {
  config: Pick<PipelineConfig, 'kafkaBrokers' | 'schemaRegistryUrl' | 'stackMode'>;
  /** Whether the stack of `npm run stack:up` runs (never asked for `KANDLE_STACK=compose`). */
  jvmStackRunning: () => Promise<boolean>;
  /** Whether Docker with the compose plugin answers (never asked for `KANDLE_STACK=jvm`). */
  dockerAvailable: () => Promise<DockerProbe>;
}

/**
 * Decides where Kafka comes from, with no side effects of its own:
 *
 * - `KAFKA_BROKERS` + `SCHEMA_REGISTRY_URL` set → `env` (config validation refuses them with `jvm`/`compose`);
 * - `KANDLE_STACK=compose` → `compose`, or a {@link ConfigError} naming what Docker lacks;
 * - a running `npm run stack:up` stack → `stack`;
 * - `KANDLE_STACK=auto` and Docker answering → `compose`;
 * - otherwise → `started` (new JVMs).
 *
 * @throws {ConfigError} for `KANDLE_STACK=compose` when Docker, its compose plugin or its engine is missing.
 * @example
 * ```ts
 * const choice = await chooseStack({
 *   config: loadConfig({ KANDLE_STACK: 'jvm' }),
 *   jvmStackRunning: async () => false,
 *   dockerAvailable: () => probeDocker(),
 * }); // 'started', and Docker was never asked
 * ```
 */
export async function chooseStack({
  config,
  jvmStackRunning,
  dockerAvailable,
}: StackChoiceInputs): Promise<StackChoice> {
  if (config.kafkaBrokers && config.schemaRegistryUrl) return 'env';
  if (config.stackMode === 'compose') {
    const docker = await dockerAvailable();
    if (!docker.available)
      throw new ConfigError(
        `KANDLE_STACK=compose needs Docker with the compose plugin, but this machine is missing ${docker.missing}; ` +
          'install or start it, or use KANDLE_STACK=auto (or jvm) for the local JVM stack',
        { stackMode: 'compose', missing: docker.missing },
      );
    return 'compose';
  }
  if (await jvmStackRunning()) return 'stack';
  if (config.stackMode === 'auto' && (await dockerAvailable()).available) return 'compose';
  return 'started';
}

/**
 * Asks the Docker CLI whether `docker compose` works (`docker compose version`) and an engine answers (`docker info`),
 * each within `timeoutMs`. Runs the CLI directly, never through a shell; answers within milliseconds when `docker` is
 * not installed.
 *
 * @example
 * ```ts
 * const docker = await probeDocker();
 * if (!docker.available) console.log(`no compose stack: missing ${docker.missing}`);
 * ```
 */
export async function probeDocker(options: { dockerCommand?: string; timeoutMs?: number } = {}): Promise<DockerProbe> {
  const docker = options.dockerCommand ?? 'docker';
  const timeoutMs = options.timeoutMs ?? DOCKER_PROBE_TIMEOUT_MS;
  const compose = await runCommand(docker, ['compose', 'version'], timeoutMs);
  if (compose.error?.code === 'ENOENT') return { available: false, missing: `the Docker CLI (no ${docker} command)` };
  if (!compose.ok)
    return { available: false, missing: `the Compose v2 plugin (docker compose version: ${whyFailed(compose)})` };
  // --format prints only the server's version, which is empty when the CLI cannot reach an engine.
  const engine = await runCommand(docker, ['info', '--format', '{{.ServerVersion}}'], timeoutMs);
  if (!engine.ok || engine.stdout.trim() === '')
    return { available: false, missing: `a running Docker engine (docker info: ${whyFailed(engine)})` };
  return { available: true, composeVersion: firstLine(compose.stdout), engineVersion: engine.stdout.trim() };
}

/**
 * Finds Kafka as {@link chooseStack} decides (`KANDLE_STACK`, default `auto`): `KAFKA_BROKERS`/`SCHEMA_REGISTRY_URL`
 * when set; else the healthy local stack recorded by `npm run stack:up`; else, with Docker, compose/docker-compose.yml
 * brought up with `docker compose up -d --wait`; else a 3-broker cluster (RF 3, min ISR 2, 2 partitions) and a registry
 * started now from the Maven Central jars. `stop()` stops only what this call started.
 *
 * @throws {ConfigError} for a broken stack record, or `KANDLE_STACK=compose` without a working Docker.
 * @example
 * ```ts
 * const stack = await resolveStack(loadConfig());
 * console.log(stack.origin, stack.brokers);
 * await stack.stop();
 * ```
 */
export async function resolveStack(config: PipelineConfig, options: ResolveStackOptions = {}): Promise<KafkaStack> {
  const log = options.log ?? console.log;
  const stackFile = options.stackFile ?? DEFAULT_STACK_FILE;
  const dockerCommand = options.dockerCommand ?? 'docker';
  let recorded: StackRecord | undefined;
  let docker: DockerProbe | undefined;
  const choice = await chooseStack({
    config,
    async jvmStackRunning() {
      recorded = readStackRecord(stackFile);
      if (!recorded) return false;
      // Loaded only here: a deployment with its own brokers never needs the JVM launchers.
      const { attachKafkaCluster } = await import('@kandle/local-stack');
      return isHealthy(recorded, attachKafkaCluster);
    },
    async dockerAvailable() {
      docker = await probeDocker({ dockerCommand });
      return docker;
    },
  });

  switch (choice) {
    case 'env':
      return {
        brokers: config.kafkaBrokers as string,
        registryUrl: config.schemaRegistryUrl as string,
        origin: 'env',
        stopNotice: undefined,
        stop: nothingToStop,
      };
    case 'stack': {
      const record = recorded as StackRecord;
      log(`using the local stack of npm run stack:up (${stackFile})`);
      return {
        brokers: record.kafka.bootstrapServers,
        registryUrl: record.registry.url,
        origin: 'stack',
        stopNotice: undefined,
        stop: nothingToStop,
      };
    }
    case 'compose':
      return useComposeStack(config, dockerCommand, log);
    case 'started': {
      // In auto mode Docker was probed before falling back here; say why, so a user expecting compose knows.
      const why =
        docker?.available === false
          ? `no Kafka configured, no local stack running, no compose stack (missing ${docker.missing})`
          : `KANDLE_STACK=${config.stackMode} and no local stack running`;
      log(`${why}: starting 3 brokers and a schema registry on the local JVM (15-40 s)…`);
      return startJvmStack();
    }
  }
}

async function nothingToStop(): Promise<void> {}

async function startJvmStack(): Promise<KafkaStack> {
  const testing = await import('@kandle/local-stack');
  const [cluster, registry] = await Promise.all([
    testing.startKafkaCluster({ brokers: 3, partitions: 2, replicationFactor: 3, minInsyncReplicas: 2 }),
    testing.startSchemaRegistry(),
  ]);
  let stopped: Promise<void> | undefined;
  return {
    brokers: cluster.bootstrapServers,
    registryUrl: registry.url,
    origin: 'started',
    stopNotice: 'stopping the brokers and registry started for this run…',
    brokerControl: cluster,
    stop() {
      stopped ??= Promise.all([cluster.stop(), registry.stop()]).then(() => undefined);
      return stopped;
    },
  };
}

/**
 * Uses the compose stack: as it is when its Kafka services already run (and then leaves it running), otherwise
 * `docker compose up -d --wait`, whose `stop()` stops again exactly the services that were not running before.
 */
async function useComposeStack(
  config: PipelineConfig,
  docker: string,
  log: (message: string) => void,
): Promise<KafkaStack> {
  const compose = ['compose', '-f', COMPOSE_FILE];
  const shown = `docker compose -f ${relative(process.cwd(), COMPOSE_FILE)}`;
  const runningBefore = await composeRunningServices(docker, compose);
  let stopNotice: string | undefined;
  let stop = nothingToStop;
  if (COMPOSE_KAFKA_SERVICES.every((service) => runningBefore.has(service))) {
    log(`using the running compose stack (${shown}); it keeps running when this job exits`);
  } else {
    log(`starting the compose stack: ${shown} up -d --wait (the first run pulls the images: minutes)…`);
    // The user sees compose's own progress; --wait returns once every service is running or healthy (the one-shot
    // influxdb-init counts as done because grafana depends on it with service_completed_successfully).
    // A failed `up` leaves what it started running on purpose: `logs` and `ps` on it tell why, which a stop would hide.
    await runInherited(docker, [...compose, 'up', '-d', '--wait'], `${shown} up -d --wait`).catch((e: Error) => {
      throw new Error(`${e.message}; inspect with ${shown} ps / logs, stop with ${shown} stop`, { cause: e });
    });
    const startedHere = [...(await composeRunningServices(docker, compose))].filter((s) => !runningBefore.has(s));
    if (startedHere.length > 0) {
      // With nothing running before, a plain `stop` also covers services that exited in the meantime.
      const stopArgs = runningBefore.size === 0 ? [] : startedHere;
      stopNotice = `stopping the compose services started for this run (${shown} stop${stopArgs.map((s) => ` ${s}`).join('')}; containers and volumes are kept)…`;
      let stopped: Promise<void> | undefined;
      stop = () => {
        stopped ??= runCommand(docker, [...compose, 'stop', ...stopArgs], COMPOSE_STOP_TIMEOUT_MS).then((result) => {
          if (!result.ok) throw new Error(`${shown} stop failed: ${whyFailed(result)}`);
        });
        return stopped;
      };
    }
  }
  // The sink needs a token and a deliberate choice to store candles, so the compose InfluxDB is only pointed out.
  if (!config.influx)
    log(
      `the compose stack also runs InfluxDB 3: to store candles there, set INFLUX_HOST=${COMPOSE_ADDRESSES.influxHost} and INFLUX_TOKEN (any value without auth; docs/compose.md)`,
    );
  return {
    brokers: COMPOSE_ADDRESSES.brokers,
    registryUrl: COMPOSE_ADDRESSES.registryUrl,
    origin: 'compose',
    stopNotice,
    stop,
  };
}

/** `docker compose ps` answers from the engine's container list; `stop` waits up to 10 s per container. */
const COMPOSE_PS_TIMEOUT_MS = 15_000;
const COMPOSE_STOP_TIMEOUT_MS = 120_000;

async function composeRunningServices(docker: string, compose: string[]): Promise<Set<string>> {
  const result = await runCommand(
    docker,
    [...compose, 'ps', '--services', '--status', 'running'],
    COMPOSE_PS_TIMEOUT_MS,
  );
  if (!result.ok) throw new Error(`docker compose ps failed: ${whyFailed(result)}`);
  return new Set(
    result.stdout
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line !== ''),
  );
}

interface CommandResult {
  ok: boolean;
  stdout: string;
  stderr: string;
  timeoutMs: number;
  error: ExecFileException | undefined;
}

/** Runs `command` without a shell, so no argument is ever interpreted; never rejects. */
function runCommand(command: string, args: string[], timeoutMs: number): Promise<CommandResult> {
  return new Promise((resolve) => {
    execFile(
      command,
      args,
      { timeout: timeoutMs, killSignal: 'SIGKILL', windowsHide: true, encoding: 'utf8' },
      (error, stdout, stderr) => resolve({ ok: !error, stdout, stderr, timeoutMs, error: error ?? undefined }),
    );
  });
}

/** Runs `command` with the terminal as its output (compose draws progress there); rejects unless it exits with 0. */
function runInherited(command: string, args: string[], shown: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'inherit', 'inherit'], windowsHide: true });
    child.once('error', (e) => reject(new Error(`${shown} could not run: ${e.message}`)));
    child.once('exit', (code, signal) => {
      if (code === 0) resolve();
      else reject(new Error(`${shown} failed (${signal ?? `exit code ${code}`}); its output is above`));
    });
  });
}

function whyFailed(result: CommandResult): string {
  if (result.error?.killed) return `no answer within ${result.timeoutMs} ms`;
  return firstLine(result.stderr) || firstLine(result.stdout) || (result.error?.message ?? 'failed');
}

function firstLine(text: string): string {
  return text.trim().split('\n')[0]?.trim() ?? '';
}

function readStackRecord(file: string): StackRecord | undefined {
  if (!existsSync(file)) return undefined;
  let record: StackRecord;
  try {
    record = JSON.parse(readFileSync(file, 'utf8')) as StackRecord;
  } catch (e) {
    throw new ConfigError(`${file} is not valid JSON (${(e as Error).message}); run npm run stack:down`, { file });
  }
  if (typeof record?.kafka?.bootstrapServers !== 'string' || typeof record.registry?.url !== 'string')
    throw new ConfigError(`${file} does not describe a stack (kafka.bootstrapServers, registry.url)`, { file });
  return record;
}

/** Same test as `npm run stack:status`: every broker JVM and the registry JVM alive. */
function isHealthy(
  record: StackRecord,
  attach: (dir: string) => { brokers: readonly { id: number }[]; isRunning(id: number): boolean },
): boolean {
  try {
    const cluster = attach(record.kafka.dir);
    return cluster.brokers.every((b) => cluster.isRunning(b.id)) && isAlive(record.registry.pid);
  } catch {
    return false; // the cluster folder is gone: the record is stale
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
