// Consumer / checkpoint: open candles and stream clocks ↔ a compacted changelog topic per input topic, co-partitioned with it (restore on takeover, tombstones on close).
import { connectNative } from '../connect-native';
import type { KafkaAdmin } from '../admin';
import type { TopicPartition } from '../assignors/types';
import type { CandleAggregatorCheckpoint, OpenCandleState, StreamClock } from '../candles/aggregator';
import type { CandleSource } from '../candles/types';
import type { RdkafkaSettings, ResolvedKafkaConnection } from '../config';
import { isFatalClientError, KandleError, kandleErrorFrom, UnknownTopicError } from '../errors';
import { isUnknownTopicCode, type KafkaConsumer, loadNativeClient, type Message } from '../rdkafka';
import type { PartitionEntry } from './ledger';
import { backoffMs, sleep } from '../retry';
import type { SideProducer, SideRecord } from './side-producer';

/** The changelog of `input` for `groupId`: Kafka Streams' `<application.id>-<store>-changelog` naming. */
export const changelogTopic = (groupId: string, input: string) => `${groupId}-${input}-changelog`;

/**
 * Record keys: JSON arrays, so no separator can clash with a symbol.
 * `["candle", symbol, source, interval, start]` → OpenCandleState (null once the bucket closed),
 * `["clock", symbol, source]` → { maxEventTime }, `["position"]` → { offset, owner }: the input offset the
 * records before it cover. A restore only trusts what precedes the last position record.
 */
export const candleKey = (c: { symbol: string; source: CandleSource; interval: string; start: number }) =>
  JSON.stringify(['candle', c.symbol, c.source, c.interval, c.start]);
const clockKey = (c: { symbol: string; source: CandleSource }) => JSON.stringify(['clock', c.symbol, c.source]);
const POSITION_KEY = JSON.stringify(['position']);

/** What a new owner of a partition starts from. */
export interface Restored {
  checkpoint: CandleAggregatorCheckpoint;
  /** Candle keys present in the changelog (they get a tombstone when their bucket closes). */
  written: Set<string>;
  /** Input offset the checkpoint covers; null when the changelog has none. */
  position: number | null;
  /** Records of a checkpoint that was cut short (the owner died mid-write): they are written back to the last complete state. */
  repair: SideRecord[];
}

export interface CheckpointStore {
  /** Creates or checks each input's changelog: same partitions and replication as the input, compacted. */
  ensure(admin: KafkaAdmin, inputs: string[]): Promise<void>;
  restore(tp: TopicPartition): Promise<Restored>;
  /** Writes what changed in `entry` since the last write, then the position `offset`; resolves once all are durable. */
  write(entry: PartitionEntry, offset: number): Promise<void>;
  close(): Promise<void>;
}

export async function createCheckpointStore(options: {
  resolved: ResolvedKafkaConnection;
  userSettings: RdkafkaSettings;
  groupId: string;
  clientId: string;
  producer: SideProducer;
  /** Longest a restore may take before it fails (and the assignment is retried). Default 60000 ms. */
  restoreTimeoutMs?: number;
}): Promise<CheckpointStore> {
  const { groupId, clientId, producer } = options;
  const reader = await connectReader(options.resolved, options.userSettings, `${clientId}-restore`, groupId);
  return {
    async ensure(admin, inputs) {
      // Small segments so the cleaner compacts soon: restore reads about the open candles, not their history.
      const configs = { 'cleanup.policy': 'compact', 'segment.ms': '600000', 'min.cleanable.dirty.ratio': '0.1' };
      for (const input of inputs) await ensureTopicLike(admin, changelogTopic(groupId, input), input, configs);
    },
    restore: (tp) => readChangelog(reader, changelogTopic(groupId, tp.topic), tp.partition, options.restoreTimeoutMs),
    write: (entry, offset) => writeCheckpoint(producer, changelogTopic(groupId, entry.topic), entry, offset, clientId),
    close: () => new Promise<void>((resolve) => reader.disconnect(() => resolve())),
  };
}

/**
 * Internal (exported for its tests): writes what changed in `entry` since the last write to `topic`, then the position
 * `offset`. The position is sent only once every record it covers is durable, so a write that fails part-way leaves
 * no position claiming it: a restore trusts only what precedes the last position. What the entry believes the
 * changelog holds (`written`, `writtenClocks`, `dirty`) changes only when the write succeeded, so a failed write is
 * sent again whole, tombstones included.
 */
