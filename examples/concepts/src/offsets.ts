// Concept example (offsets): a new group starting from earliest reads the backlog; one starting from latest only new records.
import {
  type CandleConsumer,
  type CandleUpdate,
  createCandleConsumer,
  createCryptoProducer,
  type CryptoProducer,
} from '@kandle/core';
import { runIfMain } from './main-runner';
import { type ExampleOptions, loggerOf, sampleTicker, uniqueName, withExampleTopics } from './shared';

/** What one consumer group read. */
export interface OffsetReader {
  from: 'earliest' | 'latest';
  groupId: string;
  /** Backlog records (written before the group existed) that reached the group's candles. */
  backlogSeen: number;
  /** Records written after the group joined that reached its candles. */
  newSeen: number;
  /** Records the consumer read in total. */
  records: number;
}

/** What the offsets example demonstrated. */
export interface OffsetsResult {
  topic: string;
  /** Records written before either group existed (event times an hour ago). */
  backlog: number;
  /** Records written after both groups had joined (event times now). */
  newRecords: number;
  earliest: OffsetReader;
  latest: OffsetReader;
}

/** Options of the offsets example. */
export interface OffsetsOptions extends ExampleOptions {
  /** Records written before the groups start. Default 40. */
  backlog?: number;
  /** New records the latest-reader must see before the example stops writing. Default 10. */
  newRecords?: number;
}

const SYMBOLS = ['tBTCUSD', 'tETHUSD'];

/**
 * Writes a backlog, then starts two new consumer groups on the topic: one with `from: 'earliest'`
 * (`auto.offset.reset=earliest`), one with `from: 'latest'`, and keeps writing until the latest one has seen new
 * records. Backlog and new records are told apart by event time (an hour ago vs now) in the candles each group built.
 * `from` only applies to a group with no committed offset; a group that committed resumes where it left off.
 *
 * @example
 * ```ts
 * const facts = await run({ brokers: '127.0.0.1:19092', registryUrl: 'http://127.0.0.1:18081/apis/ccompat/v7', log: console.log });
 * facts.latest.backlogSeen; // 0
 * ```
 */
export async function run(options: OffsetsOptions): Promise<OffsetsResult> {
  const log = loggerOf(options);
  const backlog = options.backlog ?? 40;
  const wantedNew = options.newRecords ?? 10;
  const backlogStart = Date.now() - 3_600_000;
  // Every backlog record is older than this and every new one younger: the candles tell them apart.
  const eraBoundary = Date.now() - 600_000;

  return withExampleTopics(options, { prefix: 'concepts-offsets', partitions: 2 }, async ({ topics }) => {
    const connection = { brokers: options.brokers };
    const registry = { url: options.registryUrl };
    const producer = await createCryptoProducer({ connection, registry, topics });
    const readers: Array<{ consumer: CandleConsumer; counts: Map<string, { start: number; count: number }> }> = [];
    try {
      for (let i = 0; i < backlog; i++)
        await producer.sendTicker(sampleTicker(SYMBOLS[i % SYMBOLS.length] as string, backlogStart + i * 1000));
      log(`Wrote a backlog of ${backlog} tickers to ${topics.tickers} (event times an hour ago).`);

      for (const from of ['earliest', 'latest'] as const) {
        const counts = new Map<string, { start: number; count: number }>();
        const consumer = await createCandleConsumer({
          connection,
          registry,
          topics,
          groupId: uniqueName(`concepts-offsets-${from}`),
          clientId: `reader-${from}`,
          from,
          intervals: ['1m'],
          onCandles: (updates) => countRecords(updates, counts),
        });
        readers.push({ consumer, counts });
      }
      await Promise.all(readers.map((r) => r.consumer.waitForAssignment(30_000)));
      const [earliest, latest] = readers as [(typeof readers)[number], (typeof readers)[number]];
      log('Two new groups joined: one from earliest, one from latest. Now writing new tickers…');

      // "latest" means the end of the log when the group first fetches, a moment after it joins:
      // keep writing until it has seen new records, so the demonstration does not depend on that moment.
      const newRecords = await writeUntil(producer, () => seen(latest.counts, eraBoundary).newSeen >= wantedNew);
      const everything = backlog + newRecords;
      await until(() => earliest.consumer.stats().records >= everything, 30_000);

      const report = (from: 'earliest' | 'latest', reader: (typeof readers)[number]): OffsetReader => ({
        from,
        groupId: reader.consumer.groupId,
        ...seen(reader.counts, eraBoundary),
        records: reader.consumer.stats().records,
      });
      const result: OffsetsResult = {
        topic: topics.tickers,
        backlog,
        newRecords,
        earliest: report('earliest', earliest),
        latest: report('latest', latest),
      };
      for (const r of [result.earliest, result.latest]) {
        log(
          `  from ${r.from.padEnd(8)}: backlog seen ${r.backlogSeen}/${backlog}, new seen ${r.newSeen}/${newRecords}`,
        );
      }
      log(
        'earliest starts at the oldest retained offset, so a new group replays history; latest starts at the end of ' +
          'the log, so it only sees what is written after it joined. Neither matters once a group has committed offsets.',
      );
      return result;
    } finally {
      await Promise.all(readers.map((r) => r.consumer.close()));
      await producer.close();
    }
  });
}

/** Keeps the highest record count of every candle: updates are cumulative, so that is how many records it holds. */
function countRecords(updates: CandleUpdate[], counts: Map<string, { start: number; count: number }>): void {
  for (const { candle } of updates) {
    const key = `${candle.symbol}|${candle.source}|${candle.interval}|${candle.start}`;
    const previous = counts.get(key)?.count ?? 0;
    counts.set(key, { start: candle.start, count: Math.max(previous, candle.count) });
  }
}

function seen(
  counts: Map<string, { start: number; count: number }>,
  eraBoundary: number,
): { backlogSeen: number; newSeen: number } {
  let backlogSeen = 0;
  let newSeen = 0;
  for (const { start, count } of counts.values()) {
    if (start < eraBoundary) backlogSeen += count;
    else newSeen += count;
  }
  return { backlogSeen, newSeen };
}

async function writeUntil(producer: CryptoProducer, done: () => boolean, timeoutMs = 30_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let written = 0;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`the latest-reader saw no new records within ${timeoutMs} ms`);
    await producer.sendTicker(sampleTicker(SYMBOLS[written % SYMBOLS.length] as string, Date.now()));
    written++;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return written;
}

async function until(condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

runIfMain(import.meta.url, run);
