// Consumer / runner: the poll → batch → deliver → commit loop, staying a live group member while a batch waits to be handled.
import { formatCommitMetadata } from '../assignors/live';
import type { TopicPartition } from '../assignors/types';
import { isFatalClientError, KandleError, kandleErrorFrom } from '../errors';
import type { CandleUpdate } from '../candles/types';
import type { KafkaConsumer, Message } from '../rdkafka';
import { type BatchStepDeps, runBatchStep } from './batch';
import type { CheckpointStore } from './checkpoint';
import type { Delivery } from './delivery';
import type { Ledger, PartitionEntry } from './ledger';
import type { CandleOutput } from './candle-output';
import type { Membership } from './membership';
import type { CandleConsumerStats } from './options';
import type { TransactionalProducer } from './transaction';
import { sleep } from '../retry';
import { ThrottledReport } from '../throttled-report';

/** Lifecycle of a consumer: every unit asks this, never a loose flag. */
export enum ConsumerState {
  /** Connected and subscribed; the loop runs. */
  Running = 'running',
  /** close() was called: the loop finishes the batch in hand, then the consumer commits and leaves. */
  Closing = 'closing',
  /** Left the group, clients disconnected. */
  Closed = 'closed',
}

export interface RunnerDeps {
  consumer: KafkaConsumer;
  ledger: Ledger;
  checkpoint: CheckpointStore;
  membership: Membership;
  delivery: Delivery;
  step: BatchStepDeps;
  stats: CandleConsumerStats;
  clientId: string;
  /** Where handled candle updates are produced, if anywhere. */
  output: CandleOutput | undefined;
  /** Exactly-once: the transaction that checkpoints, output and offsets commit in together. */
  transaction: TransactionalProducer | undefined;
  batchSize: number;
  commitIntervalMs: number;
  state: () => ConsumerState;
  warn: (e: KandleError) => void;
  /** Takes partitions over again from their checkpoint and moves their fetch position there. */
  retake: (entries: PartitionEntry[]) => Promise<void>;
}

/** How long a batch may wait for its acknowledgement before the runner pauses reading and keeps polling. */
const PAUSE_AFTER_MS = 500;

export class Runner {
  private lastCommitAt = 0;
  /** Set while reading is paused for a batch that waits: partitions assigned meanwhile are paused too. */
  private paused = false;
  /** Records returned while paused (librdkafka should not, but if it did): read them again from there. */
  private readonly rewindTo = new Map<string, TopicPartition & { offset: number }>();
  /** Exactly-once: offsets whose checkpoint and output are in the open transaction, per partition entry. */
  private readonly pendingOffsets = new Map<PartitionEntry, number>();
  lastError: unknown = null;
  /** Error events of the consumer's queue, reported without flooding the logger. */
  private readonly consumerEvents: ThrottledReport;

  constructor(private readonly deps: RunnerDeps) {
    this.consumerEvents = new ThrottledReport(5_000, (error, repeated) =>
      deps.warn(
        kandleErrorFrom(
          'CONSUMER_FAILED',
          `consumer event${repeated > 0 ? ` (and ${repeated} more like it)` : ''}`,
          error,
          { retriable: true },
        ),
      ),
    );
  }

  /** Runs until the state leaves Running. */
  async run(): Promise<void> {
    const { deps } = this;
    while (deps.state() === ConsumerState.Running) {
      try {
        await deps.membership.apply();
        // Entries whose aggregator holds a withdrawn batch: rebuilt from their checkpoint before reading on.
        const stale = deps.ledger.all().filter((e) => e.inFlight);
        if (stale.length > 0) await deps.retake(stale);
        const messages = await this.consume();
        if (messages.length > 0) await this.handle(messages);
        if (Date.now() - this.lastCommitAt >= deps.commitIntervalMs) await this.commit(deps.ledger.all(), false);
      } catch (e) {
        if (deps.state() !== ConsumerState.Running) break;
        this.lastError = e;
        deps.warn(e instanceof KandleError ? e : kandleErrorFrom('CONSUMER_FAILED', 'consumer loop error', e));
        await sleep(500);
      }
    }
  }

