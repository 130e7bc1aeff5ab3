// Concept examples (shared): the options every example takes, its throw-away topics, sample tickers and printing.
import { randomBytes } from 'node:crypto';
import {
  createKafkaAdmin,
  DEFAULT_START_PRICES,
  type KafkaAdmin,
  type Ticker,
  type TopicPartition,
} from '@kandle/core';

/** What every concept example's `run()` takes. */
export interface ExampleOptions {
  /** Bootstrap servers, `host:port,host:port`. */
  brokers: string;
  /** Schema Registry base URL (Confluent API). */
  registryUrl: string;
  /** Where the example narrates what it does. Default: silent. */
  log?: (line: string) => void;
}

/** The pair of topics a `CryptoProducer` writes to (it checks that both exist). */
export interface ExampleTopics {
  tickers: string;
  trades: string;
}

/** A name no other run uses, so examples never see each other's topics or groups on a shared cluster. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${randomBytes(4).toString('hex')}`;
}

/**
 * Creates a fresh tickers/trades topic pair (replication 3, `min.insync.replicas` 2 unless told), runs `body`,
 * and deletes the topics again, so an example leaves nothing behind on the cluster it ran against.
 */
export async function withExampleTopics<T>(
  options: ExampleOptions,
  spec: { prefix: string; partitions: number; minInsyncReplicas?: number },
  body: (context: { admin: KafkaAdmin; topics: ExampleTopics }) => Promise<T>,
): Promise<T> {
  const admin = await createKafkaAdmin({ brokers: options.brokers });
  const topics: ExampleTopics = {
    tickers: uniqueName(`${spec.prefix}-tickers`),
    trades: uniqueName(`${spec.prefix}-trades`),
  };
  try {
    for (const name of [topics.tickers, topics.trades]) {
      await admin.ensureTopic({
        name,
        partitions: spec.partitions,
        replicationFactor: 3,
        minInsyncReplicas: spec.minInsyncReplicas ?? 2,
      });
    }
    return await body({ admin, topics });
  } finally {
    for (const name of [topics.tickers, topics.trades]) await admin.deleteTopic(name).catch(() => undefined);
    await admin.close();
  }
}

/** A plausible ticker for `symbol` at `eventTime`, priced near its usual level. */
export function sampleTicker(symbol: string, eventTime: number, priceFactor = 1): Ticker {
  const price = (DEFAULT_START_PRICES[symbol] ?? 100) * priceFactor;
  return {
    symbol,
    bid: price * 0.9999,
    bidSize: 1,
    ask: price * 1.0001,
    askSize: 1,
    dailyChange: 0,
    dailyChangeRelative: 0,
    lastPrice: price,
    volume: 1000,
    high: price,
    low: price,
    eventTime,
  };
}

/** Partitions as `tickers/0, trades/1`: the topics' roles read better than their random names. */
export function formatPartitions(list: readonly TopicPartition[], topics: ExampleTopics): string {
  if (list.length === 0) return '(nothing)';
  return list.map((tp) => `${roleOf(tp.topic, topics)}/${tp.partition}`).join(', ');
}

function roleOf(topic: string, topics: ExampleTopics): string {
  if (topic === topics.tickers) return 'tickers';
  if (topic === topics.trades) return 'trades';
  return topic;
}

/** The silent default of `ExampleOptions.log`. */
export function loggerOf(options: ExampleOptions): (line: string) => void {
  return options.log ?? (() => undefined);
}

/** Records ever written to `topic`: the sum of its partitions' end offsets (what the brokers stored). */
export async function recordsInTopic(admin: KafkaAdmin, topic: string): Promise<number> {
  // groupLag reads the end offsets; a group that never committed just reports no committed offset.
  const partitions = await admin.groupLag(uniqueName('concepts-probe'), topic);
  return partitions.reduce((sum, p) => sum + p.end, 0);
}

/**
 * {@link recordsInTopic} once it stops growing: records sent without acknowledgement (acks=0) may still be on their
 * way to the brokers when the producer has closed.
 */
export async function settledRecordsInTopic(admin: KafkaAdmin, topic: string, quietMs = 1000): Promise<number> {
  let last = await recordsInTopic(admin, topic);
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, quietMs));
    const now = await recordsInTopic(admin, topic);
    if (now === last) return now;
    last = now;
  }
}
