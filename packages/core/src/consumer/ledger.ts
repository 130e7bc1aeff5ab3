// Consumer / ledger: per owned partition, its candle aggregator and its read, processed and committed positions.
import type { TopicPartition } from '../assignors/types';
import { type CandleAggregator, createCandleAggregator } from '../candles/aggregator';
import type { Candle, CandleInterval, CandleUpdate } from '../candles/types';

/** One owned partition. */
export interface PartitionEntry {
  readonly topic: string;
  readonly partition: number;
  readonly aggregator: CandleAggregator;
  /** Next offset after the last record whose candle updates were handled; null until one was. */
  processed: number | null;
  /** The offset last committed (or found committed at assignment); null if none. */
  committed: number | null;
  /** The metadata committed with it (series watermarks move without the offset moving). */
  committedMetadata: string | null;
  /** A batch with records of this partition waits to be handled: its aggregator is ahead of `processed`. */
  inFlight: boolean;
  /** First offset of every open bucket: the commit point never passes them, so a new owner rebuilds them whole. */
  readonly openFirstOffset: Map<string, number>;
  /** Series watermarks restored from the commit metadata: buckets ending before them were already emitted. */
  readonly restoredWatermarks: Map<string, number>;
}

const SEP = '|';
const keyOf = (topic: string, partition: number) => `${topic}${SEP}${partition}`;
export const bucketKey = (c: Candle) => `${c.symbol}${SEP}${c.source}${SEP}${c.interval}${SEP}${c.start}`;

/** The partitions this member owns, and what it knows about each. */
export class Ledger {
  private readonly entries = new Map<string, PartitionEntry>();

  constructor(private readonly settings: { intervals: CandleInterval[]; gracePeriodMs: number }) {}

  get size(): number {
    return this.entries.size;
  }

  get(topic: string, partition: number): PartitionEntry | undefined {
    return this.entries.get(keyOf(topic, partition));
  }

  /** Is `entry` still the live one of its partition (not revoked, not re-assigned since)? */
  owns(entry: PartitionEntry): boolean {
    return this.entries.get(keyOf(entry.topic, entry.partition)) === entry;
  }

  add(tp: TopicPartition, committed: number | null, restoredWatermarks: Map<string, number>): PartitionEntry {
    const entry: PartitionEntry = {
      topic: tp.topic,
      partition: tp.partition,
      // Coalesced: the batch reports each changed candle once, so no update is allocated per record.
      aggregator: createCandleAggregator({ ...this.settings, emitProgress: 'coalesced' }),
      processed: null,
      committed,
      committedMetadata: null,
      inFlight: false,
      openFirstOffset: new Map(),
      restoredWatermarks,
    };
    this.entries.set(keyOf(tp.topic, tp.partition), entry);
    return entry;
  }

  remove(tp: TopicPartition): void {
    this.entries.delete(keyOf(tp.topic, tp.partition));
  }

  all(): PartitionEntry[] {
    return [...this.entries.values()];
  }

  owned(): TopicPartition[] {
    return this.all()
      .map((p) => ({ topic: p.topic, partition: p.partition }))
      .sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition);
  }

  candles(symbol?: string, interval?: CandleInterval): Candle[] {
    return this.all()
      .flatMap((p) => p.aggregator.snapshot(symbol, interval))
      .sort((a, b) => a.start - b.start || a.symbol.localeCompare(b.symbol));
  }

  /** Notes what an update means for the commit point; `offset` is the record that caused it, if known. */
  noteUpdate(entry: PartitionEntry, update: CandleUpdate, offset: number | undefined): void {
    const bucket = bucketKey(update.candle);
    // The record that opened the candle: a takeover must re-read from there to rebuild it.
    if (offset !== undefined && update.kind === 'progress' && !entry.openFirstOffset.has(bucket))
      entry.openFirstOffset.set(bucket, offset);
    if (update.kind === 'closed') entry.openFirstOffset.delete(bucket);
  }

  /** Was this update already emitted by the partition's previous owner (replayed after a takeover)? */
  replayed(entry: PartitionEntry, candle: Candle): boolean {
    const watermark = entry.restoredWatermarks.get(`${candle.symbol}${SEP}${candle.source}`);
    return watermark !== undefined && candle.end <= watermark;
  }

  /** The batch's updates were handled: its records count as processed (for partitions still owned). */
  advance(positions: Map<PartitionEntry, number>): void {
    for (const [entry, next] of positions) if (this.owns(entry)) entry.processed = next;
  }

  /** Where a commit of `entry` may point now: never past a record whose candle is still open. */
  commitPoint(entry: PartitionEntry): number | null {
    if (entry.processed === null || entry.inFlight) return null;
    let offset = entry.processed;
    for (const first of entry.openFirstOffset.values()) if (first < offset) offset = first;
    return offset;
  }
}
