// Reliability on the real 3-broker cluster: broker loss under acks=all, losing the ISR quorum, a crashed group member.
import { KafkaConsumer } from '@confluentinc/kafka-javascript';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import {
  connectSchemaRegistry,
  createAvroDecoder,
  createCandleConsumer,
  createCryptoProducer,
  createKafkaAdmin,
  type DeliveryReport,
  generateSyntheticEvents,
  type KafkaAdmin,
  type MarketEvent,
  NotEnoughReplicasError,
  type Trade,
  tradeSchema,
} from '../src/index';
import { restoreAllBrokers, uniqueName, waitFor } from '../../../test/support/cluster';
import { type KafkaCluster, startKafkaCluster } from '@kandle/local-stack';
import { type ChildMember, closedCandleLog, referenceCandles, spawnMember } from './support/members';

const registryUrl = inject('schemaRegistryUrl');
// These tests SIGKILL and stop brokers: they get a cluster of their own, so no other test file ever runs on a
// cluster that has just been through that (a cluster after these kills was seen refusing acks=all on new topics).
let cluster: KafkaCluster;
let brokers: string;
let admin: KafkaAdmin;

beforeAll(async () => {
  cluster = await startKafkaCluster({ brokers: 3, partitions: 2, replicationFactor: 3, minInsyncReplicas: 2 });
  brokers = cluster.bootstrapServers;
  admin = await createKafkaAdmin({ brokers });
});
afterAll(async () => {
  await admin?.close();
  await cluster?.stop();
});
// Whatever a test did to the brokers, the next one starts with all three back and in sync.
afterEach(async () => {
  await restoreAllBrokers(cluster);
});

/** A fresh trades topic (the one under test) and its tickers companion: one schema per subject, as the registry wants. */
async function freshTopics(partitions: number): Promise<{ trades: string; tickers: string }> {
  const topics = { trades: uniqueName('trades'), tickers: uniqueName('tickers') };
  for (const name of Object.values(topics))
    await admin.ensureTopic({ name, partitions, replicationFactor: 3, minInsyncReplicas: 2 });
  return topics;
}

async function waitForFullIsr(topic: string): Promise<void> {
  await waitFor(
    `${topic} back to 3 in-sync replicas`,
    async () => (await admin.describeTopic(topic)).every((p) => p.isr.length === 3),
    120_000,
  );
}

function trade(id: number): Trade {
  return { id, symbol: id % 2 ? 'tBTCUSD' : 'tETHUSD', time: Date.UTC(2026, 0, 1) + id, amount: 0.5, price: 1000 + id };
}

/** Reads every trade in `topic` from the beginning (no group), until `expected` records or the timeout. */
async function readAllTrades(topic: string, expected: number): Promise<number[]> {
  const decoder = createAvroDecoder<Trade>(connectSchemaRegistry({ url: registryUrl }), tradeSchema);
  const consumer = new KafkaConsumer(
    { 'group.id': uniqueName('reader'), 'metadata.broker.list': brokers, 'enable.auto.commit': false },
    { 'auto.offset.reset': 'earliest' },
  );
  await new Promise<void>((resolve, reject) => consumer.connect({}, (e) => (e ? reject(e) : resolve())));
  consumer.subscribe([topic]);
  const ids: number[] = [];
  const deadline = Date.now() + 90_000;
  while (ids.length < expected && Date.now() < deadline) {
    const batch = await new Promise<Array<{ value: Buffer | null }>>((resolve, reject) =>
      consumer.consume(500, (e, m) => (e ? reject(e) : resolve(m as never))),
    );
    for (const m of batch) ids.push((await decoder.decode(m.value as Buffer)).id);
  }
  // A short extra read proves nothing beyond `expected` (a duplicate) is waiting.
  const extra = await new Promise<unknown[]>((resolve) => consumer.consume(500, (_e, m) => resolve(m ?? [])));
  for (const m of extra as Array<{ value: Buffer }>) ids.push((await decoder.decode(m.value)).id);
  await new Promise<void>((resolve) => consumer.disconnect(() => resolve()));
  return ids;
}

