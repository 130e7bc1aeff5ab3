// Foundation proof: the local 3-broker cluster replicates, keeps ISR and survives a broker restart.
import { KafkaJS } from '@confluentinc/kafka-javascript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKafkaAdmin, type KafkaAdmin } from '../packages/core/src/index';
import { restoreAllBrokers, testCluster, uniqueName, waitFor } from './support/cluster';

const cluster = testCluster();
const kafka = new KafkaJS.Kafka({
  kafkaJS: { brokers: cluster.bootstrapServers.split(','), logLevel: KafkaJS.logLevel.ERROR },
});
const topic = uniqueName('foundation');

// kandle's admin reads metadata through a plain librdkafka handle, which keeps answering while a broker is down.
let kandleAdmin: KafkaAdmin;
async function isrSizes(): Promise<number[]> {
  return (await kandleAdmin.describeTopic(topic)).map((p) => p.isr.length);
}

beforeAll(async () => {
  kandleAdmin = await createKafkaAdmin({ brokers: cluster.bootstrapServers });
  // ensureTopic returns once every broker's metadata shows the topic with leaders.
  await kandleAdmin.ensureTopic({ name: topic, partitions: 2, replicationFactor: 3, minInsyncReplicas: 2 });
});

afterAll(async () => {
  await restoreAllBrokers(cluster);
  await kandleAdmin.close();
});

describe('local KRaft cluster', () => {
  it('runs 3 brokers and replicates every partition 3 times, all in sync', async () => {
    expect(cluster.brokers).toHaveLength(3);
    const partitions = await kandleAdmin.describeTopic(topic);
    expect(partitions).toHaveLength(2);
    for (const p of partitions) {
      expect(p.replicas).toEqual([1, 2, 3]);
      expect(p.isr).toEqual([1, 2, 3]);
    }
  });

  it('produces with acks=all and consumes the same records back', async () => {
    const producer = kafka.producer({ 'enable.idempotence': true, acks: -1 } as never);
    await producer.connect();
    const values = Array.from({ length: 50 }, (_, i) => `v${i}`);
    const reports = await producer.send({ topic, messages: values.map((value, i) => ({ key: `k${i % 7}`, value })) });
    await producer.disconnect();
    expect(reports.every((r) => r.errorCode === 0)).toBe(true);

    const consumer = kafka.consumer({ kafkaJS: { groupId: uniqueName('g'), fromBeginning: true } });
    await consumer.connect();
    await consumer.subscribe({ topics: [topic] });
    const received: string[] = [];
    await consumer.run({ eachMessage: async ({ message }) => void received.push(String(message.value)) });
    await waitFor('all 50 records', () => received.length >= 50, 60_000);
    await consumer.disconnect();
    expect(received.sort()).toEqual([...values].sort());
  });

  it('shrinks the ISR to 2 when a broker stops and grows it back to 3 when it returns', async () => {
    await cluster.stopBroker(3);
    expect(cluster.isRunning(3)).toBe(false);
    await waitFor('ISR of 2', async () => (await isrSizes()).every((n) => n === 2), 60_000);
    await cluster.startBroker(3);
    await waitFor('ISR of 3', async () => (await isrSizes()).every((n) => n === 3), 90_000);
    expect(await isrSizes()).toEqual([3, 3]);
  });
});
