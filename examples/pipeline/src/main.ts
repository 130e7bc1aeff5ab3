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
    pipeline = await startPipeline({ ...config, kafkaBrokers: stack.brokers, schemaRegistryUrl: stack.registryUrl });
  } catch (e) {
    await stack.stop();
    throw e;
  }
  console.log(
    `kandle pipeline: ${config.source} feed of ${config.symbols.join(', ')} through Kafka at ${stack.brokers}`,
  );
  console.log(`live candlestick page: ${pipeline.url}   (Ctrl+C stops)`);

  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  console.log(`${signal}: stopping (flushing the producer, committing the consumers' last batch)…`);
  // A second signal while draining means "now", unless it is the first one again: a terminal's Ctrl-C reaches the
  // whole job (npm, tsx, this process) and tsx relays it once more when this process is slow to confirm it (seen
  // on a busy machine), which cut the drain short. A deliberate second Ctrl-C comes later than that.
  const firstAt = Date.now();
  const forceExit = () => (Date.now() - firstAt > 1_000 ? process.exit(130) : undefined);
  process.on('SIGINT', forceExit);
  process.on('SIGTERM', forceExit);
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
