// Local stack / Kafka: runs a real multi-broker KRaft cluster from the Apache jars on the local JVM.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, KandleError } from '@kandle/core';
import {
  assertPortsFree,
  classpathOf,
  ensureMavenLibs,
  freePorts,
  isAlive,
  sleep,
  spawnJava,
  stopProcess,
  waitForPort,
} from './jvm';

/** The Apache Kafka release the local cluster runs. */
export const KAFKA_VERSION = '4.4.0';

/** Options of {@link startKafkaCluster}; every field has a default. */
export interface KafkaClusterOptions {
  /** Number of brokers. Default 3. */
  brokers?: number;
  /** `num.partitions` for auto-created topics. Default 2 (the original kafka-python project's). */
  partitions?: number;
  /** `default.replication.factor`. Default min(3, brokers). */
  replicationFactor?: number;
  /** `min.insync.replicas`. Default min(2, replicationFactor). */
  minInsyncReplicas?: number;
  /** Working folder for configs, data and logs. Default a fresh folder under the OS temp dir. */
  dir?: string;
  /** First client port; brokers use consecutive ports. Default 0: free ports chosen by the OS. */
  basePort?: number;
  /** JVM heap per process in MiB. Default 384. */
  heapMb?: number;
  /** Let the JVMs outlive this Node process (for `npm run stack:up`). Default false. */
  detached?: boolean;
  /** Milliseconds to wait for the cluster to become healthy. Default 120000. */
  startTimeoutMs?: number;
  /**
   * `log.retention.ms`. Default -1 (keep forever): kandle's producer stamps records with their event time, and
   * replays and test fixtures carry event times older than Kafka's 7-day default, which the broker's retention
   * check would delete minutes after they were written.
   */
  retentionMs?: number;
  /**
   * Adds a SASL_PLAINTEXT listener on a port of its own (`BrokerInfo.saslPort`) that accepts exactly this user with
   * PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512: for testing clients against an authenticating cluster. Default none.
   */
  saslUser?: { username: string; password: string };
}

/** One broker of a running cluster. */
export interface BrokerInfo {
  id: number;
  /** Client listener (`LOCAL`), `127.0.0.1:<port>`. */
  port: number;
  /** Inter-broker listener (`INTERNAL`). */
  internalPort: number;
  /** SASL_PLAINTEXT client listener (`SASL`), when the cluster was started with `saslUser`. */
  saslPort?: number;
  pid: number | null;
  logFile: string;
}

/** A running local cluster. All methods work from any process that can read `dir` (see {@link attachKafkaCluster}). */
export interface KafkaCluster {
  /** `127.0.0.1:p1,127.0.0.1:p2,…` for `bootstrap.servers`. */
  readonly bootstrapServers: string;
  readonly dir: string;
  readonly brokers: readonly BrokerInfo[];
  /** Stops one broker: SIGTERM is a controlled shutdown, SIGKILL a crash. */
  stopBroker(id: number, signal?: 'SIGTERM' | 'SIGKILL'): Promise<void>;
  /** Starts a stopped broker again with its data and ports, and waits for it to listen. */
  startBroker(id: number): Promise<void>;
  /** Whether the broker's JVM is running. */
  isRunning(id: number): boolean;
  /** Stops every JVM of the cluster. `removeData` deletes `dir` too (default: true when `dir` was generated). */
  stop(options?: { removeData?: boolean }): Promise<void>;
}

interface ClusterState {
  version: string;
  clusterId: string;
  controllerPort: number;
  controllerPid: number | null;
  detached: boolean;
  generatedDir: boolean;
  brokers: BrokerInfo[];
}

const STATE_FILE = 'cluster.json';

/** Ensures the Kafka broker jars are in the cache (Maven Central, first run only) and returns the classpath. */
export function ensureKafkaJars(): string {
  const libs = ensureMavenLibs(`kafka-${KAFKA_VERSION}`, [
    { groupId: 'org.apache.kafka', artifactId: 'kafka_2.13', version: KAFKA_VERSION },
    // Pinned: Maven's nearest-wins would pick an slf4j 1.7 from a transitive path and silence all logs.
    { groupId: 'org.slf4j', artifactId: 'slf4j-api', version: '2.0.17' },
    { groupId: 'org.apache.logging.log4j', artifactId: 'log4j-slf4j2-impl', version: '2.24.3' },
    { groupId: 'org.apache.logging.log4j', artifactId: 'log4j-core', version: '2.24.3' },
  ]);
  return classpathOf(libs);
}

