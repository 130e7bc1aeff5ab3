// Message browser: reads one page of records of a topic partition (by offset or by time) and decodes them for the live page.
import Kafka from '@confluentinc/kafka-javascript';
import {
  createAvroDecoder,
  DecodeError,
  KandleError,
  type SchemaRegistryHandle,
  type Ticker,
  type Trade,
  tickerSchema,
  tradeSchema,
  valueSubject,
  withTimeout,
} from '@kandle/core';

/** Options of {@link createMessageBrowser}. */
export interface MessageBrowserOptions {
  /** Bootstrap servers, `host:port,…`. */
  brokers: string;
  registry: SchemaRegistryHandle;
  /**
   * The topics that can be browsed: tickers and trades (values decoded with their schema) and, when given, the
   * dead-letter topic (values shown as poison, never decoded: they are the records that failed decoding).
   */
  topics: { tickers: string; trades: string; deadLetter?: string };
  /**
   * Longest one page may take, connect and reads included; past it the request fails (the page says so, 503) instead
   * of keeping the browser waiting through a broker outage. Default 2000 ms.
   */
  readTimeoutMs?: number;
}

/** What to read: `limit` records of `topic`/`partition` from `offset` (default: the newest page). */
export interface PageRequest {
  topic: string;
  partition: number;
  /** First offset of the page. Default: `high − limit` (the newest records). */
  offset?: number;
  /**
   * Instead of `offset`: the page starts at the first record whose timestamp is at or after this time (Unix ms),
   * as Kafka's offsetsForTimes finds it; after the last record, the page is empty and starts at `high`.
   */
  time?: number;
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
  /** Why the value could not be decoded (the consumers dead-letter such records), and what its bytes are. */
  poison?: PoisonView;
}

/** A value shown as poison: never decoded, only previewed. */
export interface PoisonView {
  /** The decode failure's reason, e.g. `unknown-schema`; on the dead-letter topic its `kandle.reason` header. */
  reason: string;
  message: string;
  /** The first 64 bytes as text: printable ASCII kept, the rest as dots. */
  preview: string;
  /** The first 64 bytes in hex. */
  hex: string;
  /** Size of the whole value in bytes. */
  bytes: number;
  /** On the dead-letter topic: where the record was first written (its `kandle.source.*` headers). */
  source?: { topic: string; partition: number; offset: number };
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
  /** @throws Error (status 400) for an unknown topic or a bad partition/offset/time/limit. */
  page(request: PageRequest): Promise<MessagePage>;
  /** The newest record of every partition of `topic` (partitions without records left out). */
  newest(topic: string): Promise<BrowsedRecord[]>;
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
  const decoders = new Map<string, Decoder>([
    [
      options.topics.tickers,
      createAvroDecoder<Ticker>(options.registry, tickerSchema, valueSubject(options.topics.tickers)),
    ],
    [
      options.topics.trades,
      createAvroDecoder<Trade>(options.registry, tradeSchema, valueSubject(options.topics.trades)),
    ],
  ]);
  if (options.topics.deadLetter) decoders.set(options.topics.deadLetter, DEAD_LETTERS);
  const timeoutMs = options.readTimeoutMs ?? 2000;
  const decoderOf = (topic: string): Decoder => {
    const decoder = decoders.get(topic);
    if (!decoder) throw new BrowseRequestError(`unknown topic "${topic}"; one of ${[...decoders.keys()].join(', ')}`);
    return decoder;
  };

  return {
    async page(request) {
      const decoder = decoderOf(request.topic);
      const limit = request.limit ?? 20;
      if (!Number.isInteger(limit) || limit < 1 || limit > 100) throw new BrowseRequestError('limit must be 1-100');
      if (!Number.isInteger(request.partition) || request.partition < 0)
        throw new BrowseRequestError('partition must be an integer ≥ 0');
      if (request.time !== undefined && !Number.isSafeInteger(request.time))
        throw new BrowseRequestError('time must be Unix milliseconds');
      return withinBudget(
        timeoutMs,
        withConsumer(options.brokers, timeoutMs, async (consumer) => {
          const { lowOffset: low, highOffset: high } = await watermarks(
            consumer,
            request.topic,
            request.partition,
            timeoutMs,
          );
          const start =
            request.time === undefined
              ? (request.offset ?? high - limit)
              : await offsetForTime(consumer, request.topic, request.partition, request.time, high, timeoutMs);
          const offset = Math.max(low, start);
          if (!Number.isInteger(offset)) throw new BrowseRequestError('offset must be an integer');
          const end = Math.min(high, offset + limit);
          const raw =
            end > offset ? await readRange(consumer, request.topic, request.partition, offset, end, timeoutMs) : [];
          const records = await Promise.all(raw.map((message) => browse(message, decoder)));
          return { topic: request.topic, partition: request.partition, low, high, offset, records };
        }),
      );
    },
    async newest(topic) {
      const decoder = decoderOf(topic);
      return withinBudget(
        timeoutMs,
        withConsumer(options.brokers, timeoutMs, async (consumer) => {
          const newest: BrowsedRecord[] = [];
          const partitions = await partitionCount(consumer, topic, timeoutMs);
          for (let partition = 0; partition < partitions; partition++) {
            const { lowOffset: low, highOffset: high } = await watermarks(consumer, topic, partition, timeoutMs);
            if (high <= low) continue;
            const [last] = await readRange(consumer, topic, partition, high - 1, high, timeoutMs);
            if (last) newest.push(await browse(last, decoder));
          }
          return newest;
        }),
      );
    },
  };
}

