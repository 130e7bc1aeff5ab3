// Registry outage on the real cluster: the registry refuses connections for 30 s while a producer writes and a consumer meets schema ids it has never seen.
import { createServer, type Server, type Socket, connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  type Candle,
  createCandleAggregator,
  createCandleConsumer,
  createCryptoProducer,
  createKafkaAdmin,
  generateSyntheticEvents,
  type KafkaAdmin,
  type KandleError,
  RegistryUnreachableError,
} from '../src/index';
import { uniqueName, waitFor } from '../../../test/support/cluster';

const brokers = inject('kafkaBrokers');
const registryUrl = new URL(inject('schemaRegistryUrl'));
let admin: KafkaAdmin;

/**
 * A loopback TCP relay in front of the registry that can refuse connections and cut open ones, like a registry
 * that went down, and come back on the same port with its schemas (an in-memory registry restarted would not).
 */
function registryRelay() {
  let server: Server | null = null;
  const sockets = new Set<Socket>();
  let port = 0;
  const listen = () =>
    new Promise<void>((resolve) => {
      server = createServer((client) => {
        const upstream = connect(Number(registryUrl.port), registryUrl.hostname);
        for (const s of [client, upstream]) {
          sockets.add(s);
          s.on('close', () => sockets.delete(s));
          s.on('error', () => s.destroy());
        }
        client.pipe(upstream).pipe(client);
      });
      const listening = server;
      listening.listen(port, '127.0.0.1', () => {
        port = (listening.address() as { port: number }).port;
        resolve();
      });
    });
  return {
    url: () => `http://127.0.0.1:${port}${registryUrl.pathname}`,
    start: listen,
    stop: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server ? server.close(() => resolve()) : resolve();
        server = null;
      }),
  };
}

beforeAll(async () => {
  admin = await createKafkaAdmin({ brokers });
});
afterAll(async () => {
  await admin.close();
});

describe('schema registry outage (30 s, connections refused)', () => {
  it('the producer keeps writing, the consumer waits and then decodes every record: nothing dead-lettered or lost', async () => {
    const relay = registryRelay();
    await relay.start();
    const topics = { tickers: uniqueName('tickers'), trades: uniqueName('trades') };
    for (const name of Object.values(topics)) await admin.ensureTopic({ name, partitions: 2 });
    const events = generateSyntheticEvents({
      count: 1200,
      startTime: Date.UTC(2026, 0, 1),
      seed: 5,
      ratePerSecond: 1,
      symbols: ['tBTCUSD', 'tETHUSD'],
    });
    // Registers both schemas now; records are then encoded with the cached ids, no registry call per record.
    const producer = await createCryptoProducer({ connection: { brokers }, registry: { url: relay.url() }, topics });
    const warnings: KandleError[] = [];
    const closed = new Map<string, Candle>();
    const consumer = await createCandleConsumer({
      connection: { brokers },
      registry: { url: relay.url() },
      groupId: uniqueName('registry-outage'),
      topics,
      intervals: ['1m'],
      onWarning: (e) => warnings.push(e),
      onCandles: (updates) => {
        for (const u of updates)
          if (u.kind !== 'progress') closed.set(`${u.candle.symbol}|${u.candle.source}|${u.candle.start}`, u.candle);
      },
    });
    await consumer.waitForAssignment();

    // The registry goes away before the consumer has seen a single schema id.
    await relay.stop();
    const outageStarted = Date.now();
    const sent = await Promise.allSettled(events.map((e) => producer.send(e)));
    expect(sent.filter((s) => s.status === 'rejected')).toEqual([]);
    // A client created during the outage fails fast with the typed error.
    const late = await createCryptoProducer({ connection: { brokers }, registry: { url: relay.url() }, topics }).catch(
      (e: unknown) => e,
    );
    expect(late).toBeInstanceOf(RegistryUnreachableError);
    await waitFor('the consumer to report the registry unreachable', () =>
      warnings.some((w) => w.code === 'REGISTRY_UNREACHABLE'),
    );
    await new Promise((r) => setTimeout(r, Math.max(0, 30_000 - (Date.now() - outageStarted))));
    expect(consumer.stats().trades + consumer.stats().tickers).toBe(0);
    expect(consumer.stats().poison).toBe(0);

    await relay.start();
    await waitFor(
      'every record decoded after the registry came back',
      () => consumer.stats().records >= events.length,
      90_000,
    );
    const reference = createCandleAggregator({ intervals: ['1m'], gracePeriodMs: 5000 });
    const expected = new Map<string, Candle>();
    for (const e of events)
      for (const u of e.kind === 'ticker' ? reference.addTicker(e.ticker) : reference.addTrade(e.trade))
        if (u.kind === 'closed') expected.set(`${u.candle.symbol}|${u.candle.source}|${u.candle.start}`, u.candle);
    await waitFor('every closed candle', () => closed.size >= expected.size, 30_000).catch(() => undefined);
    expect(consumer.stats().poison).toBe(0);
    expect(expected.size).toBeGreaterThan(20);
    expect(new Map([...closed].sort())).toEqual(new Map([...expected].sort()));
    await consumer.close();
    await producer.close();
    await relay.stop();
  }, 240_000);
});
