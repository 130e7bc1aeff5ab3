// Tests of the whole main job through a headless browser: real brokers, registry, two group members, the live page.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  bucketStart,
  type Candle,
  type CandleInterval,
  type CandleSource,
  createCryptoProducer,
  createKafkaAdmin,
  generateSyntheticEvents,
  type KafkaAdmin,
  parseInterval,
  partitionForKey,
} from '@kandle/core';
import { startFakeBitfinex } from '@kandle/local-stack';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { testCluster, uniqueName, waitFor } from '../../../test/support/cluster';
import { loadConfig } from '../src/config';
import { type RunningPipeline, startPipeline, whenTopicsVisible } from '../src/pipeline';
import { resolveStack } from '../src/stack';

const SYMBOLS = ['tBTCUSD', 'tETHUSD', 'tSOLUSD', 'tXRPUSD'];
const INTERVALS: CandleInterval[] = ['5s', '1m'];
/** Five minutes of market before the pipeline starts, so the chart has a history read from `earliest`. */
const HISTORY_EVENTS = 6000;
const SCREENSHOT = fileURLToPath(new URL('../../../docs/live-page.png', import.meta.url));

/** What the page exposes as `window.kandle` (public/app.js). */
interface Bar {
  time: number;
  open: number;
  high: number;
  low: number;
  close: number;
}
declare global {
  interface Window {
    kandle: {
      lastCandle(): Bar | undefined;
      bars(): Bar[];
      selection(): { symbol: string; interval: string; source: string };
      ready(): boolean;
    };
  }
}

const toBar = (c: Candle): Bar => ({ time: c.start / 1000, open: c.open, high: c.high, low: c.low, close: c.close });

let pipeline: RunningPipeline;
let admin: KafkaAdmin;
let browser: Browser;
let page: Page;
const pageErrors: string[] = [];
let groupId: string;
let topics: { tickers: string; trades: string };

/** The newest candle of a series as the group's members hold it (each partition is owned by one member). */
function consumerCandle(symbol: string, interval: CandleInterval, source: CandleSource): Candle | undefined {
  return pipeline.consumers
    .flatMap((c) => c.candles(symbol, interval))
    .filter((c) => c.source === source)
    .sort((a, b) => a.start - b.start)
    .at(-1);
}

const chartLast = () => page.evaluate(() => window.kandle.lastCandle());

async function select(symbol: string, interval: CandleInterval): Promise<void> {
  await page.selectOption('#symbol', symbol);
  await page.selectOption('#interval', interval);
  await page.waitForFunction(
    ([s, i]) =>
      window.kandle.ready() && window.kandle.selection().symbol === s && window.kandle.selection().interval === i,
    [symbol, interval] as const,
  );
}

/** GET with the path sent verbatim (fetch would resolve `..` before sending). */
function rawGet(url: string, path: string): Promise<{ status: number; body: string }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    request({ host: hostname, port, path }, (response) => {
      let body = '';
      response.on('data', (chunk) => (body += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
    })
      .on('error', reject)
      .end();
  });
}

