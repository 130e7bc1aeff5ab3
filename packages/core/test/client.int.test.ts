// The shared client on the real cluster: one admin for everything made from it, candles end to end, close() closes all.
import { readdirSync } from 'node:fs';
import { afterAll, describe, expect, inject, it } from 'vitest';
import {
  type CandleUpdate,
  ConfigError,
  createCandleConsumer,
  createKandle,
  generateSyntheticEvents,
  type Kandle,
  type Trade,
} from '../src/index';
import { uniqueName } from '../../../test/support/cluster';

const brokers = inject('kafkaBrokers');
const registryUrl = inject('schemaRegistryUrl');
const opened: Kandle[] = [];
afterAll(async () => {
  await Promise.all(opened.map((k) => k.close()));
});

/** OS threads of this process: every librdkafka handle (consumer, producer, admin) starts several of its own. */
const threads = () => readdirSync('/proc/self/task').length;

function kandle(): Kandle {
  const k = createKandle({ connection: { brokers }, registry: { url: registryUrl } });
  opened.push(k);
  return k;
}

describe('createKandle', () => {
  it('refuses a malformed connection at once, before connecting anything', () => {
    expect(() => createKandle({ connection: { brokers: 'not a broker' } })).toThrow(ConfigError);
  });

  it('turns trades into candles with a producer and two consumers sharing its admin and registry', async () => {
    const k = kandle();
    const topics = { tickers: uniqueName('kc-tickers'), trades: uniqueName('kc-trades') };
    const admin = await k.admin();
    expect(await k.admin()).toBe(admin);
    await admin.ensureTopic({ name: topics.tickers, partitions: 2 });
    await admin.ensureTopic({ name: topics.trades, partitions: 2 });
    const producer = await k.producer({ topics });
    const updates: CandleUpdate[] = [];
    const groupId = uniqueName('kc-group');
    const member = (clientId: string) =>
      k.consumer({
        groupId,
        clientId,
        topics,
        intervals: ['1m'],
        commitIntervalMs: 100,
        onCandles: (u) => {
          updates.push(...u);
        },
      });
    const [first, second] = await Promise.all([member('kc-1'), member('kc-2')]);
    const trades = generateSyntheticEvents({ count: 400, startTime: Date.UTC(2026, 0, 1), seed: 5 }).flatMap((e) =>
      e.kind === 'trade' ? [e.trade] : [],
    );
    await Promise.all(trades.map((t) => producer.sendTrade(t)));
    // Every trade folded once: the newest version of each 1m candle counts them all.
    const counted = () => {
      const latest = new Map<string, number>();
      for (const u of updates) latest.set(`${u.candle.symbol}|${u.candle.start}`, u.candle.count);
      return [...latest.values()].reduce((n, c) => n + c, 0);
    };
    await expect.poll(counted, { timeout: 60_000, interval: 200 }).toBe(trades.length);
    expect(first.stats().trades + second.stats().trades).toBe(trades.length);

    // A member's close() leaves the shared admin open for the others.
    await first.close();
    expect(await admin.listTopics()).toContain(topics.trades);
    await admin.close(); // a borrower's close does nothing either
    expect(await admin.listTopics()).toContain(topics.trades);

    // The client's close() closes what is still open, then the admin.
    await k.close();
    await expect(producer.sendTrade(trades[0] as Trade)).rejects.toMatchObject({ code: 'CLIENT_CLOSED' });
    await expect(k.admin()).rejects.toMatchObject({ code: 'CLIENT_CLOSED' });
    await expect(k.producer()).rejects.toMatchObject({ code: 'CLIENT_CLOSED' });
  }, 180_000);

  it('a consumer from the client opens no admin of its own; a standalone one does', async () => {
    const k = kandle();
    const topics = { tickers: uniqueName('kt-tickers'), trades: uniqueName('kt-trades') };
    const admin = await k.admin();
    await admin.ensureTopic({ name: topics.tickers, partitions: 1 });
    await admin.ensureTopic({ name: topics.trades, partitions: 1 });
    const options = { topics, intervals: ['1m' as const] };
    // Warm-up: the first consumer of the process also loads the native client and the registry's schemas.
    const warm = await k.consumer({ ...options, groupId: uniqueName('kt-warm') });
    await warm.close();

    const before = threads();
    const shared = await k.consumer({ ...options, groupId: uniqueName('kt-shared') });
    const sharedThreads = threads() - before;
    const between = threads();
    const standalone = await createCandleConsumer({
      ...options,
      connection: { brokers },
      registry: { url: registryUrl },
      groupId: uniqueName('kt-alone'),
    });
    const standaloneThreads = threads() - between;
    process.stderr.write(`[client] threads added: shared ${sharedThreads}, standalone ${standaloneThreads}\n`);
    // The standalone one also started an admin (librdkafka threads of its own); the shared one did not.
    expect(standaloneThreads).toBeGreaterThan(sharedThreads);
    await Promise.all([shared.close(), standalone.close()]);
  }, 180_000);
});