export async function writeCheckpoint(
  producer: Pick<SideProducer, 'send'>,
  topic: string,
  entry: PartitionEntry,
  offset: number,
  owner: string,
): Promise<void> {
  const changes = changedRecords(entry);
  const dirty = new Map(entry.dirty);
  entry.dirty.clear(); // updates folded while the write is in flight mark their candles again
  const { partition } = entry;
  try {
    await Promise.all(changes.records.map((r) => producer.send({ topic, partition, ...r })));
    await producer.send({ topic, partition, key: POSITION_KEY, value: json({ offset, owner }) });
  } catch (e) {
    for (const [key, id] of dirty) if (!entry.dirty.has(key)) entry.dirty.set(key, id);
    throw kandleErrorFrom('CHECKPOINT_FAILED', `checkpoint write to ${topic} failed`, e, { retriable: true });
  }
  for (const key of changes.opened) entry.written.add(key);
  for (const key of changes.tombstoned) entry.written.delete(key);
  for (const [key, time] of changes.clocks) entry.writtenClocks.set(key, time);
}

/** Upserts for changed open candles, tombstones for written ones that closed, and the clocks that moved. */
function changedRecords(entry: PartitionEntry) {
  const records: Array<{ key: string; value: Buffer | null }> = [];
  const opened: string[] = [];
  const tombstoned: string[] = [];
  const clocks: Array<[string, number]> = [];
  for (const [key, c] of entry.dirty) {
    const open = entry.aggregator.openCandle(c.symbol, c.source, c.interval, c.start);
    if (open) {
      records.push({ key, value: json(open) });
      opened.push(key);
    } else if (entry.written.has(key)) {
      records.push({ key, value: null });
      tombstoned.push(key);
    }
  }
  for (const clock of entry.aggregator.clocks()) {
    const key = clockKey(clock);
    if (entry.writtenClocks.get(key) === clock.maxEventTime) continue;
    records.push({ key, value: json({ maxEventTime: clock.maxEventTime }) });
    clocks.push([key, clock.maxEventTime]);
  }
  return { records, opened, tombstoned, clocks };
}

/**
 * Creates `name` (or checks it) with the partitions, replication and min.insync.replicas of `like`, plus `configs`.
 * Members starting together race to create it; the loser may check it before every broker knows it: retried.
 */
export async function ensureTopicLike(
  admin: KafkaAdmin,
  name: string,
  like: string,
  configs: Record<string, string>,
  partitions?: number,
): Promise<void> {
  const described = await admin.describeTopic(like);
  const replicationFactor = described[0]?.replicas.length ?? 1;
  const spec = {
    name,
    partitions: partitions ?? described.length,
    replicationFactor,
    minInsyncReplicas: Math.min(replicationFactor, await admin.minInsyncReplicas(like)),
    configs,
  };
  for (let attempt = 0; ; attempt++) {
    try {
      await admin.ensureTopic(spec);
      return;
    } catch (e) {
      if (attempt >= 8 || !unknownYet(e)) throw e;
      await sleep(backoffMs(attempt));
    }
  }
}

/**
 * The topic was just created and a broker does not know it yet: retriable. Read from the error and its causes, by
 * type and code, never by message: `UnknownTopicError`, the type UNKNOWN_TOPIC_OR_PARTITION (kandle's wire client,
 * the binding's KafkaJS layer), or librdkafka's unknown-topic codes ({@link isUnknownTopicCode}).
 */
export function unknownYet(error: unknown): boolean {
  for (let at: unknown = error, depth = 0; at && depth < 8; at = (at as { cause?: unknown }).cause, depth++) {
    if (at instanceof UnknownTopicError) return true;
    const { type, code } = at as { type?: unknown; code?: unknown };
    if (type === 'UNKNOWN_TOPIC_OR_PARTITION') return true;
    if (typeof code === 'number' && isUnknownTopicCode(code)) return true;
  }
  return false;
}

const json = (value: unknown) => Buffer.from(JSON.stringify(value));

