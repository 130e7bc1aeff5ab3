// Test support: the shared cluster started by global-setup, plus small waiting helpers.
import { randomBytes } from 'node:crypto';
import { inject } from 'vitest';
import { createKafkaAdmin } from '../../packages/core/src/index';
import { attachKafkaCluster, type KafkaCluster } from '@kandle/local-stack';

/** The cluster global-setup started; tests may stop and start its brokers but must restart them. */
export function testCluster(): KafkaCluster {
  return attachKafkaCluster(inject('kafkaClusterDir'));
}

/** A name no other test uses, so tests never see each other's topics or groups. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${randomBytes(4).toString('hex')}`;
}

/** Polls `check` until it returns a value other than undefined/false, or throws after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs = 60_000,
  everyMs = 250,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/**
 * Starts every stopped broker of `cluster` and waits until no partition is under-replicated, so the next test
 * (or test file) finds a healthy cluster: a restarted broker is up long before it is back in every ISR.
 */
export async function restoreAllBrokers(cluster: KafkaCluster, timeoutMs = 180_000): Promise<void> {
  for (const b of cluster.brokers) if (!cluster.isRunning(b.id)) await cluster.startBroker(b.id);
  const admin = await createKafkaAdmin({ brokers: cluster.bootstrapServers });
  try {
    await waitFor(
      'no under-replicated partitions',
      async () => (await admin.underReplicatedPartitions()).length === 0,
      timeoutMs,
      500,
    );
  } finally {
    await admin.close();
  }
}
