// Custom-assignor example (consumer group): three live candle consumers follow the symbol-affinity assignor; tBTCUSD gets its own.
import {
  type CandleConsumer,
  type CandleSource,
  createCandleConsumer,
  createCryptoProducer,
  generateSyntheticEvents,
  type KafkaAdmin,
  partitionForKey,
  TOP_SYMBOLS,
  type TopicPartition,
} from '@kandle/core';
import { runIfMain } from '../../concepts/src/main-runner';
import {
  type ExampleOptions,
  type ExampleTopics,
  formatPartitions,
  loggerOf,
  uniqueName,
  withExampleTopics,
} from '../../concepts/src/shared';
import { createSymbolAffinityAssignor } from './symbol-affinity';

/** What one member of the group did. */
export interface MemberFacts {
  clientId: string;
  /** The member is dedicated (its client id starts with `dedicated-`). */
  dedicated: boolean;
  /** Partitions it read once the group had settled, as the consumer reports them. */
  reads: TopicPartition[];
  /** What `createSymbolAffinityAssignor()` computes for this member of the settled group. */
  decided: TopicPartition[];
  /** Partitions its record batches actually came from. */
  readFrom: TopicPartition[];
  /** Records it acknowledged. */
  records: number;
  /** Distinct 1m candles it emitted (open or closed), per symbol and per source (tickers / trades). */
  candlesBySymbol: Record<string, Partial<Record<CandleSource, number>>>;
}

/** What the custom-assignor example demonstrated. */
export interface SymbolAffinityFacts {
  topics: ExampleTopics;
  /** Partitions of each topic. */
  partitions: number;
  groupId: string;
  /** Symbols pinned to the dedicated member. */
  pinnedSymbols: string[];
  /** Every produced symbol → its partition (`partitionForKey`, the same in both topics). */
  partitionOfSymbol: Record<string, number>;
  /** Records produced (tickers and trades), all keyed by symbol. */
  produced: number;
  members: MemberFacts[];
  /** From starting the consumers to the group reading a settled assignment. */
  settleMs: number;
}

/** Options of the custom-assignor example. */
export interface SymbolAffinityExampleOptions extends ExampleOptions {
  /** Partitions of the tickers and trades topics. Default 6 (tBTCUSD alone on partition 5). */
  partitions?: number;
  /** Symbols to produce. Default the eight top Bitfinex pairs (`TOP_SYMBOLS`). */
  symbols?: string[];
  /** Synthetic events (tickers and trades) to produce. Default 2000. */
  events?: number;
  /** Client ids of the members. Default `dedicated-btc`, `worker-1`, `worker-2`. */
  clientIds?: string[];
}

/**
 * Starts three candle consumers in one group with `assignment: createSymbolAffinityAssignor()`, waits until the
 * group settles, produces synthetic tickers and trades keyed by symbol, and reports which partitions each member
 * reads and which symbols' candles it emitted: `dedicated-btc` reads only the partitions tBTCUSD hashes to.
 *
 * @example
 * ```ts
 * const facts = await run({ brokers: '127.0.0.1:19092', registryUrl: 'http://127.0.0.1:18081/apis/ccompat/v7', log: console.log });
 * facts.members.find((m) => m.dedicated)?.candlesBySymbol; // { tBTCUSD: … }
 * ```
 */
