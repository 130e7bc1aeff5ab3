import { describe, expect, it } from 'vitest';
import { PointBuffer } from '../src/batcher';
import { type LinePoint, renderLine } from '../src/points';

// A point of `series` whose one field `v` tells its versions apart; `line` gives what the buffer would send for it.
const p = (series: string, version = 0, timestamp = 0): LinePoint => ({
  series,
  timestamp,
  values: [version],
  layout: [' v='],
});
const line = (series: string, version: number, timestamp = 0) => `${series} v=${version} ${timestamp}`;

async function isSettled(promise: Promise<void>): Promise<boolean> {
  let settled = false;
  promise.then(
    () => {
      settled = true;
    },
    () => {
      settled = true;
    },
  );
  await new Promise((r) => setImmediate(r));
  return settled;
}

describe('PointBuffer', () => {
  it('keeps only the newest line per key and resolves every writer when that line is acked', async () => {
    const buffer = new PointBuffer(100);
    const first = buffer.enqueue([p('a', 1), p('b', 1)]);
    const second = buffer.enqueue([p('a', 2), p('a', 3)]);
    buffer.admit();
    expect(buffer.bufferedCount).toBe(2);
    expect(buffer.coalesced).toBe(2);
    const batch = buffer.take(10);
    expect(batch.map(renderLine)).toEqual([line('a', 3), line('b', 1)]);
    expect(await isSettled(first.promise)).toBe(false);
    buffer.ack(batch.slice(0, 1));
    expect(await isSettled(second.promise)).toBe(true);
    expect(await isSettled(first.promise)).toBe(false);
    buffer.ack(batch.slice(1));
    expect(await isSettled(first.promise)).toBe(true);
    expect(buffer.pendingCount).toBe(0);
  });

  it('coalesces by series and timestamp together, also once a series holds several points', () => {
    const buffer = new PointBuffer(100);
    buffer.enqueue([p('a', 1, 1), p('a', 1, 2), p('b', 1, 1), p('a', 1, 3)]);
    buffer.enqueue([p('a', 2, 2), p('b', 1, 2)]);
    buffer.admit();
    expect(buffer.coalesced).toBe(1);
    expect(buffer.take(2).map(renderLine)).toEqual([line('a', 1, 1), line('a', 2, 2)]);
    // a@1 and a@2 are in flight now: new versions of them are new points, a@3 is still merged into.
    buffer.enqueue([p('a', 2, 1), p('a', 2, 3)]);
    buffer.admit();
    expect(buffer.coalesced).toBe(2);
    expect(buffer.take(10).map(renderLine)).toEqual([
      line('b', 1, 1),
      line('a', 2, 3),
      line('b', 1, 2),
      line('a', 2, 1),
    ]);
    expect(buffer.bufferedCount).toBe(0);
  });

  it('settles the writers of an acked batch in the order their last points come in it', async () => {
    const buffer = new PointBuffer(100);
    const settled: string[] = [];
    const track = (name: string, ticket: { promise: Promise<void> }) =>
      ticket.promise.then(() => {
        settled.push(name);
      });
    const w1 = buffer.enqueue([p('a'), p('b'), p('c')]);
    const w2 = buffer.enqueue([p('a'), p('d')]);
    const w3 = buffer.enqueue([p('e'), p('f')]);
    buffer.admit();
    const done = Promise.all([track('w1', w1), track('w2', w2), track('w3', w3)]);
    buffer.ack(buffer.take(100));
    await done;
    expect(settled).toEqual(['w1', 'w2', 'w3']);
    expect(buffer.openTickets()).toEqual([]);
  });

  it('coalesces points of a series written out of timestamp order, and sends them in the order they came', () => {
    const buffer = new PointBuffer(100);
    buffer.enqueue([p('r', 1, 5), p('r', 1, 4), p('r', 1, 3), p('r', 2, 4), p('r', 2, 5), p('r', 2, 3)]);
    buffer.admit();
    expect(buffer.coalesced).toBe(3);
    expect(buffer.take(1).map(renderLine)).toEqual([line('r', 2, 5)]);
    buffer.enqueue([p('r', 3, 3), p('r', 3, 5), p('r', 3, 6)]);
    buffer.admit();
    expect(buffer.coalesced).toBe(4);
    expect(buffer.take(10).map(renderLine)).toEqual([
      line('r', 2, 4),
      line('r', 3, 3),
      line('r', 3, 5),
      line('r', 3, 6),
    ]);
  });

  it('hands out buffered points oldest first across many takes while more keep arriving', () => {
    const buffer = new PointBuffer(1000);
    const sent: string[] = [];
    let next = 0;
    for (let round = 0; round < 20; round++) {
      buffer.enqueue(Array.from({ length: 7 }, () => p('s', 0, next++)));
      buffer.admit();
      const batch = buffer.take(5);
      sent.push(...batch.map(renderLine));
      buffer.ack(batch);
    }
    sent.push(...buffer.take(1000).map(renderLine));
    expect(sent).toEqual(Array.from({ length: next }, (_, ts) => line('s', 0, ts)));
  });

  it('does not coalesce with a point already in flight: the newer line is sent again', () => {
    const buffer = new PointBuffer(100);
    buffer.enqueue([p('a', 1)]);
    buffer.admit();
    const inFlight = buffer.take(10);
    buffer.enqueue([p('a', 2)]);
    buffer.admit();
    expect(buffer.pendingCount).toBe(2);
    expect(buffer.take(10).map(renderLine)).toEqual([line('a', 2)]);
    expect(inFlight.map(renderLine)).toEqual([line('a', 1)]);
  });

  it('never holds more than maxPendingPoints and admits held-back writers in call order', async () => {
    const buffer = new PointBuffer(3);
    const big = buffer.enqueue([p('a'), p('b'), p('c'), p('d'), p('e')]);
    const later = buffer.enqueue([p('f')]);
    expect(buffer.admit()).toBe(3);
    expect(buffer.pendingCount).toBe(3);
    expect(buffer.waitingCount).toBe(3);
    const batch1 = buffer.take(2);
    expect(buffer.admit()).toBe(0); // still 3 pending: 2 in flight + 1 buffered
    buffer.ack(batch1);
    expect(buffer.admit()).toBe(2);
    expect(buffer.pendingCount).toBe(3);
    expect(await isSettled(big.promise)).toBe(false);
    buffer.ack(buffer.take(3));
    expect(buffer.admit()).toBe(1);
    expect(await isSettled(big.promise)).toBe(true);
    expect(await isSettled(later.promise)).toBe(false);
    buffer.ack(buffer.take(3));
    expect(await isSettled(later.promise)).toBe(true);
  });

  it('a held-back point that matches a buffered key is merged even when the buffer is full', () => {
    const buffer = new PointBuffer(2);
    buffer.enqueue([p('a', 1), p('b', 1)]);
    buffer.enqueue([p('b', 2)]);
    expect(buffer.admit()).toBe(3);
    expect(buffer.pendingCount).toBe(2);
  });

  it('rejects every writer of a failed entry, once', async () => {
    const buffer = new PointBuffer(10);
    const w1 = buffer.enqueue([p('a'), p('b')]);
    const w2 = buffer.enqueue([p('a')]);
    buffer.admit();
    const [a, b] = buffer.take(10);
    const error = new Error('refused');
    buffer.fail([a!], error);
    buffer.ack([b!]);
    await expect(w1.promise).rejects.toBe(error);
    await expect(w2.promise).rejects.toBe(error);
    expect(buffer.openTickets()).toEqual([]);
  });

  it('failUnsent rejects buffered and held-back writes but leaves in-flight ones alone', async () => {
    const buffer = new PointBuffer(2);
    const inFlight = buffer.enqueue([p('a')]);
    buffer.admit();
    const flying = buffer.take(1);
    const buffered = buffer.enqueue([p('b'), p('c'), p('d')]);
    buffer.admit();
    expect(buffer.failUnsent(new Error('closing'))).toBe(3);
    await expect(buffered.promise).rejects.toThrow('closing');
    expect(await isSettled(inFlight.promise)).toBe(false);
    buffer.ack(flying);
    await expect(inFlight.promise).resolves.toBeUndefined();
  });
});
