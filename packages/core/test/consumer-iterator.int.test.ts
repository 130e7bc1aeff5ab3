// Consumer iterator on the real cluster: pulling is the acknowledgement, so a late start, a break and a hand-over lose no candle.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  type Candle,
  type CandleConsumer,
  type CandleUpdate,
  createCandleAggregator,
  createCandleConsumer,
  createCryptoProducer,
  createKafkaAdmin,
  generateSyntheticEvents,
  type KafkaAdmin,
  type MarketEvent,
} from '../src/index';
import { uniqueName, waitFor } from '../../../test/support/cluster';
import { bucketKey } from './support/members';

const brokers = inject('kafkaBrokers');
const registryUrl = inject('schemaRegistryUrl');
const GRACE_MS = 5000;
let admin: KafkaAdmin;

beforeAll(async () => {
  admin = await createKafkaAdmin({ brokers });
});
afterAll(async () => {
  await admin.close();
});

/** Members of one group over `topics`, committing often so a hand-over shows what was really handled. */
function groupMember(
  groupId: string,
  topics: { tickers: string; trades: string },
  assignment: 'range' | 'cooperative-sticky' = 'range',
) {
  return (clientId: string) =>
    createCandleConsumer({
      connection: { brokers },
      registry: { url: registryUrl },
      groupId,
      clientId,
      topics,
      gracePeriodMs: GRACE_MS,
      commitIntervalMs: 100,
      assignment,
    });
}

/** 3 symbols, tickers and trades, ~11 minutes of event time: about 10 closed 1m candles per series. */
async function produceScenario(): Promise<{
  topics: { tickers: string; trades: string };
  closed: Map<string, Candle>;
}> {
  const topics = { tickers: uniqueName('it-tickers'), trades: uniqueName('it-trades') };
  await admin.ensureTopic({ name: topics.tickers, partitions: 2 });
  await admin.ensureTopic({ name: topics.trades, partitions: 2 });
  const events = generateSyntheticEvents({
    count: 2000,
    startTime: Date.UTC(2026, 0, 1),
    seed: 17,
    ratePerSecond: 3,
    symbols: ['tBTCUSD', 'tETHUSD', 'tSOLUSD'],
  });
  const producer = await createCryptoProducer({ connection: { brokers }, registry: { url: registryUrl }, topics });
  for (const e of events) void producer.send(e);
  await producer.flush();
  await producer.close();
  return { topics, closed: closedReference(events) };
}

/** The candles an uninterrupted aggregation closes (its watermarks passed them): what the consumer must deliver. */
function closedReference(events: MarketEvent[]): Map<string, Candle> {
  const closed = new Map<string, Candle>();
  const reference = createCandleAggregator({ intervals: ['1m'], gracePeriodMs: GRACE_MS, retainClosedBuckets: 10_000 });
  for (const e of events)
    for (const u of e.kind === 'ticker' ? reference.addTicker(e.ticker) : reference.addTrade(e.trade))
      if (u.kind === 'closed') closed.set(bucketKey(u.candle), u.candle);
  return closed;
}

/**
 * Iterates until `done` says so (or `timeoutMs` passes: the consumer is closed, which ends the loop, and the
 * caller's assertions fail). Every closed candle seen lands in `seen`.
 */
async function iterate(
  consumer: CandleConsumer,
  seen: Map<string, Candle>,
  done: (pulled: number) => boolean,
  timeoutMs = 90_000,
): Promise<{ pulled: number; last: CandleUpdate | undefined }> {
  const timer = setTimeout(() => void consumer.close(), timeoutMs);
  let pulled = 0;
  let last: CandleUpdate | undefined;
  try {
    for await (const update of consumer) {
      pulled++;
      last = update;
      if (update.kind !== 'progress') seen.set(bucketKey(update.candle), update.candle);
      if (done(pulled)) break;
    }
  } finally {
    clearTimeout(timer);
  }
  return { pulled, last };
}

const missing = (expected: Map<string, Candle>, seen: Map<string, Candle>) =>
  [...expected].filter(([key, c]) => JSON.stringify(seen.get(key)) !== JSON.stringify(c)).map(([key]) => key);

