// Tests of the renewing producer's swap: fatal errors replace the producer once, other errors never, metrics add up.
import {
  type CryptoProducer,
  type DeliveryReport,
  isFatalClientError,
  KandleError,
  NotEnoughReplicasError,
} from '@kandle/core';
import { describe, expect, it } from 'vitest';
import { createRenewingProducer } from '../src/renewing-producer';

/** librdkafka's fatal error as the producer reports it (details.code −150, ERR__FATAL). */
const fatal = () =>
  new KandleError('DELIVERY_FAILED', 'delivery failed: Local: Fatal error', { details: { code: -150 } });

/**
 * A producer whose sends fail with what the test queues (or succeed), counting what it delivered: the swap logic is
 * what is tested here; fault-lab.int.test.ts drives the real librdkafka producer into its fatal state.
 */
function scriptedProducer(name: string, failures: Error[] = []) {
  const state = { name, sent: 0, delivered: 0, failed: 0, closed: false, flushed: 0 };
  const send = async (): Promise<DeliveryReport> => {
    state.sent++;
    const failure = failures.shift();
    if (failure) {
      state.failed++;
      throw failure;
    }
    state.delivered++;
    return { topic: 'trades', partition: 0, offset: String(state.delivered - 1) };
  };
  const producer: CryptoProducer = {
    schemaIds: { tickers: 1, trades: 2 },
    topics: { tickers: 'tickers', trades: 'trades' },
    send,
    sendTicker: send,
    sendTrade: send,
    async flush() {
      state.flushed++;
    },
    metrics: () => ({ delivered: state.delivered, failed: state.failed }) as ReturnType<CryptoProducer['metrics']>,
    async close() {
      state.closed = true;
    },
  } as unknown as CryptoProducer;
  return { producer, state };
}

const trade = { kind: 'trade', id: 1, symbol: 'tBTCUSD', time: 0, amount: 1, price: 1 } as never;

describe('isFatalClientError', () => {
  it('knows ERR__FATAL by code or by message, and nothing else', () => {
    expect(isFatalClientError(fatal())).toBe(true);
    expect(isFatalClientError(new Error('Broker: Local: Fatal error'))).toBe(true);
    expect(isFatalClientError(new NotEnoughReplicasError('trades'))).toBe(false);
    expect(isFatalClientError(Object.assign(new Error('fatal'), { code: -150 }))).toBe(true);
    expect(isFatalClientError(undefined)).toBe(false);
  });
});

describe('createRenewingProducer', () => {
  it('replaces a fatally failed producer once, however many sends fail, and sends through the new one', async () => {
    const first = scriptedProducer('first', [fatal(), fatal(), fatal()]);
    const second = scriptedProducer('second');
    const made = [first, second];
    const renewals: Array<{ replaced: boolean; reason: string }> = [];
    const producer = await createRenewingProducer({
      create: async () => (made.shift() as (typeof made)[number]).producer,
      onRenew: (e) => renewals.push(e),
    });
    // Three records in flight when the producer fails: three fatal reports, one replacement.
    const results = await Promise.allSettled([producer.send(trade), producer.send(trade), producer.send(trade)]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected', 'rejected']);
    await producer.flush();
    expect(renewals).toEqual([{ replaced: true, reason: 'delivery failed: Local: Fatal error' }]);
    expect(first.state.closed).toBe(true);
    await producer.sendTrade(trade);
    expect(second.state.sent).toBe(1);
    expect(first.state.sent).toBe(3);
    // Failed records stay failed: nothing was re-sent through the new producer.
    expect(producer.metrics()).toMatchObject({ delivered: 1, failed: 3 });
  });

  it('keeps its producer on errors that are not fatal (a refused write is the caller’s to count)', async () => {
    const only = scriptedProducer('only', [new NotEnoughReplicasError('trades')]);
    let created = 0;
    const producer = await createRenewingProducer({
      create: async () => {
        created++;
        return only.producer;
      },
    });
    await expect(producer.send(trade)).rejects.toBeInstanceOf(NotEnoughReplicasError);
    await producer.send(trade);
    await producer.flush();
    expect(created).toBe(1);
    expect(only.state.closed).toBe(false);
  });

  it('says so when a replacement cannot be made, and tries again on the next fatal error', async () => {
    const first = scriptedProducer('first', [fatal(), fatal()]);
    const second = scriptedProducer('second');
    const attempts: string[] = [];
    const renewals: boolean[] = [];
    const producer = await createRenewingProducer({
      create: async () => {
        attempts.push('create');
        if (attempts.length === 1) return first.producer;
        if (attempts.length === 2) throw new Error('brokers unreachable');
        return second.producer;
      },
      onRenew: (e) => renewals.push(e.replaced),
    });
    await producer.send(trade).catch(() => undefined);
    await producer.flush();
    expect(renewals).toEqual([false]);
    await producer.send(trade).catch(() => undefined);
    await producer.flush();
    expect(renewals).toEqual([false, true]);
    await producer.send(trade);
    expect(second.state.delivered).toBe(1);
    await producer.close();
    expect(second.state.closed).toBe(true);
  });
});
