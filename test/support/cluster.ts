// Test support: the shared cluster started by global-setup, plus small waiting helpers.
import { randomBytes } from 'node:crypto';
import { inject } from 'vitest';
import { attachKafkaCluster, type KafkaCluster } from '../../packages/core/src/testing';

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
