// Test set-up: starts the real 3-broker Kafka cluster (and registry) once for the integration project.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { startKafkaCluster, startSchemaRegistry } from '@kandle/local-stack';

declare module 'vitest' {
  export interface ProvidedContext {
    kafkaClusterDir: string;
    kafkaBrokers: string;
    schemaRegistryUrl: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  // While developing, `KANDLE_TEST_STACK=attach` reuses the stack of `npm run stack:up` instead of starting one.
  if (process.env.KANDLE_TEST_STACK === 'attach') {
    const state = JSON.parse(readFileSync(join(process.cwd(), '.kandle/stack/stack.json'), 'utf8'));
    project.provide('schemaRegistryUrl', state.registry.url);
    project.provide('kafkaClusterDir', state.kafka.dir);
    project.provide('kafkaBrokers', state.kafka.bootstrapServers);
    return async () => {};
  }
  const started = Date.now();
  const [cluster, registry] = await Promise.all([
    startKafkaCluster({ brokers: 3, partitions: 2, replicationFactor: 3, minInsyncReplicas: 2 }),
    startSchemaRegistry(),
  ]);
  process.stderr.write(
    `[kandle] 3-broker cluster at ${cluster.bootstrapServers} and registry at ${registry.url} up in ${Date.now() - started} ms\n`,
  );
  project.provide('schemaRegistryUrl', registry.url);
  project.provide('kafkaClusterDir', cluster.dir);
  project.provide('kafkaBrokers', cluster.bootstrapServers);
  return async () => {
    await Promise.all([cluster.stop(), registry.stop()]);
  };
}