/**
 * Starts a KRaft cluster of `brokers` brokers plus one dedicated controller on loopback,
 * from the Apache Kafka jars (fetched from Maven Central into a cache on first use).
 * A dedicated controller keeps the metadata quorum alive whichever brokers a test stops.
 *
 * @example
 * ```ts
 * const cluster = await startKafkaCluster({ brokers: 3 });
 * // … produce with bootstrap.servers = cluster.bootstrapServers
 * await cluster.stopBroker(2);   // ISR shrinks
 * await cluster.startBroker(2);  // and grows back
 * await cluster.stop();
 * ```
 */
export async function startKafkaCluster(options: KafkaClusterOptions = {}): Promise<KafkaCluster> {
  const brokerCount = options.brokers ?? 3;
  if (!Number.isInteger(brokerCount) || brokerCount < 1) throw new ConfigError('brokers must be a positive integer');
  const replicationFactor = options.replicationFactor ?? Math.min(3, brokerCount);
  if (replicationFactor > brokerCount)
    throw new ConfigError(`replicationFactor ${replicationFactor} > brokers ${brokerCount}`);
  const minIsr = options.minInsyncReplicas ?? Math.min(2, replicationFactor);
  if (minIsr > replicationFactor)
    throw new ConfigError(`minInsyncReplicas ${minIsr} > replicationFactor ${replicationFactor}`);
  const partitions = options.partitions ?? 2;
  const heapMb = options.heapMb ?? 384;
  const generatedDir = options.dir === undefined;
  const dir = options.dir ?? join(tmpdir(), `kandle-kafka-${randomBytes(4).toString('hex')}`);
  mkdirSync(join(dir, 'logs'), { recursive: true });

  const classpath = ensureKafkaJars();
  const fixedPorts = options.basePort !== undefined && options.basePort > 0;
  const ports = fixedPorts
    ? Array.from({ length: 3 * brokerCount + 1 }, (_, i) => (options.basePort as number) + i)
    : await freePorts(3 * brokerCount + 1);
  if (fixedPorts)
    await assertPortsFree(
      ports,
      `Kafka cluster on base port ${options.basePort}`,
      'stop the stack using them (`npm run stack:down` in its checkout) or choose another base port (KANDLE_KAFKA_BASE_PORT)',
    );
  const controllerPort = ports[2 * brokerCount] as number;
  const clusterId = newClusterId();
  const voters = `1000@127.0.0.1:${controllerPort}`;
  const log4j = writeLog4jConfig(dir);

  const controllerProps = join(dir, 'controller.properties');
  writeProperties(controllerProps, {
    'process.roles': 'controller',
    'node.id': '1000',
    'controller.quorum.voters': voters,
    'controller.listener.names': 'CONTROLLER',
    listeners: `CONTROLLER://127.0.0.1:${controllerPort}`,
    'listener.security.protocol.map': 'CONTROLLER:PLAINTEXT',
    'log.dirs': join(dir, 'data', 'controller'),
  });

  const brokers: BrokerInfo[] = [];
  for (let i = 0; i < brokerCount; i++) {
    const id = i + 1;
    const port = ports[i] as number;
    const internalPort = ports[brokerCount + i] as number;
    const saslPort = options.saslUser ? (ports[2 * brokerCount + 1 + i] as number) : undefined;
    writeProperties(
      join(dir, `broker-${id}.properties`),
      brokerProperties({
        id,
        port,
        internalPort,
        saslPort,
        voters,
        dir,
        partitions,
        replicationFactor,
        minIsr,
        options,
      }),
    );
    brokers.push({
      id,
      port,
      internalPort,
      ...(saslPort ? { saslPort } : {}),
      pid: null,
      logFile: join(dir, 'logs', `broker-${id}.log`),
    });
  }

  const state: ClusterState = {
    version: KAFKA_VERSION,
    clusterId,
    controllerPort,
    controllerPid: null,
    detached: options.detached ?? false,
    generatedDir,
    brokers,
  };
  const jvm = jvmArgs(classpath, heapMb, log4j);

  const format = (props: string, extra: string[] = []) =>
    runToCompletion(
      [...jvm, 'kafka.tools.StorageTool', 'format', '-t', clusterId, '-c', props, '--ignore-formatted', ...extra],
      join(dir, 'logs', 'format.log'),
    );
  const sasl = options.saslUser;
  await format(
    controllerProps,
    sasl
      ? ['SCRAM-SHA-256', 'SCRAM-SHA-512'].flatMap((m) => [
          '--add-scram',
          `${m}=[name=${sasl.username},password=${sasl.password}]`,
        ])
      : [],
  );
  for (const b of brokers) await format(join(dir, `broker-${b.id}.properties`));

  state.controllerPid = spawnJava({
    args: [...jvm, 'kafka.Kafka', controllerProps],
    logFile: join(dir, 'logs', 'controller.log'),
    detached: state.detached,
  });
  saveState(dir, state);
  const cluster = attachKafkaCluster(dir);
  try {
    await waitForPort(controllerPort, options.startTimeoutMs ?? 120_000, () => isAlive(state.controllerPid as number));
    await Promise.all(brokers.map((b) => cluster.startBroker(b.id)));
  } catch (e) {
    // Keep the folder: its logs/ are how the failure gets diagnosed.
    await cluster.stop({ removeData: false });
    throw e;
  }
  return attachKafkaCluster(dir);
}

