// Consumer / batch step: records of one poll → decoded ticks/trades → per-partition aggregators → the latest update per candle.
import type { CandleUpdate } from '../candles/types';
import { RegistryUnreachableError } from '../errors';
import type { KandleError } from '../errors';
import type { Message } from '../rdkafka';
import { createAvroDecoder, type SchemaRegistryHandle, valueSubject } from '../schema/avro';
import { type Ticker, type Trade, tickerSchema, tradeSchema } from '../schema/types.generated';
import type { DeadLetterWriter } from './dead-letter';
import { candleKey } from './checkpoint';
import type { Ledger, PartitionEntry } from './ledger';
import type { CandleConsumerStats } from './options';
import { sleep } from '../retry';

interface Decoder {
  kind: 'ticker' | 'trade';
  decode(b: Buffer): Promise<Ticker | Trade>;
  decodeCached(b: Buffer): Ticker | Trade | undefined;
}

/** One Avro decoder per subscribed topic, by topic name. */
export function createDecoders(
  registry: SchemaRegistryHandle,
  topics: { tickers: string | null; trades: string | null },
): Map<string, Decoder> {
  const decoders = new Map<string, Decoder>();
  if (topics.tickers) {
    const d = createAvroDecoder<Ticker>(registry, tickerSchema, valueSubject(topics.tickers));
    decoders.set(topics.tickers, {
      kind: 'ticker',
      decode: (b) => d.decode(b),
      decodeCached: (b) => d.decodeCached(b),
    });
  }
  if (topics.trades) {
    const d = createAvroDecoder<Trade>(registry, tradeSchema, valueSubject(topics.trades));
    decoders.set(topics.trades, { kind: 'trade', decode: (b) => d.decode(b), decodeCached: (b) => d.decodeCached(b) });
  }
  return decoders;
}

/** What one poll's records amount to. */
export interface Batch {
  /** The latest update per candle changed by the batch ('closed' and 'correction' win over later progress). */
  updates: CandleUpdate[];
  /** Per partition: the next offset once the batch is handled. */
  positions: Map<PartitionEntry, number>;
  /** Records read (decoded or dead-lettered). */
  records: number;
}

export interface BatchStepDeps {
  ledger: Ledger;
  decoders: Map<string, Decoder>;
  deadLetter: DeadLetterWriter;
  stats: CandleConsumerStats;
  warn: (e: KandleError) => void;
  /** Moves the fetch position of a partition back to `offset` (the registry was unreachable for that record). */
  rewind: (topic: string, partition: number, offset: number) => Promise<void>;
}

/** Folds the records into their partitions' aggregators and coalesces the updates they caused. */
export async function runBatchStep(messages: Message[], deps: BatchStepDeps): Promise<Batch> {
  const { ledger, stats } = deps;
  const latest = new Map<string, CandleUpdate>();
  const positions = new Map<PartitionEntry, number>();
  const keep = (entry: PartitionEntry, update: CandleUpdate) => {
    const id = candleKey(update.candle);
    ledger.noteUpdate(entry, update, id);
    const key = `${entry.topic}|${entry.partition}|${id}`;
    if (latest.get(key)?.kind !== 'closed' || update.kind === 'correction') latest.set(key, update);
  };
  // Partitions rewound in this batch: their later records are read again after the pause.
  const rewound = new Set<PartitionEntry>();
  // A poll returns runs of one partition's records (one fetch response each): the lookups by topic and partition are
  // done once per run, not per record. Reset after every await, in case anything moved meanwhile.
  let runTopic: string | undefined;
  let runPartition = -1;
  let entry: PartitionEntry | undefined;
  let decoder: Decoder | undefined;
  for (const message of messages) {
    if (message.partition !== runPartition || message.topic !== runTopic) {
      runTopic = message.topic;
      runPartition = message.partition;
      entry = ledger.get(message.topic, message.partition);
      decoder = deps.decoders.get(message.topic);
    }
    // Revoked meanwhile: its new owner reads it from the committed offset.
    if (!entry || !decoder || (rewound.size > 0 && rewound.has(entry))) continue;
    stats.records++;
    let value: Ticker | Trade | undefined;
    try {
      const payload = message.value as Buffer;
      value = decoder.decodeCached(payload);
      if (value === undefined) {
        runTopic = undefined;
        value = await decoder.decode(payload);
      }
    } catch (e) {
      runTopic = undefined;
      if (e instanceof RegistryUnreachableError) {
        // Not the record's fault: read it again after a pause.
        deps.warn(e);
        stats.records--;
        rewound.add(entry);
        await deps.rewind(message.topic, message.partition, message.offset);
        continue;
      }
      await deps.deadLetter(message, e as Error);
      positions.set(entry, message.offset + 1);
      continue;
    }
    const updates =
      decoder.kind === 'ticker'
        ? entry.aggregator.addTicker(value as Ticker)
        : entry.aggregator.addTrade(value as Trade);
    if (decoder.kind === 'ticker') stats.tickers++;
    else stats.trades++;
    for (const update of updates) keep(entry, update);
    positions.set(entry, message.offset + 1);
  }
  // Open candles changed by the batch after they were opened: their latest values, once each.
  for (const entry of positions.keys()) for (const update of entry.aggregator.takeProgress()) keep(entry, update);
  if (rewound.size > 0) await sleep(1000);
  return { updates: [...latest.values()], positions, records: messages.length };
}
