// Consumer / ledger: per owned partition, its candle aggregator, its processed and committed positions, and what its changelog holds.
import type { TopicPartition } from '../assignors/types';
import { type CandleAggregator, createCandleAggregator } from '../candles/aggregator';
import type { Candle, CandleInterval, CandleUpdate } from '../candles/types';
import { candleKey, type Restored } from './checkpoint';

/** One owned partition. */
export interface PartitionEntry {
  readonly topic: string;
  readonly partition: number;
  readonly aggregator: CandleAggregator;
  /** Next offset after the last record whose candle updates were handled; null until one was. */
  processed: number | null;
  /** The offset last committed (or found committed at assignment); null if none. */
  committed: number | null;
  /**
   * The aggregator holds records not handled yet (a batch waits, or was dropped at close): no checkpoint or
   * commit may be taken from it until that batch is handled.
   */
  inFlight: boolean;
  /** Candles changed since the last checkpoint write, by changelog key. */
  readonly dirty: Map<string, CandleId>;
  /** Changelog keys of the open candles the changelog holds (a closed one gets a tombstone). */
  readonly written: Set<string>;
  /** Stream clocks as last written to the changelog. */
  readonly writtenClocks: Map<string, number>;
}

/** Which candle: enough to look it up in the aggregator. */
export type CandleId = Pick<Candle, 'symbol' | 'source' | 'interval' | 'start'>;

const SEP = '|';
const keyOf = (topic: string, partition: number) => `${topic}${SEP}${partition}`;

/** The partitions this member owns, and what it knows about each. */
export class Ledger {
  private readonly entries = new Map<string, PartitionEntry>();

  constructor(
    private readonly settings: { intervals: CandleInterval[]; gracePeriodMs: number },
    /** Called for each record too late to apply (older than its series remembers): counted, not folded. */
    private readonly onLate: () => void = () => undefined,
  ) {}

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

  /** Takes a partition over from its checkpoint: `position` is the input offset the checkpoint covers. */
  add(tp: TopicPartition, from: { restored: Restored; committed: number | null }): PartitionEntry {
    // Coalesced: the batch reports each changed candle once, so no update is allocated per record.
    const aggregator = createCandleAggregator({ ...this.settings, emitProgress: 'coalesced', onLate: this.onLate });
    aggregator.restore(from.restored.checkpoint);
    const entry: PartitionEntry = {
      topic: tp.topic,
      partition: tp.partition,
      aggregator,
      processed: from.restored.position,
      committed: from.committed,
      inFlight: false,
      dirty: new Map(),
      written: from.restored.written,
      writtenClocks: new Map(),
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

  /** Notes a changed candle for the next checkpoint write (`key`: its changelog key, when the caller has it). */
  noteUpdate(entry: PartitionEntry, update: CandleUpdate, key: string = candleKey(update.candle)): void {
    // Corrections change closed candles, which a checkpoint does not hold.
    if (update.kind !== 'correction') entry.dirty.set(key, update.candle);
  }

  /** The batch's updates were handled: its records count as processed (for partitions still owned). */
  advance(positions: Map<PartitionEntry, number>): void {
    for (const [entry, next] of positions) if (this.owns(entry)) entry.processed = next;
  }

  /** Entries whose processed position moved past the committed one and may be checkpointed and committed now. */
  committable(entries: PartitionEntry[]): PartitionEntry[] {
    return entries.filter((e) => !e.inFlight && e.processed !== null && e.processed !== e.committed && this.owns(e));
  }
}
