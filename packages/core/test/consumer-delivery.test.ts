// Tests for the consumer's delivery step: when a batch counts as handled, for the iterator and for the onCandles handler.
import { describe, expect, it } from 'vitest';
import type { CandleUpdate } from '../src/candles/types';
import { createDelivery } from '../src/consumer/delivery';
import { ConfigError } from '../src/errors';

const update = (start: number): CandleUpdate => ({
  kind: 'progress',
  candle: {
    symbol: 'tBTCUSD',
    interval: '1m',
    source: 'trade',
    start,
    end: start + 60_000,
    open: 1,
    high: 1,
    low: 1,
    close: 1,
    volume: 1,
    count: 1,
  },
});
const context = { records: 2, partitions: [] };
/** Whether `promise` has settled after the pending microtasks ran, and with what. */
async function settled<T>(promise: Promise<T>): Promise<{ value: T } | 'pending'> {
  let result: { value: T } | 'pending' = 'pending';
  void promise.then((value) => {
    result = { value };
  });
  await new Promise((r) => setImmediate(r));
  return result;
}

describe('iterator delivery', () => {
  it('waits for a loop that starts late, and counts the batch handled only when the loop asks past its last update', async () => {
    const delivery = createDelivery(undefined, () => {});
    const handled = delivery.offer([update(0), update(60_000)], context);
    expect(await settled(handled)).toBe('pending');
    const iterator = delivery.iterator();
    expect((await iterator.next()).value).toEqual(update(0));
    expect((await iterator.next()).value).toEqual(update(60_000));
    expect(await settled(handled)).toBe('pending'); // the last one was given out, not handled yet
    const next = iterator.next(); // asking for the next one handles it
    expect(await settled(handled)).toEqual({ value: true });
    expect(await settled(next)).toBe('pending'); // waits for the next batch
    void delivery.offer([update(120_000)], context);
    expect((await next).value).toEqual(update(120_000));
  });

  it('break leaves the update it broke on unhandled: the next loop starts with it', async () => {
    const delivery = createDelivery(undefined, () => {});
    const handled = delivery.offer([update(0), update(60_000)], context);
    const first = delivery.iterator();
    await first.next();
    await first.next();
    await first.return?.();
    expect(await settled(handled)).toBe('pending');
    const second = delivery.iterator();
    expect((await second.next()).value).toEqual(update(60_000));
    void second.next();
    expect(await settled(handled)).toEqual({ value: true });
  });

  it('close() and withdraw() count a batch the loop did not finish as not handled', async () => {
    const delivery = createDelivery(undefined, () => {});
    const withdrawn = delivery.offer([update(0)], context);
    await delivery.iterator().next();
    expect(delivery.withdraw()).toBe(true);
    expect(await withdrawn).toBe(false);
    expect(delivery.withdraw()).toBe(false); // nothing pending any more
    const dropped = delivery.offer([update(0)], context);
    delivery.close();
    expect(await dropped).toBe(false);
    expect(await delivery.iterator().next()).toEqual({ value: undefined, done: true });
    expect(await delivery.offer([update(0)], context)).toBe(false);
  });
});

describe('handler delivery', () => {
  it('is handled when the handler resolves, retries after a failure, and cannot be withdrawn or iterated', async () => {
    const calls: number[] = [];
    const warnings: string[] = [];
    const delivery = createDelivery(
      () => {
        calls.push(calls.length);
        if (calls.length === 1) throw new Error('sink down');
      },
      (e) => warnings.push(e.message),
    );
    expect(await delivery.offer([update(0)], context)).toBe(true);
    expect(calls).toEqual([0, 1]);
    expect(warnings).toHaveLength(1);
    expect(delivery.withdraw()).toBe(false);
    expect(() => delivery.iterator()).toThrow(ConfigError);
  });

  it('closing during retries gives up: the batch counts as not handled', async () => {
    const delivery = createDelivery(
      () => {
        throw new Error('sink down');
      },
      () => {},
    );
    const handled = delivery.offer([update(0)], context);
    delivery.close();
    expect(await handled).toBe(false);
  });
});
