// Stack: finds the Kafka brokers and schema registry to use: the configured ones, the running local stack, or new ones.
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '@kandle/core';
import type { PipelineConfig } from './config';

/** Brokers and registry the pipeline talks to, and how to release them. */
export interface KafkaStack {
  brokers: string;
  registryUrl: string;
  /** `env`: from KAFKA_BROKERS; `stack`: the one `npm run stack:up` runs; `started`: started here. */
  origin: 'env' | 'stack' | 'started';
  /** Stops what this process started (only for `started`); otherwise does nothing. */
  stop(): Promise<void>;
}

/** Options of {@link resolveStack}. */
export interface ResolveStackOptions {
  /** The record `npm run stack:up` writes. Default `<repo>/.kandle/stack/stack.json`. */
  stackFile?: string;
  /** Progress messages (starting JVMs takes 15-40 s). Default `console.log`. */
  log?: (message: string) => void;
}

/** The part of `.kandle/stack/stack.json` this reads. */
interface StackRecord {
  kafka: { dir: string; bootstrapServers: string };
  registry: { url: string; pid: number };
}

export const DEFAULT_STACK_FILE = fileURLToPath(new URL('../../../.kandle/stack/stack.json', import.meta.url));

/**
 * Decides where Kafka is: `KAFKA_BROKERS`/`SCHEMA_REGISTRY_URL` when set; else the healthy local stack recorded by
 * `npm run stack:up`; else a 3-broker cluster (RF 3, min ISR 2, 2 partitions) and a registry started now from the
 * Maven Central jars, stopped again by `stop()`.
 *
 * @example
 * ```ts
 * const stack = await resolveStack(loadConfig());
 * console.log(stack.origin, stack.brokers);
 * await stack.stop();
 * ```
 */
export async function resolveStack(config: PipelineConfig, options: ResolveStackOptions = {}): Promise<KafkaStack> {
  const log = options.log ?? console.log;
  const nothingToStop = async () => {};
  if (config.kafkaBrokers && config.schemaRegistryUrl)
    return { brokers: config.kafkaBrokers, registryUrl: config.schemaRegistryUrl, origin: 'env', stop: nothingToStop };

  // Loaded only here: a deployment with its own brokers never needs the JVM launchers.
  const testing = await import('@kandle/core/testing');
  const stackFile = options.stackFile ?? DEFAULT_STACK_FILE;
  const recorded = readStackRecord(stackFile);
  if (recorded && isHealthy(recorded, testing.attachKafkaCluster)) {
    log(`using the local stack of npm run stack:up (${stackFile})`);
    return {
      brokers: recorded.kafka.bootstrapServers,
      registryUrl: recorded.registry.url,
      origin: 'stack',
      stop: nothingToStop,
    };
  }

  log('no Kafka configured and no local stack running: starting 3 brokers and a schema registry (15-40 s)…');
  const [cluster, registry] = await Promise.all([
    testing.startKafkaCluster({ brokers: 3, partitions: 2, replicationFactor: 3, minInsyncReplicas: 2 }),
    testing.startSchemaRegistry(),
  ]);
  let stopped: Promise<void> | undefined;
  return {
    brokers: cluster.bootstrapServers,
    registryUrl: registry.url,
    origin: 'started',
    stop() {
      stopped ??= Promise.all([cluster.stop(), registry.stop()]).then(() => undefined);
      return stopped;
    },
  };
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