describe('acks=all on the 3-broker cluster', () => {
  it('loses nothing and duplicates nothing when a broker stops mid-stream', async () => {
    const topics = await freshTopics(2);
    const topic = topics.trades;
    const producer = await createCryptoProducer({
      connection: { brokers },
      registry: { url: registryUrl },
      topics,
      // Generous: a SIGKILLed leader is noticed only after the broker session timeout, slower on a busy machine.
      deliveryTimeoutMs: 120_000,
    });
    const total = 6000;
    const acknowledged: number[] = [];
    const failed: number[] = [];
    const sends: Array<Promise<DeliveryReport | undefined>> = [];
    // Stop the leader of partition 0, so in-flight batches really need a leader change and retries.
    const leader = (await admin.describeTopic(topic)).find((p) => p.partition === 0)?.leader as number;
    for (let id = 0; id < total; id++) {
      sends.push(
        producer.sendTrade(trade(id)).then(
          () => void acknowledged.push(id),
          () => void failed.push(id),
        ),
      );
      if (id === total / 3) await cluster.stopBroker(leader, 'SIGKILL');
      if (id % 500 === 0) await new Promise((r) => setTimeout(r, 50));
    }
    await Promise.all(sends);
    await producer.close();
    expect(failed).toEqual([]);
    expect(acknowledged.length).toBe(total);

    const ids = await readAllTrades(topic, total);
    const counts = new Map<number, number>();
    for (const id of ids) counts.set(id, (counts.get(id) ?? 0) + 1);
    expect([...counts.values()].filter((n) => n > 1)).toEqual([]);
    expect(acknowledged.filter((id) => !counts.has(id))).toEqual([]);
    await cluster.startBroker(leader);
    await waitForFullIsr(topic);
  });

  it('refuses writes with NotEnoughReplicasError when two of three brokers are down', async () => {
    const topics = await freshTopics(1);
    const topic = topics.trades;
    const producer = await createCryptoProducer({
      connection: { brokers },
      registry: { url: registryUrl },
      topics,
      deliveryTimeoutMs: 15_000,
    });
    await producer.sendTrade(trade(1));
    const [survivor, ...others] = cluster.brokers.map((b) => b.id);
    for (const id of others) await cluster.stopBroker(id);
    await waitFor(
      'ISR to shrink to the one running broker',
      async () => (await admin.describeTopic(topic)).every((p) => p.isr.length === 1 && p.leader === survivor),
      60_000,
    );
    const error = await producer.sendTrade(trade(2)).catch((e) => e);
    expect(error).toBeInstanceOf(NotEnoughReplicasError);
    expect(String(error.message)).toMatch(/in-sync replicas/i);
    await producer.close();
    for (const id of others) await cluster.startBroker(id);
    await waitForFullIsr(topic);
  });
});

describe('a group member crashes mid-stream', () => {
  let child: ChildMember | null = null;
  afterEach(() => {
    if (child && child.process.exitCode === null) child.process.kill('SIGKILL');
  });

  it('the surviving member takes over and the candles equal a run without the crash', async () => {
    const topics = { tickers: uniqueName('tickers'), trades: uniqueName('trades') };
    await admin.ensureTopic({ name: topics.tickers, partitions: 2 });
    await admin.ensureTopic({ name: topics.trades, partitions: 2 });
    const groupId = uniqueName('crash');
    const events: MarketEvent[] = generateSyntheticEvents({
      count: 4000,
      startTime: Date.UTC(2026, 0, 1),
      seed: 11,
      ratePerSecond: 1,
      symbols: ['tBTCUSD', 'tETHUSD', 'tSOLUSD', 'tXRPUSD'],
    });
    const producer = await createCryptoProducer({ connection: { brokers }, registry: { url: registryUrl }, topics });
    const produce = async (slice: MarketEvent[]) => {
      for (const e of slice) void producer.send(e);
      await producer.flush();
    };
    await produce(events.slice(0, 2000));

    const log = closedCandleLog();
    // Member 1 runs in a child process, so it can really be killed (SIGKILL: no close, no commit, no leave).
    // It starts alone and works first: commits follow processing, so a member joining later finds nothing old to do.
    child = spawnMember({ brokers, registryUrl, groupId, clientId: 'member-child', topics, onUpdates: log.record });
    const member = child;
    await waitFor('the child to work', () => member.records() > 0, 60_000);
    const survivor = await createCandleConsumer({
      connection: { brokers },
      registry: { url: registryUrl },
      groupId,
      clientId: 'survivor',
      topics,
      intervals: ['1m', '5m'],
      sessionTimeoutMs: 6000,
      commitIntervalMs: 200,
      onCandles: log.record,
    });
    await waitFor('both members to own partitions', async () => {
      const group = await admin.describeGroup(groupId);
      return group.members.length === 2 && survivor.assignment().length > 0 && member.owned().length > 0;
    });
    expect(survivor.assignment().length).toBeLessThan(4);
    // Killed mid-stream: once it has started on records produced after the rebalance.
    const before = member.records();
    const midStream = produce(events.slice(2000, 3000));
    await waitFor('the child to read new records', () => member.records() > before, 60_000);
    member.process.kill('SIGKILL');
    await midStream;
    await produce(events.slice(3000));
    await producer.close();

    await waitFor('the survivor to own all four partitions', () => survivor.assignment().length === 4, 60_000);
    const expected = referenceCandles(events, ['1m', '5m']);
    // The survivor catches up from the committed offsets; once it has, the candles must match exactly.
    await waitFor(
      'the candles to match the no-crash reference',
      () => log.differences(survivor.candles(), expected).length === 0,
      90_000,
    ).catch(() => undefined);
    expect(log.differences(survivor.candles(), expected)).toEqual([]);
    expect(log.conflicts).toEqual([]);
    await survivor.close();
  });
});