  /** Newly assigned partitions: paused at once while a batch waits, so they do not fetch what cannot be read yet. */
  assigned(partitions: TopicPartition[]): void {
    if (this.paused && partitions.length > 0) this.deps.consumer.pause(partitions);
  }

  /**
   * Checkpoints, then commits, every entry whose processed position moved: first its changed open candles and
   * clocks go to the changelog (durable, acks=all), then the offset is committed at the processed position. So
   * the committed offset is the processed offset, and whoever resumes from it finds the candles it implies.
   * `sync` for revoke and close: the next owner starts from this commit.
   */
  async commit(entries: PartitionEntry[], sync: boolean): Promise<void> {
    if (this.deps.transaction) return this.commitTransaction(this.deps.transaction);
    const { ledger, checkpoint, warn } = this.deps;
    const ready = ledger.committable(entries).map((entry) => ({ entry, offset: entry.processed as number }));
    if (ready.length === 0) return;
    this.lastCommitAt = Date.now();
    const written = await Promise.all(
      ready.map(({ entry, offset }) =>
        checkpoint.write(entry, offset).then(
          () => true,
          (e: KandleError) => {
            warn(e);
            return false;
          },
        ),
      ),
    );
    const offsets = ready
      .filter((_, i) => written[i])
      .map(({ entry, offset }) => ({
        topic: entry.topic,
        partition: entry.partition,
        offset,
        // The owner, read by custom assignors (docs/assignors.md); the clocks for information (the changelog has them).
        metadata: formatCommitMetadata(this.deps.clientId, clocksOf(entry)),
      }));
    if (offsets.length === 0) return;
    try {
      if (sync) this.deps.consumer.commitSync(offsets as never);
      else this.deps.consumer.commit(offsets as never);
      for (const { entry, offset } of ready)
        if (offsets.some((o) => o.topic === entry.topic && o.partition === entry.partition)) entry.committed = offset;
      this.deps.stats.commits++;
    } catch (e) {
      warn(kandleErrorFrom('COMMIT_FAILED', 'offset commit failed', e, { retriable: true }));
    }
  }

  /**
   * Exactly-once: commits the open transaction with the offsets of every batch handled since the last commit (each
   * batch put its checkpoint and output in as it was handled, so offsets and state match, whichever partitions
   * it spans). A failed commit was aborted: every owned partition is taken over again from its changelog.
   */
  private async commitTransaction(transaction: TransactionalProducer): Promise<void> {
    const pending = [...this.pendingOffsets];
    this.pendingOffsets.clear();
    this.lastCommitAt = Date.now();
    const offsets = pending.map(([entry, offset]) => ({
      topic: entry.topic,
      partition: entry.partition,
      offset,
      metadata: formatCommitMetadata(this.deps.clientId, clocksOf(entry)),
    }));
    try {
      await transaction.commit(offsets, this.deps.consumer);
      for (const [entry, offset] of pending) entry.committed = offset;
      if (pending.length > 0) this.deps.stats.commits++;
    } catch (e) {
      this.deps.warn(kandleErrorFrom('TRANSACTION_ABORTED', 'transaction commit failed', e, { retriable: true }));
      for (const entry of this.deps.ledger.all()) entry.inFlight = true;
    }
  }

  /** A handled batch's output, and in exactly-once mode its checkpoint, into Kafka (or the open transaction). */
  private async writeHandled(updates: CandleUpdate[], positions: Map<PartitionEntry, number>): Promise<void> {
    const { output, transaction, checkpoint, ledger } = this.deps;
    if (output && updates.length > 0) await output.write(updates);
    if (!transaction) return;
    for (const [entry, offset] of positions) {
      if (!ledger.owns(entry)) continue;
      await checkpoint.write(entry, offset);
      this.pendingOffsets.set(entry, offset);
    }
  }

  /**
   * One poll. An error event in the consumer's queue (unknown partition or transport trouble while brokers restart)
   * is librdkafka telling, not failing: it recovers by itself, so the event is reported (at most once per code every
   * few seconds) and the loop reads on at once. Treated as a loop failure, each cost a 500 ms pause (or, inside a
   * waiting batch, a retake from the checkpoint), and a burst of them after a broker restart stalled consumption for
   * minutes. Only a fatal error fails the loop.
   */
  private consume(): Promise<Message[]> {
    return new Promise<Message[]>((resolve, reject) =>
      this.deps.consumer.consume(this.deps.batchSize, (err, messages) => {
        if (!err) return resolve(messages ?? []);
        if (isFatalClientError(err)) return reject(err);
        this.consumerEvents.report(err);
        resolve([]);
      }),
    );
  }

