// Admin over SASL: a real broker with a SASL_PLAINTEXT listener (PLAIN, SCRAM); a wrong password is a typed, non-retriable error, the right one works.
import { type KafkaCluster, startKafkaCluster } from '@kandle/local-stack';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { PureAdmin } from '../src/admin/groups';
import {
  AuthenticationError,
  createCandleConsumer,
  createCryptoProducer,
  createKafkaAdmin,
  GroupRequestError,
  KandleError,
  type KafkaConnection,
} from '../src/index';
import { uniqueName } from '../../../test/support/cluster';

const user = { username: 'kandle-admin', password: 'right-horse-battery' };
let cluster: KafkaCluster;
let saslBrokers = '';
const unhandled: unknown[] = [];
const onUnhandled = (e: unknown) => unhandled.push(e);

beforeAll(async () => {
  process.on('unhandledRejection', onUnhandled);
  process.on('uncaughtException', onUnhandled);
  cluster = await startKafkaCluster({ brokers: 1, replicationFactor: 1, minInsyncReplicas: 1, saslUser: user });
  saslBrokers = cluster.brokers.map((b) => `127.0.0.1:${b.saslPort}`).join(',');
});

afterAll(async () => {
  process.off('unhandledRejection', onUnhandled);
  process.off('uncaughtException', onUnhandled);
  await cluster?.stop();
});

type Mechanism = 'PLAIN' | 'SCRAM-SHA-256' | 'SCRAM-SHA-512';
const connection = (password: string, mechanism: Mechanism = 'PLAIN'): KafkaConnection => ({
  brokers: saslBrokers,
  security: { protocol: 'sasl_plaintext', sasl: { mechanism, username: user.username, password } },
});

describe('admin requests over SASL', () => {
  it('refuse a wrong password with a typed, non-retriable error that says so, and nothing escapes', async () => {
    const admin = new PureAdmin(connection('wrong'), saslBrokers, 10_000);
    const started = Date.now();
    const group = await admin.describeGroup('g').catch((e: unknown) => e);
    expect(group).toBeInstanceOf(GroupRequestError);
    expect(group).toMatchObject({ retriable: false, message: expect.stringMatching(/SASL_AUTHENTICATION_FAILED/) });
    // Not retried for the whole 30 s budget: a bad password does not get better.
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(String((group as Error).message)).not.toContain('wrong');
    const ends = await admin.endOffsets('t').catch((e: unknown) => e);
    expect(ends).toMatchObject({ code: 'GROUP_REQUEST_FAILED', retriable: false });
    const configs = await admin.topicConfigs('t', ['min.insync.replicas']).catch((e: unknown) => e);
    expect(configs).toBeInstanceOf(KandleError);
    expect(configs).toMatchObject({ code: 'ADMIN_REQUEST_FAILED', retriable: false });
    await admin.close();
    await new Promise((r) => setTimeout(r, 200));
    expect(unhandled).toEqual([]);
  });

  it('with the right password create a topic, read its configs, ends, a group and its commits', async () => {
    const admin = await createKafkaAdmin(connection(user.password));
    try {
      const topic = uniqueName('sasl-topic');
      const spec = {
        name: topic,
        partitions: 3,
        replicationFactor: 1,
        minInsyncReplicas: 1,
        configs: { 'retention.ms': '3600000' },
      };
      expect(await admin.ensureTopic(spec)).toBe('created');
      // The existing topic is validated through DescribeConfigs.
      expect(await admin.ensureTopic(spec)).toBe('exists');
      expect(await admin.minInsyncReplicas(topic)).toBe(1);
      const group = uniqueName('sasl-group');
      expect(await admin.describeGroup(group)).toEqual({ groupId: group, state: 'Dead', protocol: '', members: [] });
      // No commit: offset −1 for every partition, with the empty metadata the broker answers (as KafkaJS passed on).
      expect(await admin.committedOffsets(group, topic)).toEqual(
        [0, 1, 2].map((partition) => ({ partition, offset: -1, metadata: '' })),
      );
      const pure = new PureAdmin(connection(user.password), saslBrokers, 10_000);
      expect(await pure.endOffsets(topic)).toEqual([0, 1, 2].map((partition) => ({ partition, low: 0, high: 0 })));
      await pure.close();
    } finally {
      await admin.close();
    }
    expect(unhandled).toEqual([]);
  });

  it.each(['SCRAM-SHA-256', 'SCRAM-SHA-512'] as const)(
    '%s: the right password works, a wrong one is refused',
    async (mechanism) => {
      const wrong = new PureAdmin(connection('wrong', mechanism), saslBrokers, 10_000);
      await expect(wrong.describeGroup('g')).rejects.toMatchObject({
        code: 'GROUP_REQUEST_FAILED',
        retriable: false,
        message: expect.stringMatching(/SASL_AUTHENTICATION_FAILED/),
      });
      await wrong.close();
      const admin = new PureAdmin(connection(user.password, mechanism), saslBrokers, 10_000);
      try {
        const group = uniqueName('scram-group');
        expect(await admin.describeGroup(group)).toMatchObject({ groupId: group, state: 'Dead', members: [] });
        expect((await admin.topicConfigs('__consumer_offsets', ['cleanup.policy'])).get('cleanup.policy')).toBe(
          'compact',
        );
        const ends = await admin.endOffsets('__consumer_offsets');
        expect(ends.length).toBeGreaterThan(0);
        expect(ends.every((p) => p.low >= 0 && p.high >= p.low)).toBe(true);
      } finally {
        await admin.close();
      }
      expect(unhandled).toEqual([]);
    },
  );
});

describe('librdkafka clients over SASL: the error mapper on a real authentication failure', () => {
  // librdkafka reports a refused password as "broker transport failure" after the whole connect timeout; kandle asks
  // the broker again from JS and says what went wrong.
  const wrong = (): KafkaConnection => ({ ...connection('wrong-password'), connectTimeoutMs: 5000 });
  const expectRefused = (error: unknown) => {
    expect(error).toBeInstanceOf(AuthenticationError);
    expect(error).toMatchObject({
      code: 'AUTHENTICATION_FAILED',
      retriable: false,
      details: { mechanism: 'PLAIN', username: user.username },
    });
    expect(String((error as Error).message)).not.toContain('wrong-password');
  };

  it('createKafkaAdmin, createCryptoProducer and createCandleConsumer fail with AuthenticationError', async () => {
    const registry = { url: inject('schemaRegistryUrl') };
    const topics = { tickers: uniqueName('sasl-tickers'), trades: uniqueName('sasl-trades') };
    expectRefused(await createKafkaAdmin(wrong()).catch((e: unknown) => e));
    expectRefused(await createCryptoProducer({ connection: wrong(), registry, topics }).catch((e: unknown) => e));
    expectRefused(
      await createCandleConsumer({
        connection: wrong(),
        registry,
        topics,
        groupId: 'g',
        onCandles: () => undefined,
      }).catch((e: unknown) => e),
    );
    await new Promise((r) => setTimeout(r, 200));
    expect(unhandled).toEqual([]);
  });

  it('an unreachable SASL broker is still BROKER_UNREACHABLE, not an authentication failure', async () => {
    const nobody: KafkaConnection = { ...wrong(), brokers: '127.0.0.1:1' };
    expect(await createKafkaAdmin(nobody).catch((e: unknown) => e)).toMatchObject({ code: 'BROKER_UNREACHABLE' });
  });
});
