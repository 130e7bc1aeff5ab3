// Exactly-once candles on the real 3-broker cluster: the candles topic, read_committed, across SIGKILLed members, a stopped broker and a fenced zombie.
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { KafkaConsumer } from '@confluentinc/kafka-javascript';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  type Candle,
  type CandleRecord,
  candleRecordKey,
  candleRecordSchema,
  connectSchemaRegistry,
  createAvroDecoder,
  createCandleAggregator,
  createCandleConsumer,
  createCryptoProducer,
  createKafkaAdmin,
  generateSyntheticEvents,
  type KafkaAdmin,
  type MarketEvent,
} from '../src/index';
import { restoreAllBrokers, uniqueName, waitFor } from '../../../test/support/cluster';
import { type KafkaCluster, startKafkaCluster } from '@kandle/local-stack';
import { type ChildMember, spawnMember } from './support/members';

const registryUrl = inject('schemaRegistryUrl');
const INTERVALS: Array<'1m' | '5m'> = ['1m', '5m'];
// Stops a broker and SIGKILLs members: a cluster of its own, as in reliability.int.test.ts.
let cluster: KafkaCluster;
let brokers: string;
let admin: KafkaAdmin;
const children: ChildMember[] = [];

beforeAll(async () => {
  cluster = await startKafkaCluster({ brokers: 3, partitions: 2, replicationFactor: 3, minInsyncReplicas: 2 });
  brokers = cluster.bootstrapServers;
  admin = await createKafkaAdmin({ brokers });
});
afterAll(async () => {
  await admin?.close();
  await cluster?.stop();
});
afterEach(async () => {
  // `killed` only says a signal was sent: a member sent SIGTERM while stopped (SIGSTOP) never exits by itself.
  for (const c of children.splice(0))
    if (c.process.exitCode === null && c.process.signalCode === null) c.process.kill('SIGKILL');
  await restoreAllBrokers(cluster);
});

async function setUp(name: string, count: number) {
  const topics = { tickers: uniqueName(`${name}-tickers`), trades: uniqueName(`${name}-trades`) };
  for (const topic of Object.values(topics))
    await admin.ensureTopic({ name: topic, partitions: 2, replicationFactor: 3, minInsyncReplicas: 2 });
  const events = generateSyntheticEvents({
    count,
    startTime: Date.UTC(2026, 0, 1),
    seed: 7,
    ratePerSecond: 1,
    symbols: ['tBTCUSD', 'tETHUSD', 'tSOLUSD', 'tXRPUSD'],
  });
  return { topics, events, groupId: uniqueName(`${name}-group`), output: uniqueName(`${name}-candles`) };
}

/** The closed candles one uninterrupted aggregation of `events` emits, by candle key. */
function cleanRunClosed(events: MarketEvent[]): Map<string, Candle> {
  const aggregator = createCandleAggregator({ intervals: INTERVALS, gracePeriodMs: 5000 });
  const closed = new Map<string, Candle>();
  for (const e of events) {
    const updates = e.kind === 'ticker' ? aggregator.addTicker(e.ticker) : aggregator.addTrade(e.trade);
    for (const u of updates) if (u.kind === 'closed') closed.set(candleRecordKey(u.candle), u.candle);
  }
  return closed;
}

/**
 * Produces `events` in slices of `slice` every `everyMs` while `paced()` holds (so faults land mid-stream, however
 * long they take on a busy machine), then the rest at once.
 */
async function produceSteadily(
  topics: { tickers: string; trades: string },
  events: MarketEvent[],
  slice: number,
  everyMs: number,
  paced: () => boolean = () => true,
) {
  const producer = await createCryptoProducer({ connection: { brokers }, registry: { url: registryUrl }, topics });
  for (let i = 0; i < events.length; i += slice) {
    for (const e of events.slice(i, i + slice)) void producer.send(e);
    await producer.flush();
    if (paced()) await new Promise((r) => setTimeout(r, everyMs));
  }
  await producer.close();
}