/** A value decoder; the dead-letter topic's never decodes (its values are the ones that failed). */
type Decoder = { decode(payload: Buffer): Promise<Ticker | Trade> } | typeof DEAD_LETTERS;

/** Marks the dead-letter topic among the decoders. */
const DEAD_LETTERS = 'dead-letters' as const;

/** `read`, or an error saying the cluster did not answer within `ms` (the read goes on and cleans up by itself). */
function withinBudget<T>(ms: number, read: Promise<T>): Promise<T> {
  return withTimeout(
    read,
    ms,
    () => new KandleError('BROKER_UNREACHABLE', `no answer from the cluster within ${ms} ms`, { retriable: true }),
  );
}

/** Runs `read` with a short-lived, group-less consumer, disconnected afterwards. */
async function withConsumer<T>(
  brokers: string,
  timeoutMs: number,
  read: (consumer: Kafka.KafkaConsumer) => Promise<T>,
): Promise<T> {
  const consumer = new Kafka.KafkaConsumer(
    {
      'metadata.broker.list': brokers,
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
    return await read(consumer);
  } finally {
    await new Promise<void>((resolve) => consumer.disconnect(() => resolve()));
  }
}

function watermarks(
  consumer: Kafka.KafkaConsumer,
  topic: string,
  partition: number,
  timeoutMs: number,
): Promise<{ lowOffset: number; highOffset: number }> {
  return new Promise((resolve, reject) =>
    consumer.queryWatermarkOffsets(topic, partition, timeoutMs, (e, w) => (e ? reject(e) : resolve(w))),
  );
}

/** The first offset whose timestamp is ≥ `time` (Kafka's ListOffsets by timestamp); `high` when there is none. */
function offsetForTime(
  consumer: Kafka.KafkaConsumer,
  topic: string,
  partition: number,
  time: number,
  high: number,
  timeoutMs: number,
): Promise<number> {
  return new Promise((resolve, reject) =>
    consumer.offsetsForTimes([{ topic, partition, offset: time }], timeoutMs, (e, offsets) => {
      if (e) return reject(e);
      const found = offsets[0]?.offset;
      resolve(typeof found === 'number' && found >= 0 ? found : high);
    }),
  );
}

function partitionCount(consumer: Kafka.KafkaConsumer, topic: string, timeoutMs: number): Promise<number> {
  return new Promise((resolve, reject) =>
    consumer.getMetadata({ topic, timeout: timeoutMs }, (e, metadata) =>
      e ? reject(e) : resolve(metadata.topics.find((t) => t.name === topic)?.partitions.length ?? 0),
    ),
  );
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

/** Decodes one record; a value that is not Confluent Avro of a known schema (or is dead-lettered) becomes a poison entry. */
async function browse(message: Kafka.Message, decoder: Decoder): Promise<BrowsedRecord> {
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
  if (decoder === DEAD_LETTERS) return { ...base, poison: deadLetterView(value, headers) };
  try {
    return { ...base, value: await decoder.decode(value) };
  } catch (e) {
    if (!(e instanceof DecodeError)) throw e;
    return { ...base, poison: { reason: e.reason, message: e.message, ...bytesView(value) } };
  }
}

/** A dead-lettered value with why and where from, as the consumer's dead-letter writer put it in the headers. */
function deadLetterView(value: Buffer, headers: Record<string, string>): PoisonView {
  const topic = headers['kandle.source.topic'];
  const partition = Number(headers['kandle.source.partition']);
  const offset = Number(headers['kandle.source.offset']);
  return {
    reason: headers['kandle.reason'] ?? 'dead-lettered',
    message: headers['kandle.error'] ?? 'no kandle.error header',
    ...bytesView(value),
    ...(topic !== undefined && Number.isInteger(partition) && Number.isInteger(offset)
      ? { source: { topic, partition, offset } }
      : {}),
  };
}

/** A readable preview of what is there (printable ASCII kept, the rest as dots) and its hex; never the raw bytes. */
function bytesView(value: Buffer): Pick<PoisonView, 'preview' | 'hex' | 'bytes'> {
  const head = value.subarray(0, 64);
  return {
    preview: head.toString('latin1').replace(/[^\x20-\x7e]/g, '.'),
    hex: head.toString('hex').replace(/(..)(?!$)/g, '$1 '),
    bytes: value.length,
  };
}