/** The properties of broker `id`: its listeners (SASL when asked), replication defaults and quick failover. */
function brokerProperties(b: {
  id: number;
  port: number;
  internalPort: number;
  saslPort: number | undefined;
  voters: string;
  dir: string;
  partitions: number;
  replicationFactor: number;
  minIsr: number;
  options: KafkaClusterOptions;
}): Record<string, string> {
  const { id, port, internalPort, saslPort, voters, dir, partitions, replicationFactor, minIsr, options } = b;
  const sasl = options.saslUser;
  const listeners = `INTERNAL://127.0.0.1:${internalPort},LOCAL://127.0.0.1:${port}${sasl ? `,SASL://127.0.0.1:${saslPort}` : ''}`;
  return {
    'process.roles': 'broker',
    'node.id': String(id),
    'controller.quorum.voters': voters,
    'controller.listener.names': 'CONTROLLER',
    // INTERNAL carries replication between brokers; LOCAL is what clients on this machine bootstrap from.
    listeners,
    'advertised.listeners': listeners,
    'inter.broker.listener.name': 'INTERNAL',
    'listener.security.protocol.map': `CONTROLLER:PLAINTEXT,INTERNAL:PLAINTEXT,LOCAL:PLAINTEXT${sasl ? ',SASL:SASL_PLAINTEXT' : ''}`,
    ...(sasl
      ? {
          'sasl.enabled.mechanisms': 'PLAIN,SCRAM-SHA-256,SCRAM-SHA-512',
          'listener.name.sasl.plain.sasl.jaas.config': `org.apache.kafka.common.security.plain.PlainLoginModule required user_${sasl.username}="${sasl.password}";`,
          // SCRAM credentials live in the cluster metadata: written when the controller's storage is formatted.
          'listener.name.sasl.scram-sha-256.sasl.jaas.config':
            'org.apache.kafka.common.security.scram.ScramLoginModule required;',
          'listener.name.sasl.scram-sha-512.sasl.jaas.config':
            'org.apache.kafka.common.security.scram.ScramLoginModule required;',
        }
      : {}),
    'log.dirs': join(dir, 'data', `broker-${id}`),
    'num.partitions': String(partitions),
    'default.replication.factor': String(replicationFactor),
    'min.insync.replicas': String(minIsr),
    'offsets.topic.replication.factor': String(replicationFactor),
    'offsets.topic.num.partitions': '6',
    'transaction.state.log.replication.factor': String(replicationFactor),
    'transaction.state.log.min.isr': String(minIsr),
    'share.coordinator.state.topic.replication.factor': String(replicationFactor),
    'share.coordinator.state.topic.min.isr': String(minIsr),
    'group.initial.rebalance.delay.ms': '0',
    'auto.create.topics.enable': 'false',
    // A crashed broker leaves the ISR after this long; short so failover tests stay quick.
    'replica.lag.time.max.ms': '10000',
    'broker.session.timeout.ms': '6000',
    'broker.heartbeat.interval.ms': '1000',
    'log.segment.bytes': String(16 * 1024 * 1024),
    'log.retention.ms': String(options.retentionMs ?? -1),
  };
}

/**
 * Re-opens a cluster started by {@link startKafkaCluster} (in this or another process) from its `dir`.
 * Vitest's global set-up starts the cluster; test files attach to it to stop and start brokers.
 */