/** The state letter of a process in /proc (`T`: stopped). */
function processState(child: ChildProcess): string {
  try {
    const stat = readFileSync(`/proc/${child.pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  } catch {
    return '?';
  }
}

/** Waits until the group's committed offsets reach the end of every input partition. */
async function waitForCatchUp(groupId: string, topics: { tickers: string; trades: string }, timeoutMs = 120_000) {
  await waitFor(
    'the group to commit every input record',
    async () => {
      for (const topic of Object.values(topics)) {
        const lag = await admin.groupLag(groupId, topic).catch(() => null);
        if (!lag || lag.some((p) => p.committed === null || p.lag > 0)) return false;
      }
      return true;
    },
    timeoutMs,
  );
}

/** Every record of the candles topic a read_committed reader sees, decoded, in partition order. */
async function readCommitted(topic: string): Promise<CandleRecord[]> {
  const decoder = createAvroDecoder<CandleRecord>(connectSchemaRegistry({ url: registryUrl }), candleRecordSchema);
  const reader = new KafkaConsumer(
    {
      'group.id': uniqueName('eos-reader'),
      'metadata.broker.list': brokers,
      'enable.auto.commit': false,
      'isolation.level': 'read_committed',
    },
    {},
  );
  await new Promise<void>((resolve, reject) => reader.connect({}, (e) => (e ? reject(e) : resolve())));
  const partitions = (await admin.describeTopic(topic)).map((p) => p.partition);
  const records: CandleRecord[] = [];
  try {
    for (const partition of partitions) {
      const { highOffset } = await new Promise<{ highOffset: number }>((resolve, reject) =>
        reader.queryWatermarkOffsets(topic, partition, 10_000, (e, o) => (e ? reject(e) : resolve(o))),
      );
      reader.assign([{ topic, partition, offset: 0 }]);
      const deadline = Date.now() + 60_000;
      // Control records (commit/abort markers) are never returned: the position says when the end is reached.
      while ((reader.position([{ topic, partition }])[0]?.offset ?? 0) < highOffset && Date.now() < deadline) {
        const batch = await new Promise<Array<{ value: Buffer | null }>>((resolve, reject) =>
          reader.consume(1000, (e, m) => (e ? reject(e) : resolve(m as never))),
        );
        for (const m of batch) records.push(await decoder.decode(m.value as Buffer));
      }
      reader.unassign();
    }
  } finally {
    await new Promise<void>((resolve) => reader.disconnect(() => resolve()));
  }
  return records;
}

/** Closed records per candle in the candles topic, against the clean run: missing, twice, or different. */
function closedDifferences(records: CandleRecord[], expected: Map<string, Candle>): string[] {
  const seen = new Map<string, CandleRecord[]>();
  for (const r of records.filter((r) => r.kind === 'closed')) {
    const key = candleRecordKey(r as unknown as Candle);
    seen.set(key, [...(seen.get(key) ?? []), r]);
  }
  const problems: string[] = [];
  for (const [key, candle] of expected) {
    const got = seen.get(key) ?? [];
    if (got.length !== 1) problems.push(`${key}: ${got.length} closed records`);
    else {
      const record = got[0] as CandleRecord;
      const fields = [
        'symbol',
        'interval',
        'source',
        'start',
        'end',
        'open',
        'high',
        'low',
        'close',
        'volume',
        'count',
      ];
      const differing = fields.filter((f) => record[f as keyof CandleRecord] !== candle[f as keyof Candle]);
      if (differing.length > 0) problems.push(`${key}: ${differing.join(', ')} differ: ${JSON.stringify(record)}`);
    }
  }
  for (const key of seen.keys()) if (!expected.has(key)) problems.push(`${key}: not closed in the clean run`);
  return problems;
}

/** An exactly-once member (candles topic on) in a child process, killed after the test; its warnings go to `onWarning`. */
function spawnEosMember(
  setup: { topics: { tickers: string; trades: string }; groupId: string; output: string },
  clientId: string,
  onWarning: (code: string) => void,
): ChildMember {
  const child = spawnMember({
    brokers,
    registryUrl,
    groupId: setup.groupId,
    clientId,
    topics: setup.topics,
    output: setup.output,
    processing: 'exactly-once',
    onUpdates: () => undefined,
    onWarning: (w) => onWarning(w.warning),
  });
  children.push(child);
  return child;
}

describe('exactly-once candles (processing: exactly-once, output: { topic })', () => {
  it('without faults: one committed closed record per candle, equal to a clean run', { timeout: 300_000 }, async () => {
    const { topics, events, groupId, output } = await setUp('eos-clean', 3000);
    const warnings: string[] = [];
    await produceSteadily(topics, events, 3000, 0);
    const consumer = await createCandleConsumer({
      connection: { brokers },
      registry: { url: registryUrl },
      groupId,
      topics,
      intervals: INTERVALS,
      output: { topic: output },
      processing: 'exactly-once',
      commitIntervalMs: 200,
      // A handler (else the consumer waits for an iterator); the candles topic is what this test reads.
      onCandles: () => undefined,
      onWarning: (e) => warnings.push(`${e.code}: ${e.message}`),
    });
    await waitForCatchUp(groupId, topics).catch((e) => {
      throw new Error(`${e}; consumer ${JSON.stringify(consumer.stats())}; warnings:\n${warnings.join('\n')}`);
    });
    await consumer.close();
    const records = await readCommitted(output);
    const expected = cleanRunClosed(events);
    expect(expected.size).toBeGreaterThan(100);
    expect(closedDifferences(records, expected)).toEqual([]);
    // The schema is registered under the topic's value subject, readable by any Confluent-format consumer.
    expect(records.every((r) => ['progress', 'closed', 'correction'].includes(r.kind))).toBe(true);
  });

  it('SIGKILLed members (5 times) and a stopped broker: still exactly one committed closed record per candle', async () => {
    // Enough records to keep writing through five kills even when each takes long; the rest goes at once after.
    const { topics, events, groupId, output } = await setUp('eos-kill', 40_000);
    const warnings: string[] = [];
    const spawn = (clientId: string) =>
      spawnEosMember({ topics, groupId, output }, clientId, (code) => warnings.push(`${clientId}: ${code}`));
    const members = { 'eos-a': spawn('eos-a'), 'eos-b': spawn('eos-b') };
    await waitFor('a member to work', () => Object.values(members).some((m) => m.records() > 0), 90_000).catch(
      () => undefined,
    );
    let kills = 0;
    const producing = produceSteadily(topics, events, 50, 250, () => kills < 5);
    for (const id of ['eos-a', 'eos-b', 'eos-a', 'eos-b', 'eos-a'] as const) {
      // Mid-stream: the member has handled records since it (re)started.
      const member = members[id];
      const before = member.records();
      await waitFor(`${id} to handle records`, () => member.records() > before, 90_000);
      member.process.kill('SIGKILL');
      kills++;
      if (kills === 2) {
        // One broker down while members restore and commit: ISR 2 of 3 still accepts acks=all and transactions.
        await cluster.stopBroker(2);
        setTimeout(() => void cluster.startBroker(2), 8000);
      }
      await new Promise((r) => setTimeout(r, 1000));
      // Restarted with the same client id, so the same transactional.id: its dead incarnation's transaction is fenced.
      members[id] = spawn(id);
    }
    await producing;
    await restoreAllBrokers(cluster);
    await waitForCatchUp(groupId, topics, 240_000);
    for (const m of Object.values(members)) m.process.kill('SIGTERM');
    const records = await readCommitted(output);
    const expected = cleanRunClosed(events);
    expect(kills).toBe(5);
    expect(expected.size).toBeGreaterThan(300);
    expect(closedDifferences(records, expected)).toEqual([]);
  }, 600_000);

  it('a member paused past its session timeout is fenced when it resumes: it commits nothing', async () => {
    const { topics, events, groupId, output } = await setUp('eos-zombie', 20_000);
    const warnings: Array<{ member: string; code: string; at: number }> = [];
    const spawn = (clientId: string) =>
      spawnEosMember({ topics, groupId, output }, clientId, (code) =>
        warnings.push({ member: clientId, code, at: Date.now() }),
      );
    const zombie = spawn('zombie');
    const peer = spawn('peer');
    await waitFor(
      'both members to own partitions',
      () => zombie.owned().length > 0 && peer.owned().length > 0,
      120_000,
    );
    // Records start once both work, so the zombie is stopped mid-stream with a transaction open.
    let resumed = false;
    const producing = produceSteadily(topics, events, 50, 250, () => !resumed);
    const before = zombie.records();
    await waitFor('the zombie to handle records', () => zombie.records() > before, 60_000);
    // It stops itself where its transaction is certainly open (support/candle-member.ts).
    zombie.process.kill('SIGUSR2');
    await waitFor('the zombie to stop with its transaction open', () => processState(zombie.process) === 'T', 60_000);
    // Session timeout 6 s: the peer takes every partition over (restoring from the changelogs) while it sleeps.
    await waitFor('the peer to own all four partitions', () => peer.owned().length === 4, 90_000);
    const resumedAt = Date.now();
    zombie.process.kill('SIGCONT');
    resumed = true;
    // Its next commit (the revoke's, or the timer's) fails on the fenced epoch or generation, and the abort that
    // follows may itself wait out librdkafka's call timeout (30 s) before the producer is replaced: allow for both.
    await waitFor(
      'the zombie to find its transaction fenced and aborted',
      () => warnings.some((w) => w.member === 'zombie' && w.code === 'TRANSACTION_ABORTED' && w.at >= resumedAt),
      150_000,
    ).catch((e) => {
      const seen = warnings.map((w) => `${w.member} +${w.at - resumedAt} ms ${w.code}`).join('\n');
      throw new Error(`${e}; zombie owns ${JSON.stringify(zombie.owned())}; warnings since start:\n${seen}`);
    });
    console.log(
      `zombie fenced after ${(warnings.find((w) => w.member === 'zombie' && w.at >= resumedAt)?.at ?? 0) - resumedAt} ms`,
    );
    await producing;
    await waitForCatchUp(groupId, topics, 240_000);
    zombie.process.kill('SIGTERM');
    peer.process.kill('SIGTERM');
    const records = await readCommitted(output);
    expect(closedDifferences(records, cleanRunClosed(events))).toEqual([]);
  }, 600_000);
});