beforeAll(async () => {
  const brokers = inject('kafkaBrokers');
  const registryUrl = inject('schemaRegistryUrl');
  groupId = uniqueName('page');
  topics = { tickers: `${groupId}-tickers`, trades: `${groupId}-trades` };
  const config = loadConfig({
    KAFKA_BROKERS: brokers,
    SCHEMA_REGISTRY_URL: registryUrl,
    KANDLE_SOURCE: 'synthetic',
    KANDLE_SPEED: '3',
    // This file produces its own history before the job starts; the job's backfill is history.int.test.ts's.
    KANDLE_HISTORY: '0',
    KANDLE_SYMBOLS: SYMBOLS.join(','),
    KANDLE_INTERVALS: INTERVALS.join(','),
    KANDLE_TICKERS_TOPIC: topics.tickers,
    KANDLE_TRADES_TOPIC: topics.trades,
    KANDLE_GROUP: groupId,
    KANDLE_PORT: '0',
  });

  // History first, through a separate producer, onto the topics exactly as the pipeline wants them.
  admin = await createKafkaAdmin({ brokers });
  for (const name of [topics.tickers, topics.trades])
    await admin.ensureTopic({ name, partitions: 2, replicationFactor: 3, minInsyncReplicas: 2 });
  const history = generateSyntheticEvents({
    count: HISTORY_EVENTS,
    symbols: SYMBOLS,
    seed: 7,
    startTime: Date.now() - (HISTORY_EVENTS / 20) * 1000,
  });
  const producer = await whenTopicsVisible(() =>
    createCryptoProducer({ connection: { brokers }, registry: { url: registryUrl }, topics }),
  );
  await Promise.all(history.map((event) => producer.send(event)));
  await producer.close();

  pipeline = await startPipeline({
    ...config,
    kafkaBrokers: brokers,
    schemaRegistryUrl: registryUrl,
    kafkaRefreshMs: 1000,
    log: () => {},
  });
  await Promise.all(pipeline.consumers.map((c) => c.waitForAssignment(60_000)));
  browser = await chromium.launch({
    executablePath: process.env.KANDLE_CHROMIUM ?? '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update'],
  });
  page = await browser.newPage({ viewport: { width: 1500, height: 820 } });
  page.on('pageerror', (e) => pageErrors.push(e.message));
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await pipeline?.stop();
  await admin?.close();
});

