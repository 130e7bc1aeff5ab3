// Bench stack: the Kafka cluster and schema registry the bench runs on (its own, or the one named by the environment), and its topics.
import { randomBytes } from 'node:crypto';
import { createKafkaAdmin } from '@kandle/core';
import { startKafkaCluster, startSchemaRegistry } from '@kandle/local-stack';

/**
 * Runs `create` (a client factory that checks its topics), retrying for up to 15 s while it fails with
 * UNKNOWN_TOPIC: a topic just created on a fresh cluster reaches every broker's metadata a moment later.
 */
export async function retryWhileTopicUnknown(create) {
  const deadline = Date.now() + 15_000;
  for (;;) {
    try {
      return await create();
    } catch (e) {
      if (e?.code !== 'UNKNOWN_TOPIC' || Date.now() > deadline) throw e;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
}

/**
 * Uses `KAFKA_BROKERS` + `SCHEMA_REGISTRY_URL` when both are set; otherwise starts a 3-broker cluster
 * and a registry that `stop()` ends again. `stop()` also deletes the topics the bench created on a
 * stack it does not own.
 */
export async function openStack({ partitions, log, beforeCluster }) {
  const external = process.env.KAFKA_BROKERS && process.env.SCHEMA_REGISTRY_URL;
  let cluster;
  let registry;
  let brokers = process.env.KAFKA_BROKERS;
  let registryUrl = process.env.SCHEMA_REGISTRY_URL;
  if (!external) {
    // The registry first and alone: `beforeCluster` (CPU-only measurements that need a registry) runs before any
    // broker JVM exists.
    log('starting a schema registry…');
    const started = Date.now();
    registry = await startSchemaRegistry();
    try {
      await beforeCluster?.(registry.url);
      log('starting a 3-broker Kafka cluster (about 30 s)…');
      cluster = await startKafkaCluster({ brokers: 3, partitions: 2, replicationFactor: 3, minInsyncReplicas: 2 });
    } catch (e) {
      await registry.stop().catch(() => undefined);
      throw e;
    }
    brokers = cluster.bootstrapServers;
    registryUrl = registry.url;
    log(`cluster at ${brokers}, registry at ${registryUrl}, up in ${Date.now() - started} ms`);
  } else {
    log(`using KAFKA_BROKERS=${brokers} and SCHEMA_REGISTRY_URL=${registryUrl}`);
    await beforeCluster?.(registryUrl);
  }

  const runId = randomBytes(3).toString('hex');
  const created = [];
  let admin;
  try {
    admin = await createKafkaAdmin({ brokers });
  } catch (e) {
    await Promise.allSettled([cluster?.stop(), registry?.stop()]);
    throw e;
  }

  return {
    brokers,
    registryUrl,
    owned: !external,
    runId,
    /** Creates a fresh topic (RF 3, min ISR 2) named after `purpose` and this run. */
    async topic(purpose) {
      const name = `kandle-bench-${runId}-${purpose}`;
      // The fixtures' event times (2025-01-01) become the records' Kafka timestamps: with the default 7-day retention
      // the broker's retention check deletes them mid-run, which once looked like consumers stalling at 104,478 of 120,000.
      const ensure = () =>
        admin.ensureTopic({
          name,
          partitions,
          replicationFactor: 3,
          minInsyncReplicas: 2,
          configs: { 'retention.ms': '-1' },
        });
      // Checking a just-created topic's configs can meet a broker whose metadata has not caught up yet
      // ("This server does not host this topic-partition"): retried for up to 15 s.
      const deadline = Date.now() + 15_000;
      for (;;) {
        try {
          await ensure();
          break;
        } catch (e) {
          const unknown = e?.type === 'UNKNOWN_TOPIC_OR_PARTITION' || e?.code === 'UNKNOWN_TOPIC';
          if (!unknown || Date.now() > deadline) throw e;
          await new Promise((resolve) => setTimeout(resolve, 250));
        }
      }
      created.push(name);
      return name;
    },
    /** A consumer group name no other run uses. */
    group: (purpose) => `kandle-bench-${runId}-${purpose}-${randomBytes(2).toString('hex')}`,
    async stop() {
      if (!cluster) {
        for (const name of created) await admin.deleteTopic(name).catch(() => undefined);
      }
      await admin.close().catch(() => undefined);
      await Promise.allSettled([cluster?.stop(), registry?.stop()]);
    },
  };
}