describe('createCandleConsumer as an async iterator', () => {
  it('delivers every closed candle when iteration starts 8 s after the consumer', async () => {
    const { topics, closed } = await produceScenario();
    expect(closed.size).toBeGreaterThanOrEqual(54);
    const consumer = await createCandleConsumer({
      connection: { brokers },
      registry: { url: registryUrl },
      groupId: uniqueName('late'),
      topics,
      gracePeriodMs: GRACE_MS,
    });
    // The scenario, not a timing assertion: the consumer reads and aggregates long before anyone iterates.
    await new Promise((r) => setTimeout(r, 8000));
    const seen = new Map<string, Candle>();
    await iterate(consumer, seen, () => missing(closed, seen).length === 0);
    await consumer.close();
    expect(missing(closed, seen)).toEqual([]);
  });

  it('break after 3 commits nothing unhandled: a second member of the group delivers every closed candle', async () => {
    const { topics, closed } = await produceScenario();
    const member = groupMember(uniqueName('break'), topics);
    const first = await member('first');
    const seen = new Map<string, Candle>();
    const brokenOn = await iterate(first, seen, (pulled) => pulled === 3);
    // The update the loop broke on was not handled: the next loop starts with it again.
    const again = await iterate(first, seen, () => true);
    expect(brokenOn.pulled).toBe(3);
    expect(again.last).toEqual(brokenOn.last);
    await first.close();

    const second = await member('second');
    await iterate(second, seen, () => missing(closed, seen).length === 0);
    await second.close();
    expect(missing(closed, seen)).toEqual([]);
  });

  it('an idle iterator does not hold a rebalance up: its unfinished batch is withdrawn, and nothing is lost', async () => {
    const { topics, closed } = await produceScenario();
    // Cooperative: the idle member keeps some partitions, whose candles must be rebuilt from the checkpoint.
    const member = groupMember(uniqueName('idle'), topics, 'cooperative-sticky');
    const idle = await member('idle');
    await idle.waitForAssignment();
    // Joins while the idle member waits for a loop with a batch in hand (well within max.poll.interval.ms).
    const second = await member('second');
    await second.waitForAssignment(60_000);
    expect(idle.assignment().length).toBeGreaterThan(0);
    expect(idle.assignment().length + second.assignment().length).toBe(4);
    const seen = new Map<string, Candle>();
    // Both iterate now; together they deliver every closed candle (at least once).
    // The first loop to see the last missing candle closes both members, which ends the other loop too.
    const finished = () => {
      if (missing(closed, seen).length > 0) return false;
      void idle.close();
      void second.close();
      return true;
    };
    await Promise.all([iterate(idle, seen, finished), iterate(second, seen, finished)]);
    await Promise.all([idle.close(), second.close()]);
    expect(missing(closed, seen)).toEqual([]);
  });

  it('partitions handed to a member whose batch waits are taken over while it waits, and none is lost', async () => {
    const { topics, closed } = await produceScenario();
    const groupId = uniqueName('waiting');
    const warnings: string[] = [];
    // The handler holds its first batch until released, so the member reads paused while the other one leaves.
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const seen = new Map<string, Candle>();
    const other = await groupMember(groupId, topics, 'cooperative-sticky')('other');
    await other.waitForAssignment();
    const waiting = await createCandleConsumer({
      connection: { brokers },
      registry: { url: registryUrl },
      groupId,
      clientId: 'waiting',
      topics,
      gracePeriodMs: GRACE_MS,
      commitIntervalMs: 100,
      assignment: 'cooperative-sticky',
      onWarning: (e) => warnings.push(`${e.code}: ${e.message}`),
      onCandles: async (updates) => {
        await held;
        for (const u of updates) if (u.kind !== 'progress') seen.set(bucketKey(u.candle), u.candle);
      },
    });
    await waitFor('the waiting member to own partitions', () => waiting.assignment().length > 0);
    await waitFor('a batch to wait in the handler (reading paused)', () => waiting.stats().records > 0);
    // Leaving hands its partitions to the member whose batch waits: an incremental assign applied while paused.
    await other.close();
    await waitFor('the waiting member to own all four partitions', () => waiting.assignment().length === 4);
    release();
    await waitFor('every closed candle', () => missing(closed, seen).length === 0, 90_000).catch((e) => {
      throw new Error(`${e}; missing ${missing(closed, seen).length}; warnings:\n${warnings.join('\n')}`);
    });
    await waiting.close();
    expect(warnings.filter((w) => /unknown partition/i.test(w))).toEqual([]);
  });
});