describe('the live page of examples/pipeline', () => {
  it('loads, draws the selected series from history and live data, with no script errors', async () => {
    await page.goto(`${pipeline.url}?symbol=tBTCUSD&interval=5s`);
    await page.waitForFunction(() => window.kandle.ready() && (window.kandle.bars().length ?? 0) > 30);
    expect(await page.evaluate(() => window.kandle.selection())).toEqual({
      symbol: 'tBTCUSD',
      interval: '5s',
      source: 'trade',
    });
    expect(await page.inputValue('#symbol')).toBe('tBTCUSD');
    // Live: the newest bar is from the last few seconds, not from the history.
    await waitFor('a live bar', async () => {
      const last = await chartLast();
      return last && Date.now() / 1000 - last.time < 15;
    });
    await waitFor('the Kafka view with rates', () =>
      page.evaluate(() => Number(document.querySelector('#rates dd')?.textContent?.split(' ')[0]) > 0),
    );
    if (process.env.KANDLE_SCREENSHOT === '1') await page.screenshot({ path: SCREENSHOT });
    expect(pageErrors).toEqual([]);
  });

  it("shows exactly the consumers' candles once the feed stops, for each picked symbol and interval", async () => {
    await pipeline.source.stop();
    await pipeline.producer.flush();
    for (const [symbol, interval] of [
      ['tETHUSD', '5s'],
      ['tETHUSD', '1m'],
      ['tXRPUSD', '5s'],
    ] as const) {
      await select(symbol, interval);
      // The consumers may still be reading the last records; wait until chart and consumers agree and stay put.
      const agreed = await waitFor(`${symbol} ${interval} chart = consumer`, async () => {
        const expected = consumerCandle(symbol, interval, 'trade');
        const actual = await chartLast();
        return expected && JSON.stringify(actual) === JSON.stringify(toBar(expected)) && actual;
      });
      await new Promise((r) => setTimeout(r, 1500));
      const expected = consumerCandle(symbol, interval, 'trade') as Candle;
      expect(await chartLast()).toEqual(toBar(expected));
      expect(agreed).toEqual(toBar(expected));
      // The whole drawn series is the one the pipeline kept, candle for candle.
      const drawn = await page.evaluate(() => window.kandle.bars());
      expect(drawn.map(({ time, open, high, low, close }) => ({ time, open, high, low, close }))).toEqual(
        pipeline.store.series(symbol, interval, 'trade').map(toBar),
      );
    }
  });

  it('moves the last candle when a new trade arrives, and files the symbol under its key-hash partition', async () => {
    await select('tETHUSD', '5s');
    const before = (await chartLast()) as Bar;
    const price = Math.round(before.high * 1.02);
    const time = Date.now();
    const report = await pipeline.producer.sendTrade({
      id: 9_000_000_001,
      symbol: 'tETHUSD',
      time,
      amount: 0.5,
      price,
    });
    const after = await waitFor('the chart to show the new trade', async () => {
      const last = await chartLast();
      return last?.close === price && last;
    });
    expect(after.time).toBe(bucketStart(time, parseInterval('5s')) / 1000);
    expect(after.high).toBe(price);
    expect(after).toEqual(toBar(consumerCandle('tETHUSD', '5s', 'trade') as Candle));

    expect(report.partition).toBe(partitionForKey('tETHUSD', 2));
    const symbolsOnPartition = await page.getAttribute(
      `tr[data-topic="${topics.trades}"][data-partition="${report.partition}"]`,
      'data-symbols',
    );
    expect(symbolsOnPartition?.split(',')).toContain('tETHUSD');
  });

  it('shows the real partitions, leaders, ISR and member assignments', async () => {
    const group = await admin.describeGroup(groupId);
    expect(group.members).toHaveLength(2);
    const label = (tp: { topic: string; partition: number }) => `${tp.topic}[${tp.partition}]`;
    const coordinatorView = Object.fromEntries(group.members.map((m) => [m.clientId, m.assignment.map(label)]));
    const consumersView = Object.fromEntries(
      pipeline.consumers.map((c) => [c.clientId, c.assignment().map(label).sort()]),
    );
    expect(Object.keys(coordinatorView).sort()).toEqual([`${groupId}-1`, `${groupId}-2`]);
    for (const [clientId, partitions] of Object.entries(coordinatorView))
      expect([...partitions].sort()).toEqual(consumersView[clientId]);

    const expectedPartitions: Record<string, { leader: string; isr: string; member: string }> = {};
    for (const topic of [topics.tickers, topics.trades])
      for (const p of await admin.describeTopic(topic))
        expectedPartitions[`${topic}[${p.partition}]`] = {
          leader: String(p.leader),
          isr: p.isr.join(','),
          member: group.members.find((m) => m.assignment.some((tp) => label(tp) === `${topic}[${p.partition}]`))
            ?.clientId as string,
        };
    expect(Object.keys(expectedPartitions)).toHaveLength(4);

    const readPage = () =>
      page.evaluate(() => ({
        partitions: Object.fromEntries(
          Array.from(document.querySelectorAll<HTMLElement>('tr[data-topic]')).map((row) => [
            `${row.dataset.topic}[${row.dataset.partition}]`,
            { leader: row.dataset.leader, isr: row.dataset.isr, member: row.dataset.member },
          ]),
        ),
        members: Object.fromEntries(
          Array.from(document.querySelectorAll<HTMLElement>('tr[data-client-id]')).map((row) => [
            row.dataset.clientId,
            row.dataset.partitions?.split(',') ?? [],
          ]),
        ),
      }));
    const shown = await waitFor('the Kafka view to show both members', async () => {
      const view = await readPage();
      return Object.keys(view.members).length === 2 && view;
    });
    expect(shown.partitions).toEqual(expectedPartitions);
    expect(shown.members).toEqual(coordinatorView);
  });

  it('answers bad requests with clear errors and serves nothing outside public/', async () => {
    const unknown = await fetch(new URL('/api/candles?symbol=tNOPE&interval=5s', pipeline.url));
    expect(unknown.status).toBe(400);
    expect((await unknown.json()).error).toMatch(/unknown symbol "tNOPE"/);
    expect((await fetch(new URL('/api/candles?symbol=tBTCUSD&interval=7m', pipeline.url))).status).toBe(400);
    const traversal = await rawGet(pipeline.url, '/../src/config.ts');
    expect(traversal.status).toBe(404);
    expect(traversal.body).not.toContain('loadConfig');
    expect((await rawGet(pipeline.url, '/%2e%2e/src/config.ts')).status).toBe(404);
    expect((await fetch(new URL('/vendor/lightweight-charts.js', pipeline.url))).status).toBe(200);
    expect((await fetch(pipeline.url, { method: 'POST' })).status).toBe(405);
  });
});