export async function run(options: SymbolAffinityExampleOptions): Promise<SymbolAffinityFacts> {
  const log = loggerOf(options);
  const partitions = options.partitions ?? 6;
  const symbols = options.symbols ?? [...TOP_SYMBOLS];
  const clientIds = options.clientIds ?? ['dedicated-btc', 'worker-1', 'worker-2'];
  const pinnedSymbols = ['tBTCUSD'];
  const assignor = createSymbolAffinityAssignor({ symbols: pinnedSymbols });
  const partitionOfSymbol = Object.fromEntries(symbols.map((s) => [s, partitionForKey(s, partitions)]));

  return withExampleTopics(options, { prefix: 'custom-assignor', partitions }, async ({ admin, topics }) => {
    const groupId = uniqueName('custom-assignor');
    const everyPartition = [topics.tickers, topics.trades].flatMap((topic) =>
      Array.from({ length: partitions }, (_, partition) => ({ topic, partition })),
    );
    log(
      `Topics ${topics.tickers} and ${topics.trades}: ${partitions} partitions each (replication 3, min ISR 2), records keyed by symbol.`,
    );
    for (const symbol of pinnedSymbols) {
      const partition = partitionForKey(symbol, partitions);
      const neighbours = symbols.filter((s) => s !== symbol && partitionOfSymbol[s] === partition);
      log(
        `Pinned: ${symbol} → partition ${partition} of both topics; other produced symbols on it: ${neighbours.join(', ') || 'none'}.`,
      );
    }

    const tallies = new Map(clientIds.map((id) => [id, newTally()]));
    const started = Date.now();
    const consumers: CandleConsumer[] = [];
    try {
      for (const clientId of clientIds) {
        const tally = tallies.get(clientId) ?? newTally();
        consumers.push(
          await createCandleConsumer({
            connection: { brokers: options.brokers },
            registry: { url: options.registryUrl },
            groupId,
            clientId,
            topics,
            intervals: ['1m'],
            assignment: assignor,
            onCandles: (updates, batch) => {
              tally.records += batch.records;
              for (const tp of batch.partitions) tally.readFrom.set(`${tp.topic}\u0000${tp.partition}`, tp);
              for (const { candle } of updates) tally.candles.add(`${candle.symbol}|${candle.source}|${candle.start}`);
            },
          }),
        );
      }
      // Nothing is produced before the group settles, so no member reads anything under an earlier generation.
      await waitForSettledGroup(admin, groupId, consumers, everyPartition);
      const settleMs = Date.now() - started;
      const reads = new Map(consumers.map((c) => [c.clientId, c.assignment()]));
      const decided = assignor.assign(
        clientIds.map((memberId) => ({ memberId, topics: [topics.tickers, topics.trades] })),
        { [topics.tickers]: partitions, [topics.trades]: partitions },
      );
      log(`\nGroup ${groupId} settled after ${settleMs} ms; each member computed the assignment itself:`);
      for (const id of clientIds) {
        const same = keysOf(reads.get(id) ?? []) === keysOf(decided[id] ?? []);
        log(
          `  ${id.padEnd(14)} reads ${formatPartitions(reads.get(id) ?? [], topics).padEnd(52)} ${same ? '(= assignor)' : `(assignor: ${formatPartitions(decided[id] ?? [], topics)})`}`,
        );
      }

      const produced = await produceSynthetic(options, topics, symbols, options.events ?? 2000);
      log(`\nProduced ${produced} tickers and trades for ${symbols.length} symbols.`);
      await waitUntil(
        () => [...tallies.values()].reduce((sum, t) => sum + t.records, 0) >= produced,
        60_000,
        `the group to read all ${produced} records`,
      );

      const members: MemberFacts[] = clientIds.map((clientId) => {
        const tally = tallies.get(clientId) ?? newTally();
        return {
          clientId,
          dedicated: clientId.startsWith('dedicated-'),
          reads: reads.get(clientId) ?? [],
          decided: decided[clientId] ?? [],
          readFrom: sortPartitions([...tally.readFrom.values()]),
          records: tally.records,
          candlesBySymbol: countCandles(tally.candles),
        };
      });
      log('1m candles each member emitted, per symbol (from tickers / trades):');
      for (const m of members) {
        const bySymbol = Object.entries(m.candlesBySymbol).map(([s, n]) => `${s} ${n.ticker ?? 0}/${n.trade ?? 0}`);
        log(`  ${m.clientId.padEnd(14)} ${String(m.records).padStart(5)} records: ${bySymbol.join(', ') || '(none)'}`);
      }
      log(
        "\nThe dedicated member sees only the symbols that hash to its partitions; the workers split everything else. Every member ran the same deterministic assign() on the coordinator's member list (see docs/assignors.md).",
      );
      return {
        topics,
        partitions,
        groupId,
        pinnedSymbols,
        partitionOfSymbol,
        produced,
        members,
        settleMs,
      };
    } finally {
      await Promise.all(consumers.map((c) => c.close()));
    }
  });
}

interface Tally {
  records: number;
  readFrom: Map<string, TopicPartition>;
  /** `symbol|source|start` of every candle emitted. */
  candles: Set<string>;
}

function newTally(): Tally {
  return { records: 0, readFrom: new Map(), candles: new Set() };
}

function countCandles(candles: Set<string>): Record<string, Partial<Record<CandleSource, number>>> {
  const counts: Record<string, Partial<Record<CandleSource, number>>> = {};
  for (const key of [...candles].sort()) {
    const [symbol, source] = key.split('|') as [string, CandleSource];
    const bySource = counts[symbol] ?? {};
    bySource[source] = (bySource[source] ?? 0) + 1;
    counts[symbol] = bySource;
  }
  return counts;
}

/** Produces `count` synthetic tickers and trades (keyed by symbol), waits for every acknowledgement. */
async function produceSynthetic(
  options: ExampleOptions,
  topics: ExampleTopics,
  symbols: string[],
  count: number,
): Promise<number> {
  const ratePerSecond = 5;
  const events = generateSyntheticEvents({
    count,
    symbols,
    seed: 7,
    ratePerSecond,
    // Event times end about now, so the candles look like recent ones.
    startTime: Date.now() - (count / ratePerSecond) * 1000,
  });
  const producer = await createCryptoProducer({
    connection: { brokers: options.brokers },
    registry: { url: options.registryUrl },
    topics,
  });
  try {
    await Promise.all(events.map((e) => producer.send(e)));
  } finally {
    await producer.close();
  }
  return events.length;
}

/**
 * Waits until the group is Stable with exactly these members and their partitions are disjoint and cover every
 * partition, twice in a row 250 ms apart. The criterion does not ask the assignor: whether the group follows it is
 * what the example reports (and its test checks).
 */
async function waitForSettledGroup(
  admin: KafkaAdmin,
  groupId: string,
  consumers: CandleConsumer[],
  everyPartition: TopicPartition[],
  timeoutMs = 60_000,
): Promise<void> {
  let previous = '';
  await waitUntil(
    async () => {
      const group = await admin.describeGroup(groupId).catch(() => undefined);
      const members = new Set(group?.members.map((m) => m.clientId));
      const owned = consumers.flatMap((c) => c.assignment());
      const settled =
        group !== undefined &&
        group.state === 'Stable' &&
        members.size === consumers.length &&
        consumers.every((c) => members.has(c.clientId)) &&
        owned.length === everyPartition.length &&
        keysOf(owned) === keysOf(everyPartition);
      const snapshot = settled ? consumers.map((c) => keysOf(c.assignment())).join('|') : '';
      const done = settled && snapshot === previous;
      previous = snapshot;
      return done;
    },
    timeoutMs,
    `group ${groupId} to settle`,
  );
}

async function waitUntil(condition: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

function keysOf(list: readonly TopicPartition[]): string {
  return list
    .map((tp) => `${tp.topic}/${tp.partition}`)
    .sort()
    .join(',');
}

function sortPartitions(list: TopicPartition[]): TopicPartition[] {
  return [...list].sort((a, b) => (a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : a.partition - b.partition));
}

runIfMain(import.meta.url, run);