async function connectReader(
  resolved: ResolvedKafkaConnection,
  userSettings: RdkafkaSettings,
  clientId: string,
  groupId: string,
): Promise<KafkaConsumer> {
  const { KafkaConsumer } = (await loadNativeClient()).RdKafka;
  // Only ever assign()ed, never subscribed and never committing: the group id is required but never joined.
  const reader = new KafkaConsumer(
    {
      ...resolved.rdkafka,
      'group.id': `${groupId}-restore`,
      'client.id': clientId,
      'enable.auto.commit': false,
      ...userSettings,
    } as never,
    {} as never,
  );
  await connectNative(reader, resolved);
  reader.setDefaultConsumeTimeout(200);
  return reader;
}

/** Reads one changelog partition to its end and folds it into the last complete checkpoint. */
async function readChangelog(
  reader: KafkaConsumer,
  topic: string,
  partition: number,
  timeoutMs = 60_000,
): Promise<Restored> {
  const { lowOffset, highOffset } = await new Promise<{ lowOffset: number; highOffset: number }>((resolve, reject) =>
    reader.queryWatermarkOffsets(topic, partition, 10_000, (err, offsets) => (err ? reject(err) : resolve(offsets))),
  );
  const fold = createFold();
  if (highOffset > lowOffset) {
    reader.assign([{ topic, partition, offset: lowOffset }]);
    try {
      const deadline = Date.now() + timeoutMs;
      /** The latest error event of the reader's queue, the cause if the deadline passes. */
      let lastEvent: unknown;
      for (let last = lowOffset - 1; last < highOffset - 1; ) {
        if (Date.now() > deadline)
          throw new KandleError('CHECKPOINT_FAILED', `restoring ${topic}[${partition}] took over ${timeoutMs} ms`, {
            retriable: true,
            ...(lastEvent === undefined ? {} : { cause: lastEvent }),
          });
        // Error events ("Local: Unknown partition", transport errors while brokers restart) are librdkafka telling,
        // not failing: it recovers by itself, as in the member's own loop. Rejecting on them fails the takeover, and
        // a retried takeover may meet them again (the likely cause of a fault-lab run where a member's assignment
        // failed with "Unknown partition" every 0.7 s for two minutes). Only a fatal error fails the restore at once;
        // the deadline bounds the rest.
        const batch = await new Promise<Message[] | null>((resolve, reject) =>
          reader.consume(1000, (err, messages) => {
            if (!err) return resolve(messages ?? []);
            if (isFatalClientError(err)) return reject(err);
            lastEvent = err;
            resolve(null);
          }),
        );
        if (batch === null) {
          await sleep(100); // an error event returns at once: without a pause a burst of them would spin this loop
          continue;
        }
        for (const m of batch) {
          fold.apply(m);
          last = m.offset;
        }
        // Compaction may have removed the records just before the end: trust the position when nothing came.
        if (batch.length === 0) last = Math.max(last, (reader.position([{ topic, partition }])[0]?.offset ?? 0) - 1);
      }
    } finally {
      reader.unassign();
    }
  }
  return fold.result(topic, partition);
}

/** Applies changelog records in order; what follows the last position record is a write cut short. */
function createFold() {
  const stable = new Map<string, Buffer>();
  const tail = new Map<string, Buffer | null>();
  let position: number | null = null;
  return {
    apply(m: Message) {
      const key = m.key ? m.key.toString() : '';
      if (key === POSITION_KEY && m.value) {
        for (const [k, v] of tail) v ? stable.set(k, v) : stable.delete(k);
        tail.clear();
        position = (JSON.parse(m.value.toString()) as { offset: number }).offset;
      } else tail.set(key, m.value ?? null);
    },
    result(topic: string, partition: number): Restored {
      const open: OpenCandleState[] = [];
      const clocks: StreamClock[] = [];
      const written = new Set<string>();
      for (const [key, value] of stable) {
        const [kind, symbol, source] = JSON.parse(key) as [string, string, CandleSource];
        if (kind === 'candle') {
          open.push(JSON.parse(value.toString()) as OpenCandleState);
          written.add(key);
        } else if (kind === 'clock')
          clocks.push({ symbol, source, maxEventTime: (JSON.parse(value.toString()) as StreamClock).maxEventTime });
      }
      const repair = [...tail.keys()].map((key) => ({ topic, partition, key, value: stable.get(key) ?? null }));
      return { checkpoint: { open, clocks }, written, position, repair };
    },
  };
}