  private async handle(messages: Message[]): Promise<void> {
    const { deps } = this;
    const batch = await runBatchStep(messages, deps.step);
    if (batch.updates.length === 0) {
      if (deps.transaction) await this.writeHandled(batch.updates, batch.positions);
      deps.ledger.advance(batch.positions);
      return;
    }
    const entries = [...batch.positions.keys()];
    for (const entry of entries) entry.inFlight = true;
    const context = {
      records: batch.records,
      partitions: entries.map((e) => ({ topic: e.topic, partition: e.partition })),
    };
    const handled = await this.whileLive(deps.delivery.offer(batch.updates, context));
    // Closed first: nothing of the batch counts, and the entries stay marked, so no checkpoint is ever taken from
    // aggregators that hold it; its records are read again by the partitions' next owners.
    if (!handled) return;
    // A failed write leaves the entries in flight: they are taken over again from their checkpoint and re-read.
    await this.writeHandled(batch.updates, batch.positions);
    for (const entry of entries) entry.inFlight = false;
    deps.stats.updates += batch.updates.length;
    deps.ledger.advance(batch.positions);
  }

  /**
   * Waits for the acknowledgement. A quick one (the common case) costs nothing more; a slow one (a slow sink, an
   * iterator nobody pulls yet) pauses every owned partition and keeps polling, so the member keeps heartbeating
   * within max.poll.interval.ms and serves rebalances (partitions of the waiting batch are not committed).
   */
  private async whileLive(ack: Promise<boolean>): Promise<boolean> {
    let result: boolean | undefined;
    void ack.then((handled) => {
      result = handled;
    });
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([ack, new Promise((resolve) => (timer = setTimeout(resolve, PAUSE_AFTER_MS)))]);
    clearTimeout(timer); // one batch after another: no timer may outlive its batch
    if (result !== undefined) return result;
    const { consumer, ledger, membership } = this.deps;
    // Inside the try: a pause that throws must not leave `paused` set, or every later assignment would be paused.
    this.paused = true;
    try {
      consumer.pause(assignedOf(consumer, ledger.owned()));
      while (result === undefined) {
        // A partition is never read by two members at once: a revoke waits for a handler call in flight (the
        // group waits for this member, up to max.poll.interval.ms); an iterator batch is withdrawn instead.
        if (!membership.hasPendingRevoke()) await membership.apply();
        else this.deps.delivery.withdraw();
        for (const m of await this.consume()) {
          const key = `${m.topic}|${m.partition}`;
          const seen = this.rewindTo.get(key);
          if (!seen || m.offset < seen.offset)
            this.rewindTo.set(key, { topic: m.topic, partition: m.partition, offset: m.offset });
        }
      }
    } finally {
      this.paused = false;
      await this.resume();
    }
    return result;
  }

  /** librdkafka resumes a paused partition from the last record it returned; strays are rewound explicitly. */
  private async resume(): Promise<void> {
    const { consumer, ledger } = this.deps;
    for (const tp of this.rewindTo.values())
      if (ledger.get(tp.topic, tp.partition))
        await new Promise<void>((resolve) => consumer.seek(tp, 5000, () => resolve()));
    this.rewindTo.clear();
    consumer.resume(assignedOf(consumer, ledger.owned()));
  }
}

/**
 * The partitions of `owned` librdkafka has assigned: pause and resume throw "Local: Unknown partition" for any other,
 * and an owned partition can be briefly unassigned there (its takeover failed after the ledger took it).
 */
function assignedOf(consumer: KafkaConsumer, owned: TopicPartition[]): TopicPartition[] {
  const assigned = new Set(consumer.assignments().map((a) => `${a.topic}|${a.partition}`));
  return owned.filter((tp) => assigned.has(`${tp.topic}|${tp.partition}`));
}

function clocksOf(entry: PartitionEntry): Map<string, number> {
  return new Map(entry.aggregator.clocks().map((c) => [`${c.symbol}|${c.source}`, c.maxEventTime]));
}
