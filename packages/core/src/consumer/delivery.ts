// Consumer / delivery: hands each batch of candle updates to the onCandles handler or to the async iterator, and says when it was handled.
import type { CandleUpdate } from '../candles/types';
import { ConfigError, type KandleError, kandleErrorFrom } from '../errors';
import type { BatchContext } from './options';
import { backoffMs, sleep } from '../retry';

/** Where batches go. One batch at a time: the runner offers the next only after this one was handled. */
export interface Delivery {
  /** Resolves `true` once the batch was handled, `false` if the consumer closed first (then none of it counts). */
  offer(updates: CandleUpdate[], context: BatchContext): Promise<boolean>;
  iterator(): AsyncIterator<CandleUpdate>;
  /**
   * Takes back a batch nobody finished, so its partitions can be released at once (it then counts as not
   * handled). Only an iterator batch can be taken back; a handler call in flight cannot: returns false.
   */
  withdraw(): boolean;
  /** No more batches: a pending iterator batch is dropped (not handled), iterators end; a handler call in flight finishes. */
  close(): void;
}

type Handler = (updates: CandleUpdate[], context: BatchContext) => Promise<void> | void;

export function createDelivery(handler: Handler | undefined, warn: (e: KandleError) => void): Delivery {
  return handler ? handlerDelivery(handler, warn) : iteratorDelivery();
}

/** The handler's promise is the acknowledgement; a failure offers the same updates again after a backoff. */
function handlerDelivery(handler: Handler, warn: (e: KandleError) => void): Delivery {
  let closed = false;
  return {
    async offer(updates, context) {
      for (let attempt = 0; ; attempt++) {
        try {
          await handler(updates, context);
          return true;
        } catch (e) {
          // Closing mid-retry: leave the offsets where they are, so the next owner re-reads these records.
          if (closed) return false;
          warn(
            kandleErrorFrom(
              'HANDLER_FAILED',
              `onCandles failed (attempt ${attempt + 1}); offering the same ${updates.length} updates again`,
              e,
              { retriable: true },
            ),
          );
          await sleep(backoffMs(attempt));
        }
      }
    },
    withdraw: () => false,
    iterator() {
      throw new ConfigError('this consumer acknowledges through its onCandles handler: iterate a consumer without one');
    },
    close() {
      closed = true;
    },
  };
}

/** The batch waiting for the caller, and how far the caller got. */
interface Pending {
  updates: CandleUpdate[];
  /** Index of the first update not yet handled. */
  cursor: number;
  /** `updates[cursor]` was given out and the caller has not asked for the next one yet. */
  given: boolean;
  resolve(handled: boolean): void;
}

/**
 * Pulling is the acknowledgement: an update counts as handled when the caller asks for the next one. The
 * batch stays here until then, however late iteration starts; `return()` (a `break`) leaves the update it was
 * given unhandled, so the next loop over the consumer gets it again.
 */
function iteratorDelivery(): Delivery {
  let pending: Pending | null = null;
  let closed = false;
  const waiters: Array<() => void> = [];
  const wake = () => {
    for (const w of waiters.splice(0)) w();
  };
  const next = async (): Promise<IteratorResult<CandleUpdate>> => {
    for (;;) {
      if (closed) return { value: undefined, done: true };
      const p = pending;
      if (p) {
        if (p.given) {
          p.cursor++;
          p.given = false;
        }
        const update = p.updates[p.cursor];
        if (update) {
          p.given = true;
          return { value: update, done: false };
        }
        pending = null;
        p.resolve(true);
      }
      await new Promise<void>((resolve) => waiters.push(resolve));
    }
  };
  return {
    offer(updates) {
      return new Promise<boolean>((resolve) => {
        if (closed) return resolve(false);
        pending = { updates, cursor: 0, given: false, resolve };
        wake();
      });
    },
    withdraw() {
      if (!pending) return false;
      pending.resolve(false);
      pending = null;
      return true;
    },
    iterator() {
      return {
        next,
        async return() {
          if (pending) pending.given = false;
          return { value: undefined, done: true };
        },
      };
    },
    close() {
      closed = true;
      pending?.resolve(false);
      pending = null;
      wake();
    },
  };
}
