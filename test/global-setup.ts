// Test set-up: starts the real 3-broker Kafka cluster (and registry) once for the integration project.
import type { TestProject } from 'vitest/node';
import { startKafkaCluster, startSchemaRegistry } from '../packages/core/src/testing';

declare module 'vitest' {
  export interface ProvidedContext {
    kafkaClusterDir: string;
    kafkaBrokers: string;
    schemaRegistryUrl: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
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
