// A custom assignor governs live consumers: 3 members join one by one, one leaves, one is killed; the group follows the assignor.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import {
  type CandleConsumer,
  createCandleConsumer,
  createCryptoProducer,
  createKafkaAdmin,
  generateSyntheticEvents,
  type KafkaAdmin,
  type MarketEvent,
  type TopicPartition,
  validateAssignment,
} from '../src/index';
import { uniqueName, waitFor } from '../../../test/support/cluster';
import { type ChildMember, closedCandleLog, referenceCandles, spawnMember } from './support/members';
import { standbyAssignor } from './support/standby-assignor';

const brokers = inject('kafkaBrokers');
const registryUrl = inject('schemaRegistryUrl');
let admin: KafkaAdmin;
beforeAll(async () => {
  admin = await createKafkaAdmin({ brokers });
});
afterAll(async () => {
  await admin.close();
});

const show = (list: TopicPartition[]) =>
  list
    .map((tp) => `${tp.topic}[${tp.partition}]`)
    .sort()
    .join(' ');

describe('custom assignor on a live group', () => {
  let child: ChildMember | null = null;
  afterEach(() => {
    if (child && child.process.exitCode === null) child.process.kill('SIGKILL');
  });

  it('every settled assignment is the assignor’s, and no record is lost across joins, a leave and a crash', async () => {
    const topics = { tickers: uniqueName('tickers'), trades: uniqueName('trades') };
    await admin.ensureTopic({ name: topics.tickers, partitions: 3 });
    await admin.ensureTopic({ name: topics.trades, partitions: 3 });
    const partitionsPerTopic = { [topics.tickers]: 3, [topics.trades]: 3 };
    const groupId = uniqueName('custom');
    const events: MarketEvent[] = generateSyntheticEvents({
      count: 5000,
      startTime: Date.UTC(2026, 0, 1),
      seed: 21,
      ratePerSecond: 1,
      symbols: ['tBTCUSD', 'tETHUSD', 'tSOLUSD', 'tXRPUSD', 'tADAUSD', 'tDOGEUSD'],
    });
    const producer = await createCryptoProducer({ connection: { brokers }, registry: { url: registryUrl }, topics });
    let produced = 0;
    const produceNext = async (count: number) => {
      for (const e of events.slice(produced, produced + count)) void producer.send(e);
      produced = Math.min(events.length, produced + count);
      await producer.flush();
    };

    const log = closedCandleLog();
    const start = (clientId: string) =>
      createCandleConsumer({
        connection: { brokers },
        registry: { url: registryUrl },
        groupId,
        clientId,
        topics,
        intervals: ['1m', '5m'],
        assignment: standbyAssignor,
        sessionTimeoutMs: 6000,
        commitIntervalMs: 200,
        onCandles: log.record,
      });

    // Live members by id: what each actually reads right now.
    const live = new Map<string, () => TopicPartition[]>();
    const settlesAsAssignorSays = async (step: string) => {
      const members = [...live.keys()].map((memberId) => ({ memberId, topics: [topics.tickers, topics.trades] }));
      const decided = standbyAssignor.assign(members, partitionsPerTopic);
      validateAssignment(members, partitionsPerTopic, decided, standbyAssignor.name);
      const matches = () => [...live].every(([id, owned]) => show(owned()) === show(decided[id] ?? []));
      await waitFor(`${step}: members to read what the assignor decided`, matches, 60_000).catch(() => undefined);
      expect(Object.fromEntries([...live].map(([id, owned]) => [id, show(owned())])), step).toEqual(
        Object.fromEntries(Object.entries(decided).map(([id, list]) => [id, show(list)])),
      );
      // Exactly once: the live members' partitions are disjoint and cover every partition.
      const all = [...live.values()].flatMap((owned) => owned().map((tp) => `${tp.topic}[${tp.partition}]`));
      expect(new Set(all).size, step).toBe(all.length);
      expect(all.length, step).toBe(6);
    };

    await produceNext(1000);
    const m1: CandleConsumer = await start('m1');
    live.set('m1', () => m1.assignment());
    await settlesAsAssignorSays('m1 alone');

    await produceNext(1000);
    const m2 = await start('m2');
    live.set('m2', () => m2.assignment());
    await settlesAsAssignorSays('m2 joins');
    expect(m1.assignment()).toEqual([]); // the standby really stands by: no native strategy would do this

    await produceNext(1000);
    child = spawnMember({
      brokers,
      registryUrl,
      groupId,
      clientId: 'm3',
      topics,
      assignor: 'standby',
      onUpdates: log.record,
    });
    const m3 = child;
    live.set('m3', () => m3.owned());
    await settlesAsAssignorSays('m3 joins');

    await produceNext(1000);
    await m2.close();
    live.delete('m2');
    await settlesAsAssignorSays('m2 leaves');

    await waitFor('m3 to have worked', () => m3.records() > 0, 60_000);
    m3.process.kill('SIGKILL');
    live.delete('m3');
    await produceNext(1000);
    await producer.close();
    await settlesAsAssignorSays('m3 crashes');

    // Nothing lost: m1 ends up reading everything from the committed offsets, and the candles equal one clean run.
    const expected = referenceCandles(events, ['1m', '5m']);
    await waitFor(
      'candles to match the reference',
      () => log.differences(m1.candles(), expected).length === 0,
      90_000,
    ).catch(() => undefined);
    expect(log.differences(m1.candles(), expected)).toEqual([]);
    expect(log.conflicts).toEqual([]);
    await m1.close();
  });
});
