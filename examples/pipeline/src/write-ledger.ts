// Write ledger: counts the pipeline's records produced, acknowledged, refused (NotEnoughReplicas) and failed, for the fault lab.
import { type DeliveryReport, KandleError } from '@kandle/core';

/** What the page shows of the producer's writes since the pipeline started. */
export interface LedgerView {
  /** Records handed to the producer. */
  produced: number;
  /** Records the brokers acknowledged (`acks=all`: every in-sync replica has them, at least `min.insync.replicas`). */
  acknowledged: number;
  /** Records the brokers refused because too few replicas were in sync (`NOT_ENOUGH_REPLICAS`): not written, not lost. */
  refused: number;
  /** Records that failed for another reason (timeout with no diagnosis, producer closed, …). */
  failed: number;
  /** Records awaiting their delivery report. */
  pending: number;
  /**
   * Acknowledged records whose offset is not below their partition's log end offset: records the cluster said it had
   * and did not have when the end offsets were read. Only acknowledgements received before that read count (see
   * {@link WriteLedger.mark}). Null while the end offsets are unknown.
   */
  lost: number | null;
  /** When the last refusal happened, Unix ms, or null. */
  lastRefusalAt: number | null;
}

/** A change in whether writes get through, for the timeline. */
export type WriteTransition = { kind: 'refused'; message: string } | { kind: 'resumed'; message: string };

/** Options of {@link createWriteLedger}. */
export interface WriteLedgerOptions {
  /** Told when writes start being refused and when an acknowledgement follows refusals again. Default: nobody. */
  onTransition?: (transition: WriteTransition) => void;
}

/** How many acknowledgements each partition (`topic|partition`) had at one moment; see {@link WriteLedger.mark}. */
export type LedgerMark = ReadonlyMap<string, number>;

/** Counts one producer's writes; see {@link LedgerView}. */
export interface WriteLedger {
  /**
   * The acknowledgements received so far, to take just before reading end offsets: a record acknowledged after the
   * read may sit at or past the end that was read, which is not a loss.
   */
  mark(): LedgerMark;
  /** Counts `send` as produced and, once it settles, as acknowledged, refused or failed; returns `send` unchanged. */
  track(send: Promise<DeliveryReport>): Promise<DeliveryReport>;
  /**
   * The counts; `endOffsets` (by `topic|partition`), read after `mark` was taken, turn the acknowledgements up to the
   * mark into the `lost` count (without a mark: every acknowledgement so far).
   */
  view(endOffsets: ReadonlyMap<string, number> | undefined, mark?: LedgerMark): LedgerView;
  /** Records of `topic` acknowledged so far. */
  acknowledgedOn(topic: string): number;
}

/**
 * Creates a {@link WriteLedger}. Acknowledged offsets are kept per partition (one number each), so `lost` can be
 * checked against the log at any time.
 *
 * @example
 * ```ts
 * const ledger = createWriteLedger({ onTransition: (t) => console.log(t.message) });
 * await ledger.track(producer.send(event));
 * console.log(ledger.view(new Map([['trades|0', 120]])));
 * ```
 */
export function createWriteLedger(options: WriteLedgerOptions = {}): WriteLedger {
  const counts = { produced: 0, acknowledged: 0, refused: 0, failed: 0 };
  const ackedOffsets = new Map<string, number[]>();
  let refusing = false;
  let refusedSinceAck = 0;
  let lastRefusalAt: number | null = null;

  const acknowledged = (report: DeliveryReport): void => {
    counts.acknowledged++;
    const key = `${report.topic}|${report.partition}`;
    const offsets = ackedOffsets.get(key) ?? [];
    if (offsets.length === 0) ackedOffsets.set(key, offsets);
    offsets.push(Number(report.offset));
    if (refusing) {
      refusing = false;
      options.onTransition?.({
        kind: 'resumed',
        message: `writes acknowledged again (after ${refusedSinceAck} refused)`,
      });
    }
  };
  const rejected = (e: unknown): void => {
    if (!(e instanceof KandleError && e.code === 'NOT_ENOUGH_REPLICAS')) {
      counts.failed++;
      return;
    }
    counts.refused++;
    lastRefusalAt = Date.now();
    if (!refusing) {
      refusing = true;
      refusedSinceAck = 0;
      options.onTransition?.({ kind: 'refused', message: `writes refused: ${(e as Error).message}` });
    }
    refusedSinceAck++;
  };

  return {
    track(send) {
      counts.produced++;
      send.then(acknowledged, rejected);
      return send;
    },
    mark: () => new Map([...ackedOffsets].map(([key, offsets]) => [key, offsets.length])),
    view(endOffsets, mark) {
      let lost: number | null = null;
      if (endOffsets) {
        lost = 0;
        for (const [key, offsets] of ackedOffsets) {
          const counted = mark ? (mark.get(key) ?? 0) : offsets.length;
          const end = endOffsets.get(key);
          if (end === undefined) {
            if (counted === 0) continue;
            lost = null;
            break;
          }
          for (let i = 0; i < counted; i++) if ((offsets[i] as number) >= end) lost++;
        }
      }
      const settled = counts.acknowledged + counts.refused + counts.failed;
      return { ...counts, pending: counts.produced - settled, lost, lastRefusalAt };
    },
    acknowledgedOn(topic) {
      let n = 0;
      for (const [key, offsets] of ackedOffsets) if (key.startsWith(`${topic}|`)) n += offsets.length;
      return n;
    },
  };
}
