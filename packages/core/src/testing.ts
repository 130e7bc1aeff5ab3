// Testing: real local services (Kafka brokers, schema registry, time-series store, fake Bitfinex) for tests and demos.
/**
 * `@kandle/core/testing` starts real services on loopback for integration tests and offline demos.
 * Nothing here is mocked: the brokers are Apache Kafka from its Maven Central jars.
 *
 * @example
 * ```ts
 * import { startKafkaCluster } from '@kandle/core/testing';
 * const cluster = await startKafkaCluster({ brokers: 3 });
 * console.log(cluster.bootstrapServers);
 * await cluster.stop();
 * ```
 * @packageDocumentation
 */
export {
  attachKafkaCluster,
  type BrokerInfo,
  ensureKafkaJars,
  KAFKA_VERSION,
  type KafkaCluster,
  type KafkaClusterOptions,
  startKafkaCluster,
} from './testing/kafka-cluster';
export {
  APICURIO_REGISTRY_VERSION,
  CONFLUENT_COMPAT_PATH,
  ensureSchemaRegistryArtifacts,
  type SchemaRegistry,
  type SchemaRegistryOptions,
  schemaRegistryHome,
  startSchemaRegistry,
} from './testing/schema-registry';
export {
  ensureQuestDbJar,
  QUESTDB_VERSION,
  type QuestDb,
  type QuestDbOptions,
  type QuestDbQueryResult,
  startQuestDb,
} from './testing/questdb';
export {
  DOCUMENTED_SUBSCRIPTION_LIMIT,
  type FakeBitfinex,
  type FakeBitfinexFaults,
  type FakeBitfinexOptions,
  type FakeSubscription,
  RATE_LIMIT_BODIES,
  startFakeBitfinex,
} from './testing/bitfinex-server';