describe('resolveStack without KAFKA_BROKERS', () => {
  // auto finds the JVM stack before it would ask Docker; jvm never asks Docker at all.
  it.each(['auto', 'jvm'])('KANDLE_STACK=%s reuses a healthy stack recorded by npm run stack:up', async (mode) => {
    const stackFile = join(mkdtempSync(join(tmpdir(), 'kandle-stack-')), 'stack.json');
    // The test cluster stands in for the stack; this process's pid stands in for the registry JVM (it is alive).
    const record = {
      kafka: { dir: inject('kafkaClusterDir'), bootstrapServers: inject('kafkaBrokers') },
      registry: { url: inject('schemaRegistryUrl'), pid: process.pid },
    };
    writeFileSync(stackFile, JSON.stringify(record));
    const stack = await resolveStack(loadConfig({ KANDLE_STACK: mode }), { stackFile, log: () => {} });
    expect(stack).toMatchObject({
      origin: 'stack',
      stopNotice: undefined,
      brokers: inject('kafkaBrokers'),
      registryUrl: inject('schemaRegistryUrl'),
    });
    expect(stack.brokerControl).toBeUndefined(); // the fault lab never gets a stack it did not start
    await stack.stop(); // must not stop the shared cluster: the next test would fail if it did
    expect(testCluster().brokers.every((b) => testCluster().isRunning(b.id))).toBe(true);
  });
});

describe('KANDLE_SOURCE=bitfinex', () => {
  it('turns the Bitfinex WebSocket feed into candles (against the loopback fake server)', async () => {
    const fake = await startFakeBitfinex({ symbols: ['tBTCUSD', 'tETHUSD'], autoFeed: { ratePerSecond: 40 } });
    const group = uniqueName('bfx');
    const config = loadConfig({
      KAFKA_BROKERS: inject('kafkaBrokers'),
      SCHEMA_REGISTRY_URL: inject('schemaRegistryUrl'),
      KANDLE_SOURCE: 'bitfinex',
      KANDLE_BITFINEX_URL: fake.url,
      // The live feed alone (the REST backfill has its own test in history.int.test.ts).
      KANDLE_HISTORY: '0',
      KANDLE_SYMBOLS: 'tBTCUSD,tETHUSD',
      KANDLE_INTERVALS: '5s',
      KANDLE_TICKERS_TOPIC: `${group}-tickers`,
      KANDLE_TRADES_TOPIC: `${group}-trades`,
      KANDLE_GROUP: group,
      KANDLE_PORT: '0',
    });
    const bitfinex = await startPipeline({
      ...config,
      kafkaBrokers: inject('kafkaBrokers'),
      schemaRegistryUrl: inject('schemaRegistryUrl'),
      log: () => {},
    });
    try {
      // start() resolves once connected; the subscriptions follow the server's greeting.
      await fake.waitFor(() => fake.subscriptions.length === 4, 10_000);
      expect(fake.subscriptions.map((s) => `${s.channel}:${s.symbol}`).sort()).toEqual([
        'ticker:tBTCUSD',
        'ticker:tETHUSD',
        'trades:tBTCUSD',
        'trades:tETHUSD',
      ]);
      for (const source of ['trade', 'ticker'] as const)
        await waitFor(`a tETHUSD ${source} candle`, () => bitfinex.store.last('tETHUSD', '5s', source));
      const served = await (await fetch(new URL('/api/candles?symbol=tETHUSD&interval=5s', bitfinex.url))).json();
      expect(served.length).toBeGreaterThan(0);
    } finally {
      await bitfinex.stop();
      await fake.close();
    }
  });
});
