// Raw writer: a consumer group of its own that copies the tickers and trades on Kafka into InfluxDB, ack before commit.
import { KafkaJS } from '@confluentinc/kafka-javascript';
import {
  createAvroDecoder,
  DecodeError,
  type SchemaRegistryHandle,
  type Ticker,
  type Trade,
  tickerSchema,
  tradeSchema,
  valueSubject,
} from '@kandle/core';
import { type InfluxSink, SinkWriteError } from '@kandle/influx-sink';

/** Options of {@link startRawWriter}. */
export interface RawWriterOptions {
  /** Bootstrap servers, `host:port,…`. */
  brokers: string;
  registry: SchemaRegistryHandle;
  /** Receives the records; its `writeTickers` / `writeTrades` resolve once InfluxDB has them. */
  sink: InfluxSink;
  /** The writer's own consumer group, so it reads every record whatever the candle group does. */
  groupId: string;
  /** The topic to copy per kind; `null` leaves that kind out (KANDLE_INFLUX_TICKERS / KANDLE_INFLUX_TRADES=false). */
  topics: { tickers: string | null; trades: string | null };
  /** Records per batch handed to the sink. Default 1000. */
  batchSize?: number;
  /** Default `console.warn`. */
  warn?: (message: string) => void;
}

/** Counters since start. */
export interface RawWriterStats {
  tickers: number;
  trades: number;
  /** Records that could not be decoded; skipped here (the candle group dead-letters them). */
  poison: number;
}

/** A running raw writer. */
export interface RawWriter {
  stats(): RawWriterStats;
  /** Stops consuming; offsets of batches InfluxDB acknowledged are committed. */
  close(): Promise<void>;
}

/**
 * Starts a consumer (KafkaJS-compatible API of `@confluentinc/kafka-javascript`) in group `groupId` that writes
 * every ticker to the sink's tickers measurement and every trade to its trades measurement. A batch's offsets are
 * resolved only after the sink acknowledged it, and only resolved offsets are committed, so a crash re-writes
 * rather than loses (the points are upserts: same series and timestamp overwrite).
 *
 * @example
 * ```ts
 * const writer = await startRawWriter({ brokers, registry, sink, groupId: 'candles-influx-raw',
 *   topics: { tickers: 'tickers', trades: 'trades' } });
 * await writer.close();
 * ```
 */
export async function startRawWriter(options: RawWriterOptions): Promise<RawWriter> {
  const warn = options.warn ?? ((message: string) => console.warn(message));
  const stats: RawWriterStats = { tickers: 0, trades: 0, poison: 0 };
  const topics = [options.topics.tickers, options.topics.trades].filter((t): t is string => t !== null);
  const decoders = new Map<string, { kind: 'ticker' | 'trade'; decode: (payload: Buffer) => Promise<unknown> }>();
  if (options.topics.tickers) {
    const d = createAvroDecoder<Ticker>(options.registry, tickerSchema, valueSubject(options.topics.tickers));
    decoders.set(options.topics.tickers, { kind: 'ticker', decode: (p) => d.decode(p) });
  }
  if (options.topics.trades) {
    const d = createAvroDecoder<Trade>(options.registry, tradeSchema, valueSubject(options.topics.trades));
    decoders.set(options.topics.trades, { kind: 'trade', decode: (p) => d.decode(p) });
  }

  const kafka = new KafkaJS.Kafka({
    kafkaJS: { brokers: options.brokers.split(','), logLevel: KafkaJS.logLevel.NOTHING },
  });
  const consumer = kafka.consumer({
    kafkaJS: { groupId: options.groupId, fromBeginning: true, autoCommit: true, autoCommitInterval: 1000 },
    'js.consumer.max.batch.size': options.batchSize ?? 1000,
  });
  await consumer.connect();
  await consumer.subscribe({ topics });
  let lastWarning = 0;
  await consumer.run({
    // Offsets are resolved by us, after the sink's acknowledgement; autoCommit commits only resolved ones.
    eachBatchAutoResolve: false,
    eachBatch: async ({ batch, resolveOffset }) => {
      const decoder = decoders.get(batch.topic);
      if (!decoder) return;
      const values: unknown[] = [];
      for (const message of batch.messages) {
        try {
          values.push(await decoder.decode(message.value ?? Buffer.alloc(0)));
        } catch (e) {
          if (!(e instanceof DecodeError)) throw e; // registry unreachable: the batch is retried, not skipped
          stats.poison++;
          if (Date.now() - lastWarning > 10_000) {
            lastWarning = Date.now();
            warn(`influx raw writer: skipped an undecodable record on ${batch.topic}: ${e.message}`);
          }
        }
      }
      try {
        if (decoder.kind === 'ticker') await options.sink.writeTickers(values as Ticker[]);
        else await options.sink.writeTrades(values as Trade[]);
        if (decoder.kind === 'ticker') stats.tickers += values.length;
        else stats.trades += values.length;
      } catch (e) {
        // The sink retries transient failures itself; a SinkWriteError is a refusal for good. Retrying would wedge
        // the group on these points, so they are reported and skipped (the sink counts them as failed points).
        if (!(e instanceof SinkWriteError)) throw e;
        warn(`influx refused ${values.length} ${decoder.kind}(s) from ${batch.topic}, skipped: ${e.message}`);
      }
      const last = batch.messages.at(-1);
      if (last) resolveOffset(last.offset);
    },
  });
  return {
    stats: () => ({ ...stats }),
    close: () => consumer.disconnect(),
  };
}
