// Message browser: reads one page of records of a topic partition by offset and decodes them for the live page.
import Kafka from '@confluentinc/kafka-javascript';
import {
  type AvroDecoder,
  createAvroDecoder,
  DecodeError,
  type SchemaRegistryHandle,
  type Ticker,
  type Trade,
  tickerSchema,
  tradeSchema,
  valueSubject,
} from '@kandle/core';

/** Options of {@link createMessageBrowser}. */
export interface MessageBrowserOptions {
  /** Bootstrap servers, `host:port,…`. */
  brokers: string;
  registry: SchemaRegistryHandle;
  /** The topics that can be browsed, and which schema their values have. */
  topics: { tickers: string; trades: string };
  /** Longest a page read may take before it answers with what it has. Default 5000 ms. */
  readTimeoutMs?: number;
}

/** What to read: `limit` records of `topic`/`partition` from `offset` (default: the newest page). */
export interface PageRequest {
  topic: string;
  partition: number;
  /** First offset of the page. Default: `high − limit` (the newest records). */
  offset?: number;
  /** Records per page, 1–100. Default 20. */
  limit?: number;
}

/** One record as the page shows it. */
export interface BrowsedRecord {
  offset: number;
  partition: number;
  key: string | null;
  /** Kafka timestamp (the event time, as the producer sets it), Unix ms. */
  timestamp: number | null;
  headers: Record<string, string>;
  /** The schema id of the Confluent wire-format header; null when the value has none. */
  schemaId: number | null;
  /** The decoded Avro value; absent for a poison record. */
  value?: Ticker | Trade;
  /** Why the value could not be decoded (the consumers dead-letter such records). */
  poison?: { reason: string; message: string; preview: string };
}

/** One page of records plus where the partition starts and ends. */
export interface MessagePage {
  topic: string;
  partition: number;
  /** First offset still in the partition (log start). */
  low: number;
  /** Offset the next record will get (log end). */
  high: number;
  /** First offset of this page. */
  offset: number;
  records: BrowsedRecord[];
}

/** Reads pages of records; see {@link createMessageBrowser}. */
export interface MessageBrowser {
  /** @throws Error (status 400) for an unknown topic or a bad partition/offset/limit. */
  page(request: PageRequest): Promise<MessagePage>;
}

/** A request the browser refuses; the server answers 400 with its message. */
export class BrowseRequestError extends Error {}

/**
 * Browses the pipeline's topics like Kafka UI's topic view: each page read is a short-lived consumer with no group
 * (assign + consume, nothing committed), so browsing never disturbs the candle group.
 *
 * @example
 * ```ts
 * const browser = createMessageBrowser({ brokers, registry, topics: { tickers: 'tickers', trades: 'trades' } });
 * const page = await browser.page({ topic: 'trades', partition: 0, offset: 0, limit: 10 });
 * ```
 */
export function createMessageBrowser(options: MessageBrowserOptions): MessageBrowser {
  const decoders = new Map<string, AvroDecoder<Ticker | Trade>>([
    [
      options.topics.tickers,
      createAvroDecoder<Ticker>(options.registry, tickerSchema, valueSubject(options.topics.tickers)),
    ],
    [
      options.topics.trades,
      createAvroDecoder<Trade>(options.registry, tradeSchema, valueSubject(options.topics.trades)),
    ],
  ]);
  const timeoutMs = options.readTimeoutMs ?? 5000;

  return {
    async page(request) {
      const decoder = decoders.get(request.topic);
      if (!decoder)
        throw new BrowseRequestError(`unknown topic "${request.topic}"; one of ${[...decoders.keys()].join(', ')}`);
      const limit = request.limit ?? 20;
      if (!Number.isInteger(limit) || limit < 1 || limit > 100) throw new BrowseRequestError('limit must be 1-100');
      if (!Number.isInteger(request.partition) || request.partition < 0)
        throw new BrowseRequestError('partition must be an integer ≥ 0');
      const consumer = new Kafka.KafkaConsumer(
        {
          'metadata.broker.list': options.brokers,
          // A group id is required by librdkafka even without subscribe; nothing is ever committed with it.
          'group.id': 'kandle-message-browser',
          'enable.auto.commit': false,
          'enable.partition.eof': true,
        },
        { 'auto.offset.reset': 'earliest' },
      );
      await new Promise<void>((resolve, reject) =>
        consumer.connect({ timeout: timeoutMs }, (e) => (e ? reject(e) : resolve())),
      );
      try {
        const { lowOffset: low, highOffset: high } = await new Promise<{ lowOffset: number; highOffset: number }>(
          (resolve, reject) =>
            consumer.queryWatermarkOffsets(request.topic, request.partition, timeoutMs, (e, w) =>
              e ? reject(e) : resolve(w),
            ),
        );
        const offset = Math.max(low, request.offset ?? high - limit);
        if (!Number.isInteger(offset)) throw new BrowseRequestError('offset must be an integer');
        const end = Math.min(high, offset + limit);
        const raw =
          end > offset ? await readRange(consumer, request.topic, request.partition, offset, end, timeoutMs) : [];
        const records = await Promise.all(raw.map((message) => browse(message, decoder)));
        return { topic: request.topic, partition: request.partition, low, high, offset, records };
      } finally {
        await new Promise<void>((resolve) => consumer.disconnect(() => resolve()));
      }
    },
  };
}

/** Consumes `[from, to)` of one partition (or what arrives before the deadline). */
async function readRange(
  consumer: Kafka.KafkaConsumer,
  topic: string,
  partition: number,
  from: number,
  to: number,
  timeoutMs: number,
): Promise<Kafka.Message[]> {
  consumer.assign([{ topic, partition, offset: from }]);
  consumer.setDefaultConsumeTimeout(200);
  const messages: Kafka.Message[] = [];
  const deadline = Date.now() + timeoutMs;
  while (messages.length < to - from && Date.now() < deadline) {
    const batch = await new Promise<Kafka.Message[]>((resolve, reject) =>
      consumer.consume(to - from - messages.length, (e, m) => (e ? reject(e) : resolve(m))),
    );
    for (const m of batch) if (m.offset >= from && m.offset < to) messages.push(m);
  }
  return messages.sort((a, b) => a.offset - b.offset);
}

const MAGIC_BYTE = 0;

/** Decodes one record; a value that is not Confluent Avro of a known schema becomes a poison entry. */
async function browse(
  message: Kafka.Message,
  decoder: { decode(payload: Buffer): Promise<Ticker | Trade> },
): Promise<BrowsedRecord> {
  const value = message.value ?? Buffer.alloc(0);
  const headers: Record<string, string> = {};
  for (const header of message.headers ?? [])
    for (const [name, content] of Object.entries(header)) headers[name] = content.toString();
  const base: BrowsedRecord = {
    offset: message.offset,
    partition: message.partition,
    key: message.key === undefined || message.key === null ? null : message.key.toString(),
    timestamp: message.timestamp ?? null,
    headers,
    schemaId: value.length >= 5 && value[0] === MAGIC_BYTE ? value.readUInt32BE(1) : null,
  };
  try {
    return { ...base, value: await decoder.decode(value) };
  } catch (e) {
    if (!(e instanceof DecodeError)) throw e;
    // A readable preview of what is there: printable ASCII kept, the rest as dots (never the raw bytes as such).
    const preview = value
      .subarray(0, 64)
      .toString('latin1')
      .replace(/[^\x20-\x7e]/g, '.');
    return { ...base, poison: { reason: e.reason, message: e.message, preview } };
  }
}
