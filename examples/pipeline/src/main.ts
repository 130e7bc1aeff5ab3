// Main: the runnable job: reads the environment, finds Kafka, starts the pipeline, and shuts it down cleanly on a signal.
import { KandleError } from '@kandle/core';
import { loadDotEnv } from '../../concepts/src/main-runner';
import { loadConfig } from './config';
import { startPipeline } from './pipeline';
import { resolveStack } from './stack';

/** Exit codes: 0 clean stop, 1 failed to start or to stop, 2 bad configuration. */
async function main(): Promise<number> {
  const envFile = loadDotEnv();
  if (envFile) console.log(`settings from ${envFile} (shell variables win)`);
  const config = loadConfig();
  const stack = await resolveStack(config);
  let pipeline: Awaited<ReturnType<typeof startPipeline>>;
  try {
    pipeline = await startPipeline({
      ...config,
      kafkaBrokers: stack.brokers,
      schemaRegistryUrl: stack.registryUrl,
      // The fault lab only for JVMs this process started (origin `started`); resolveStack leaves it unset otherwise.
      ...(stack.brokerControl ? { brokerControl: stack.brokerControl } : {}),
    });
  } catch (e) {
    await stack.stop();
    throw e;
  }
  console.log(
    `kandle pipeline: ${config.source} feed of ${config.symbols.join(', ')} through Kafka at ${stack.brokers}`,
  );
  console.log(`live candlestick page: ${pipeline.url}   (Ctrl+C stops)`);

  // One persistent listener for both signals, registered before the first arrives. A terminal's Ctrl-C reaches the
  // whole job (npm, this process) and npm relays it once more: with a one-shot listener, that second SIGINT could
  // land (busy event loop, e.g. during the history backfill) before a successor listener existed, and the JVM hook,
  // seeing no handler, stopped everything mid-drain. A repeat within 1 s is that relay; a later one means "now".
  // `npm start` runs `node --import tsx`, not the `tsx` CLI: the CLI's parent process SIGKILLs its child when the
  // child does not acknowledge a signal within 2 × 30 ms, which a busy event loop misses (no drain, no "stopped").
  let firstAt: number | undefined;
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    const onSignal = (received: NodeJS.Signals) => {
      if (firstAt === undefined) {
        firstAt = Date.now();
        resolve(received);
      } else if (Date.now() - firstAt > 1_000) process.exit(130);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
  console.log(`${signal}: stopping (flushing the producer, committing the consumers' last batch)…`);
  let code = 0;
  try {
    await pipeline.stop();
  } catch (e) {
    console.error(describe(e));
    code = 1;
  }
  if (stack.stopNotice) console.log(stack.stopNotice);
  await stack.stop();
  console.log('stopped');
  return code;
}

function describe(e: unknown): string {
  if (e instanceof AggregateError) return [e.message, ...e.errors.map(describe)].join('\n  ');
  if (e instanceof KandleError) return `${e.name} [${e.code}]: ${e.message}`;
  return e instanceof Error ? (e.stack ?? e.message) : String(e);
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error(describe(e));
    process.exit(e instanceof KandleError && e.code === 'CONFIG_INVALID' ? 2 : 1);
  },
);
