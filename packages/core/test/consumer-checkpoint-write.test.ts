// Checkpoint writes that fail part-way: no position may claim records that are not durable, and tombstones are re-sent.
import { beforeAll, describe, expect, it } from 'vitest';
import { KafkaProtocolError } from '../src/admin/wire/errors';
import { unknownYet, writeCheckpoint } from '../src/consumer/checkpoint';
import { kandleErrorFrom, UnknownTopicError } from '../src/errors';
import { loadNativeClient } from '../src/rdkafka';
import { Ledger, type PartitionEntry } from '../src/consumer/ledger';
import type { SideRecord } from '../src/consumer/side-producer';

const MINUTE = 60_000;
const T0 = Date.UTC(2026, 0, 1);

/**
 * The side producer's `send` as the checkpoint sees it: resolves when durable, rejects when refused. `failWhen`
 * picks the records to refuse, as a broker outage or a fatally failed producer would.
 */
function scriptedProducer() {
  const sent: SideRecord[] = [];
  let failWhen: (r: SideRecord) => boolean = () => false;
  return {
    sent,
    fail(predicate: (r: SideRecord) => boolean) {
      failWhen = predicate;
    },
    async send(record: SideRecord) {
      if (failWhen(record)) throw new Error('Broker: Not enough in-sync replicas');
      sent.push(record);
    },
  };
}

function ownedPartition(): { ledger: Ledger; entry: PartitionEntry } {
  const ledger = new Ledger({ intervals: ['1m'], gracePeriodMs: 1000 });
  const entry = ledger.add(
    { topic: 'trades', partition: 0 },
    {
      restored: { checkpoint: { open: [], clocks: [] }, written: new Set(), position: null, repair: [] },
      committed: null,
    },
  );
  return { ledger, entry };
}

/** Folds one trade as the batch step does: its updates mark their candles dirty. */
function fold(ledger: Ledger, entry: PartitionEntry, time: number, id: number): void {
  const updates = entry.aggregator.addTrade({ id, symbol: 'tBTCUSD', time, amount: 1, price: 100 + id });
  for (const u of [...updates, ...entry.aggregator.takeProgress()]) ledger.noteUpdate(entry, u);
}

const keys = (records: SideRecord[]) => records.map((r) => String(r.key));
const isPosition = (r: SideRecord) => r.key === '["position"]';
const isCandle = (r: SideRecord) => String(r.key).startsWith('["candle"');

describe('writeCheckpoint', () => {
  it('sends the position only after every record it covers is durable; a failed write is sent again whole', async () => {
    const { ledger, entry } = ownedPartition();
    const producer = scriptedProducer();
    fold(ledger, entry, T0 + 1000, 1);
    fold(ledger, entry, T0 + 2000, 2);

    producer.fail(isCandle);
    await expect(writeCheckpoint(producer, 'cl', entry, 2, 'member-1')).rejects.toMatchObject({
      code: 'CHECKPOINT_FAILED',
      retriable: true,
    });
    // The clock went through, the candle did not: no position may say "everything up to offset 2 is here".
    expect(producer.sent.some(isPosition)).toBe(false);

    producer.fail(() => false);
    await writeCheckpoint(producer, 'cl', entry, 2, 'member-1');
    const candle = producer.sent.filter(isCandle);
    expect(candle).toHaveLength(1);
    expect(JSON.parse(String(candle[0]?.value))).toMatchObject({ count: 2 });
    expect(isPosition(producer.sent.at(-1) as SideRecord)).toBe(true);
    expect(JSON.parse(String(producer.sent.at(-1)?.value))).toEqual({ offset: 2, owner: 'member-1' });
  });

  it('re-sends the tombstone of a closed candle when the write that carried it failed', async () => {
    const { ledger, entry } = ownedPartition();
    const producer = scriptedProducer();
    fold(ledger, entry, T0 + 1000, 1);
    await writeCheckpoint(producer, 'cl', entry, 1, 'member-1');
    const openKey = keys(producer.sent.filter(isCandle))[0] as string;

    // The next minute's trade closes the first candle (watermark past its end): its changelog record must go.
    fold(ledger, entry, T0 + MINUTE + 5000, 2);
    producer.fail((r) => r.key === openKey && r.value === null);
    await expect(writeCheckpoint(producer, 'cl', entry, 2, 'member-1')).rejects.toMatchObject({
      code: 'CHECKPOINT_FAILED',
    });

    producer.fail(() => false);
    producer.sent.length = 0;
    await writeCheckpoint(producer, 'cl', entry, 2, 'member-1');
    // Without it a later restore would bring the closed candle back as open, with the count it had then.
    expect(producer.sent.filter((r) => r.key === openKey).map((r) => r.value)).toEqual([null]);
    expect(isPosition(producer.sent.at(-1) as SideRecord)).toBe(true);
  });

  it('keeps candles changed while a write was in flight dirty for the next write', async () => {
    const { ledger, entry } = ownedPartition();
    let release: () => void = () => undefined;
    const sent: SideRecord[] = [];
    const slow = {
      send: (r: SideRecord) =>
        new Promise<void>((resolve) => {
          sent.push(r);
          if (isPosition(r)) release = resolve;
          else resolve();
        }),
    };
    fold(ledger, entry, T0 + 1000, 1);
    const writing = writeCheckpoint(slow, 'cl', entry, 1, 'member-1');
    await new Promise((r) => setImmediate(r));
    fold(ledger, entry, T0 + 2000, 2); // folded while the position waits for its acknowledgement
    release();
    await writing;
    expect(entry.dirty.size).toBe(1);
  });
});

describe('unknownYet (the changelog topic was just created and a broker does not know it yet)', () => {
  // librdkafka's codes come from the binding, which a consumer has always loaded by the time it asks.
  beforeAll(async () => {
    await loadNativeClient();
  });

  it('reads the type and code of the error and its causes, not the message', () => {
    const wire = new KafkaProtocolError(3, 'DescribeConfigs for t');
    expect(unknownYet(new UnknownTopicError('t'))).toBe(true);
    expect(unknownYet(kandleErrorFrom('ADMIN_REQUEST_FAILED', 'describe configs of t', wire))).toBe(true);
    expect(unknownYet(Object.assign(new Error('Broker: Unknown topic or partition'), { code: 3 }))).toBe(true);
    expect(unknownYet(Object.assign(new Error('Local: Unknown topic'), { code: -188 }))).toBe(true);
    // A different error whose text mentions topics is not "unknown yet", and neither is a policy refusal.
    expect(unknownYet(new Error('unknown topic configuration retention.xs'))).toBe(false);
    expect(unknownYet(new KafkaProtocolError(44, 'CreateTopics for t', 'policy'))).toBe(false);
    expect(unknownYet(undefined)).toBe(false);
  });
});
