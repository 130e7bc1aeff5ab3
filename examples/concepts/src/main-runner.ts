// Concept examples (standalone): runs one example against $KAFKA_BROKERS / $SCHEMA_REGISTRY_URL, or a local stack it starts.
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ExampleOptions } from './shared';

/**
 * Loads `.env` from the working directory into `process.env` when the file exists, with Node's own parser
 * (`process.loadEnvFile`); variables already set in the shell win. Every runnable example and `npm start` call it
 * first, so copying `.env.example` to `.env` is all it takes. Returns the file it loaded, if any.
 */
export function loadDotEnv(path = resolve('.env')): string | undefined {
  if (!existsSync(path)) return undefined;
  process.loadEnvFile(path);
  return path;
}

/** An example's entry point. */
export type ExampleRun<R> = (options: ExampleOptions) => Promise<R>;

/**
 * Runs `run` when the file at `moduleUrl` is the process entry point (`npx tsx examples/concepts/src/<name>.ts`),
 * and does nothing when it is imported (tests, other code).
 *
 * Uses `KAFKA_BROKERS` and `SCHEMA_REGISTRY_URL` when set; otherwise starts a local 3-broker KRaft cluster and an
 * Apicurio registry from `@kandle/local-stack` (about 30 s, needs Java 21+) and stops them afterwards.
 * With `--json` the facts the example returned are printed as one JSON line at the end.
 *
 * @example
 * ```ts
 * export async function run(options: ExampleOptions): Promise<MyFacts> { … }
 * runIfMain(import.meta.url, run);
 * ```
 */
export function runIfMain<R>(moduleUrl: string, run: ExampleRun<R>): void {
  const entry = process.argv[1];
  if (!entry || resolve(entry) !== fileURLToPath(moduleUrl)) return;
  loadDotEnv();
  runStandalone(run, { json: process.argv.includes('--json') }).then(
    () => undefined,
    (error: unknown) => {
      console.error(error instanceof Error ? (error.stack ?? error.message) : error);
      process.exitCode = 1;
    },
  );
}

/** Runs one example outside the tests: see {@link runIfMain}. Returns what the example returned. */
export async function runStandalone<R>(run: ExampleRun<R>, options: { json?: boolean } = {}): Promise<R> {
  const stops: Array<() => Promise<void>> = [];
  let brokers = process.env.KAFKA_BROKERS;
  let registryUrl = process.env.SCHEMA_REGISTRY_URL;
  const stopAll = async () => {
    for (const stop of stops.splice(0).reverse()) await stop().catch(() => undefined);
  };
  // Ctrl-C during the example must not leave JVMs behind.
  const onSignal = () => void stopAll().finally(() => process.exit(130));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    if (!brokers || !registryUrl) {
      console.log(
        'KAFKA_BROKERS / SCHEMA_REGISTRY_URL not set: starting a local 3-broker cluster and registry (~30 s)…',
      );
      const { startKafkaCluster, startSchemaRegistry } = await import('@kandle/local-stack');
      // Started side by side (the JVMs boot in parallel); allSettled so a failure still stops what did start.
      const started = await Promise.allSettled([
        brokers
          ? undefined
          : startKafkaCluster({ brokers: 3, partitions: 2, replicationFactor: 3, minInsyncReplicas: 2 }).then(
              (cluster) => {
                stops.push(() => cluster.stop());
                brokers = cluster.bootstrapServers;
              },
            ),
        registryUrl
          ? undefined
          : startSchemaRegistry().then((registry) => {
              stops.push(() => registry.stop());
              registryUrl = registry.url;
            }),
      ]);
      for (const outcome of started) if (outcome.status === 'rejected') throw outcome.reason;
    }
    if (!brokers || !registryUrl) throw new Error('unreachable: the local stack did not report its addresses');
    const result = await run({ brokers, registryUrl, log: (line) => console.log(line) });
    if (options.json) console.log(JSON.stringify(result));
    return result;
  } finally {
    await stopAll();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