export function attachKafkaCluster(dir: string): KafkaCluster {
  if (!existsSync(join(dir, STATE_FILE))) throw new ConfigError(`no Kafka cluster state in ${dir}`);
  const read = () => loadState(dir);
  const heapMb = 384;
  return {
    dir,
    get bootstrapServers() {
      return read()
        .brokers.map((b) => `127.0.0.1:${b.port}`)
        .join(',');
    },
    get brokers() {
      return read().brokers;
    },
    isRunning(id) {
      const b = read().brokers.find((x) => x.id === id);
      return !!b?.pid && isAlive(b.pid);
    },
    async stopBroker(id, signal = 'SIGTERM') {
      const state = read();
      const broker = brokerOf(state, id);
      if (broker.pid) await stopProcess(broker.pid, signal, 30_000);
      broker.pid = null;
      saveState(dir, state);
    },
    async startBroker(id) {
      const state = read();
      const broker = brokerOf(state, id);
      if (broker.pid && isAlive(broker.pid)) return;
      const jvm = jvmArgs(ensureKafkaJars(), heapMb, join(dir, 'log4j2.properties'));
      const logOffset = existsSync(broker.logFile) ? statSync(broker.logFile).size : 0;
      const pid = spawnJava({
        args: [...jvm, 'kafka.Kafka', join(dir, `broker-${id}.properties`)],
        logFile: broker.logFile,
        detached: state.detached,
      });
      broker.pid = pid;
      saveState(dir, state);
      await waitForPort(broker.port, 120_000, () => isAlive(pid));
      await waitForLogLine(
        broker.logFile,
        logOffset,
        /Kafka Server started|\[BrokerServer id=\d+\] Transition from STARTING to STARTED/,
        120_000,
        () => isAlive(pid),
      );
    },
    async stop(opts = {}) {
      const state = read();
      await Promise.all(state.brokers.map((b) => (b.pid ? stopProcess(b.pid, 'SIGTERM', 30_000) : Promise.resolve())));
      if (state.controllerPid) await stopProcess(state.controllerPid, 'SIGTERM', 20_000);
      for (const b of state.brokers) b.pid = null;
      state.controllerPid = null;
      saveState(dir, state);
      if (opts.removeData ?? state.generatedDir) rmSync(dir, { recursive: true, force: true });
    },
  };
}

// Same shape as Kafka's Uuid: 16 random bytes in base64url. Like Kafka, never start with '-',
// which the storage tool's argument parser would read as an option.
function newClusterId(): string {
  for (;;) {
    const id = randomBytes(16).toString('base64url');
    if (!id.startsWith('-')) return id;
  }
}

function brokerOf(state: ClusterState, id: number): BrokerInfo {
  const broker = state.brokers.find((b) => b.id === id);
  if (!broker)
    throw new ConfigError(`no broker with id ${id}; brokers are ${state.brokers.map((b) => b.id).join(', ')}`);
  return broker;
}

function jvmArgs(classpath: string, heapMb: number, log4jFile: string): string[] {
  return [
    `-Xms${Math.min(128, heapMb)}m`,
    `-Xmx${heapMb}m`,
    '-XX:+UseG1GC',
    '-XX:MaxGCPauseMillis=20',
    '-Djava.awt.headless=true',
    `-Dlog4j2.configurationFile=${log4jFile}`,
    '-cp',
    classpath,
  ];
}

function writeLog4jConfig(dir: string): string {
  const file = join(dir, 'log4j2.properties');
  writeFileSync(
    file,
    [
      'status = warn',
      'appender.out.type = Console',
      'appender.out.name = STDOUT',
      'appender.out.layout.type = PatternLayout',
      'appender.out.layout.pattern = [%d] %p %m (%c)%n',
      'rootLogger.level = INFO',
      'rootLogger.appenderRef.out.ref = STDOUT',
      'logger.kafka.name = kafka',
      'logger.kafka.level = INFO',
      'logger.state.name = state.change.logger',
      'logger.state.level = WARN',
      '',
    ].join('\n'),
  );
  return file;
}

function writeProperties(file: string, props: Record<string, string>): void {
  writeFileSync(
    file,
    `${Object.entries(props)
      .map(([k, v]) => `${k}=${v}`)
      .join('\n')}\n`,
  );
}

function saveState(dir: string, state: ClusterState): void {
  writeFileSync(join(dir, STATE_FILE), JSON.stringify(state, null, 2));
}

function loadState(dir: string): ClusterState {
  return JSON.parse(readFileSync(join(dir, STATE_FILE), 'utf8')) as ClusterState;
}

async function runToCompletion(args: string[], logFile: string): Promise<void> {
  const pid = spawnJava({ args, logFile });
  const deadline = Date.now() + 120_000;
  while (isAlive(pid)) {
    if (Date.now() > deadline) {
      await stopProcess(pid, 'SIGKILL');
      throw new KandleError('LOCAL_STACK_FAILED', `kafka storage format timed out; see ${logFile}`);
    }
    await sleep(100);
  }
}

async function waitForLogLine(
  file: string,
  fromByte: number,
  pattern: RegExp,
  timeoutMs: number,
  alive: () => boolean,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (existsSync(file) && pattern.test(readFileSync(file).subarray(fromByte).toString('utf8'))) return;
    if (!alive()) throw new KandleError('BROKER_UNREACHABLE', `broker exited during start-up; see ${file}`);
    await sleep(200);
  }
  throw new KandleError('BROKER_UNREACHABLE', `broker did not report started within ${timeoutMs} ms; see ${file}`);
}
