// Concept example (partitioning): the same coins sent with key-hash, an explicit partition and round-robin.
import { createCryptoProducer, type Partitioning, partitionForKey } from '@kandle/core';
import { runIfMain } from './main-runner';
import { type ExampleOptions, loggerOf, sampleTicker, withExampleTopics } from './shared';

/** Where one record landed. */
export interface Placement {
  symbol: string;
  partition: number;
}

/** What the partitioning example demonstrated. */
export interface PartitioningResult {
  /** Partitions of the topic the records went to. */
  partitions: number;
  /** The coins, each sent `rounds` times per strategy. */
  symbols: string[];
  rounds: number;
  /** key-hash: every record, in send order, with `expected = partitionForKey(symbol, partitions)`. */
  keyHash: Array<Placement & { expected: number }>;
  /** explicit: the partition the example chose, and where each record landed. */
  explicit: { chosen: number; placements: Placement[] };
  /** round-robin: where each record landed, in send order. */
  roundRobin: Placement[];
}

/** Options of the partitioning example. */
export interface PartitioningOptions extends ExampleOptions {
  /** Default 5 coins from the top Bitfinex pairs (with 3 partitions they cover all of them). */
  symbols?: string[];
  /** Partitions of the topic. Default 3. */
  partitions?: number;
  /** Partition the explicit strategy sends everything to. Default 0 (the original kafka-python project's "producer 1 → topic A, partition 0"). */
  explicitPartition?: number;
  /** How many times each coin is sent per strategy. Default 2. */
  rounds?: number;
}

/**
 * Sends the same coins three ways and reports where each record landed:
 * - key-hash: `murmur2(symbol) % partitions`, like the Java client, so a coin always lands on the same partition;
 * - explicit: the producer picks the partition itself (here: always `explicitPartition`);
 * - round-robin: partitions in turn, ignoring the key.
 *
 * @example
 * ```ts
 * const facts = await run({ brokers: '127.0.0.1:19092', registryUrl: 'http://127.0.0.1:18081/apis/ccompat/v7', log: console.log });
 * facts.keyHash.every((p) => p.partition === p.expected); // true
 * ```
 */
export async function run(options: PartitioningOptions): Promise<PartitioningResult> {
  const log = loggerOf(options);
  const symbols = options.symbols ?? ['tBTCUSD', 'tETHUSD', 'tSOLUSD', 'tXRPUSD', 'tADAUSD'];
  const partitions = options.partitions ?? 3;
  const chosen = options.explicitPartition ?? 0;
  const rounds = options.rounds ?? 2;

  return withExampleTopics(options, { prefix: 'concepts-partitioning', partitions }, async ({ topics }) => {
    const sendAll = async (partitioning: Partitioning): Promise<Placement[]> => {
      const producer = await createCryptoProducer({
        connection: { brokers: options.brokers },
        registry: { url: options.registryUrl },
        topics,
        partitioning,
      });
      try {
        const placements: Placement[] = [];
        // One at a time, so "in turn" is visible in the round-robin output.
        for (let round = 0; round < rounds; round++) {
          for (const symbol of symbols) {
            const report = await producer.sendTicker(sampleTicker(symbol, Date.now()));
            placements.push({ symbol, partition: report.partition });
          }
        }
        return placements;
      } finally {
        await producer.close();
      }
    };

    log(`Topic ${topics.tickers} has ${partitions} partitions; each coin is sent ${rounds} times per strategy.`);

    const keyHash = (await sendAll('key-hash')).map((p) => ({
      ...p,
      expected: partitionForKey(p.symbol, partitions),
    }));
    log('\nkey-hash (default): partition = toPositive(murmur2(key)) % partitions, the Java client formula');
    for (const symbol of symbols) {
      const landed = keyHash.filter((p) => p.symbol === symbol).map((p) => p.partition);
      log(
        `  ${symbol.padEnd(9)} → partition ${landed.join(', ')}   (partitionForKey('${symbol}', ${partitions}) = ${partitionForKey(symbol, partitions)})`,
      );
    }
    log('  Why: same key → same partition, so each coin stays in order for its consumer.');
    log(
      `  The original kafka-python project's bakery with 2 partitions: 'Bollos' → ${partitionForKey('Bollos', 2)}, 'Panes' → ${partitionForKey('Panes', 2)}.`,
    );

    const explicit = await sendAll({ explicit: () => chosen });
    log(`\nexplicit: the producer names the partition itself (here always ${chosen})`);
    log(`  ${explicit.map((p) => `${p.symbol}→${p.partition}`).join('  ')}`);
    log('  Why: full control (e.g. one partition per producer); you take over balancing and ordering.');

    const roundRobin = await sendAll('roundrobin');
    log('\nround-robin: partitions in turn, the key is ignored');
    log(`  ${roundRobin.map((p) => `${p.symbol}→${p.partition}`).join('  ')}`);
    log('  Why: even load, but one coin is spread over partitions, so its records lose their order.');

    return { partitions, symbols, rounds, keyHash, explicit: { chosen, placements: explicit }, roundRobin };
  });
}

runIfMain(import.meta.url, run);
