// Tests of the history backfill (KANDLE_HISTORY): the page shows hours of candles soon after it appears, via Kafka (synthetic, replay, Bitfinex REST history from the fake).
import { fileURLToPath } from 'node:url';
import {
  type BackfillResult,
  type BitfinexWsSource,
  type Candle,
  createKafkaAdmin,
  type KafkaAdmin,
} from '@kandle/core';
import { type Browser, chromium, type Page } from 'playwright-core';
import { type FakeBitfinex, startFakeBitfinex } from '@kandle/local-stack';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { uniqueName, waitFor } from '../../../test/support/cluster';
import { loadConfig } from '../src/config';
import { type RunningPipeline, startPipeline } from '../src/pipeline';

/** What the page exposes as `window.kandle` (public/app.js), the part this file reads. */
interface KandlePage {
  kandle: { bars(): Array<{ time: number }>; ready(): boolean };
}

const HOUR_MS = 3_600_000;
/** The promise: within 30 s of the URL appearing, at least an hour of 1m candles. */
const PROMISED_WITHIN_MS = 30_000;

let browser: Browser;
let admin: KafkaAdmin;

beforeAll(async () => {
  admin = await createKafkaAdmin({ brokers: inject('kafkaBrokers') });
  browser = await chromium.launch({
    executablePath: process.env.KANDLE_CHROMIUM ?? '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update'],
  });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await admin?.close();
});

/** Starts the main job with the default KANDLE_HISTORY (6 h) and every other default but the names. */
async function startDefaultJob(source: 'synthetic' | 'replay' | 'bitfinex', extra: Record<string, string> = {}) {
  const group = uniqueName(`history-${source}`);
  const config = loadConfig({
    KAFKA_BROKERS: inject('kafkaBrokers'),
    SCHEMA_REGISTRY_URL: inject('schemaRegistryUrl'),
    KANDLE_SOURCE: source,
    KANDLE_TICKERS_TOPIC: `${group}-tickers`,
    KANDLE_TRADES_TOPIC: `${group}-trades`,
    KANDLE_GROUP: group,
    KANDLE_PORT: '0',
    ...extra,
  });
  const pipeline = await startJob(config);
  return { pipeline, urlAt: Date.now(), config };
}

function startJob(config: ReturnType<typeof loadConfig>): Promise<RunningPipeline> {
  return startPipeline({
    ...config,
    kafkaBrokers: inject('kafkaBrokers'),
    schemaRegistryUrl: inject('schemaRegistryUrl'),
    log: () => {},
  });
}

/** Opens the 1m tBTCUSD chart and waits (bounded by the promise's deadline) for an hour of candles on it. */
async function hourOnChart(page: Page, url: string, deadline: number): Promise<number> {
  await page.goto(`${url}?symbol=tBTCUSD&interval=1m&source=trade`);
  await page.waitForFunction(
    () => {
      const { kandle } = window as unknown as KandlePage;
      return kandle.ready() && kandle.bars().length >= 60;
    },
    undefined,
    {
      timeout: Math.max(1, deadline - Date.now()),
      polling: 250,
    },
  );
  return page.evaluate(() => (window as unknown as KandlePage).kandle.bars().length);
}

describe('KANDLE_HISTORY backfill', () => {
  let pipeline: RunningPipeline | undefined;
  afterAll(async () => {
    await pipeline?.stop();
  });

  it('synthetic: the 1m tBTCUSD chart shows an hour of candles within 30 s of the URL, built from Kafka records', async () => {
    const started = await startDefaultJob('synthetic');
    pipeline = started.pipeline;
    expect(started.config.historyMs).toBe(6 * HOUR_MS);
    const page = await browser.newPage({ viewport: { width: 1500, height: 820 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    const shown = await hourOnChart(page, pipeline.url, started.urlAt + PROMISED_WITHIN_MS);
    const seconds = ((Date.now() - started.urlAt) / 1000).toFixed(1);
    process.stderr.write(`[history] ${shown} 1m tBTCUSD candles on the page ${seconds} s after the URL appeared\n`);
    expect(shown).toBeGreaterThanOrEqual(60);

    // The candles are the consumers' (through Kafka), not the page's: the page draws the store the group fills,
    // and the records on the topic carry their event times, the oldest about six hours back.
    const bars = await page.evaluate(() => (window as unknown as KandlePage).kandle.bars());
    const stored = pipeline.store.series('tBTCUSD', '1m', 'trade');
    expect(bars.map((b) => b.time)).toEqual(stored.slice(0, bars.length).map((c: Candle) => c.start / 1000));
    const oldest = (bars[0]?.time ?? 0) * 1000;
    expect(oldest).toBeLessThan(started.urlAt - HOUR_MS);
    expect(oldest).toBeGreaterThanOrEqual(started.urlAt - 6 * HOUR_MS - 60_000);
    const consumed = pipeline.consumers.reduce((sum, c) => sum + c.stats().trades, 0);
    expect(consumed).toBeGreaterThan(60 * 8);
    expect(errors).toEqual([]);
    if (process.env.KANDLE_SCREENSHOT === '1') {
      // For the README: the whole six hours drawn.
      await page.waitForFunction(() => (window as unknown as KandlePage).kandle.bars().length >= 360, undefined, {
        timeout: 120_000,
      });
      await page.screenshot({ path: fileURLToPath(new URL('../../../docs/live-page-history.png', import.meta.url)) });
    }
    await page.close();
  });

  it('synthetic: every backfilled and live trade ends up in a candle (nothing dropped as late)', async () => {
    const live = pipeline as RunningPipeline;
    const symbols = loadConfig({}).symbols;
    // Live candles follow the history: a bucket of the last two minutes appears.
    await waitFor(
      'a live 1m candle',
      () => (live.store.last('tBTCUSD', '1m', 'trade')?.start ?? 0) >= Date.now() - 120_000,
    );
    await live.source.stop();
    await live.producer.flush();
    const emitted = live.source.stats().trades;
    expect(emitted).toBeGreaterThan(6 * 3600 * 2 * 0.5); // 6 h at 2 events/s, three quarters of them trades
    // A record the aggregator dropped as late would be missing from every candle's count.
    const folded = () =>
      symbols.reduce(
        (sum, symbol) => sum + live.store.series(symbol, '1m', 'trade').reduce((n, c: Candle) => n + c.count, 0),
        0,
      );
    await waitFor(`${emitted} trades folded into 1m candles`, () => folded() === emitted, 120_000);
    expect(folded()).toBe(emitted);
  });

  it('replay: the clock starts 6 h back, so the same chart shows an hour of candles within 30 s of the URL', async () => {
    const started = await startDefaultJob('replay');
    try {
      const page = await browser.newPage();
      const shown = await hourOnChart(page, started.pipeline.url, started.urlAt + PROMISED_WITHIN_MS);
      const seconds = ((Date.now() - started.urlAt) / 1000).toFixed(1);
      process.stderr.write(`[history] replay: ${shown} 1m tBTCUSD candles ${seconds} s after the URL appeared\n`);
      expect(shown).toBeGreaterThanOrEqual(60);
      const oldest = started.pipeline.store.series('tBTCUSD', '1m', 'trade')[0]?.start ?? 0;
      expect(oldest).toBeLessThan(started.urlAt - 5 * HOUR_MS);
      await page.close();
    } finally {
      await started.pipeline.stop();
    }
  });
});

describe('KANDLE_SOURCE=bitfinex: backfill from the REST trades history (the fake Bitfinex)', () => {
  let fake: FakeBitfinex;
  let started: Awaited<ReturnType<typeof startDefaultJob>> | undefined;
  /** Ids of the trades this test pushes, above every seeded one. */
  let nextId = 9_000_000_000;
  beforeAll(async () => {
    // Six hours of seeded trades behind the REST history endpoints; live trades only when the test pushes them.
    fake = await startFakeBitfinex({ history: { durationMs: 6 * HOUR_MS } });
  });
  afterAll(async () => {
    await started?.pipeline.stop();
    await fake?.close();
  });

  /** What the WebSocket source's backfill delivered (the pipeline's source is a BitfinexWsSource). */
  const backfillOf = (pipeline: RunningPipeline) => (pipeline.source as BitfinexWsSource).backfilled();
  /** The fake's trades of every symbol with `from < MTS ≤ to` (or `from ≤ MTS` when `inclusive`). */
  const fakeTrades = (symbols: readonly string[], from: number, to: number, inclusive = false) =>
    symbols.reduce(
      (n, symbol) =>
        n +
        fake
          .tradeHistory(symbol)
          .filter((t) => ((t[1] as number) > from || (inclusive && t[1] === from)) && (t[1] as number) <= to).length,
      0,
    );

  it('the 1m tBTCUSD chart shows an hour of candles within 30 s of the URL, from trades fetched page by page and sent through Kafka', async () => {
    started = await startDefaultJob('bitfinex', { KANDLE_BITFINEX_URL: fake.url });
    const { pipeline, urlAt, config } = started;
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    const shown = await hourOnChart(page, pipeline.url, urlAt + PROMISED_WITHIN_MS);
    const seconds = ((Date.now() - urlAt) / 1000).toFixed(1);
    process.stderr.write(`[history] bitfinex: ${shown} 1m tBTCUSD candles ${seconds} s after the URL appeared\n`);
    expect(shown).toBeGreaterThanOrEqual(60);

    const result = (await backfillOf(pipeline)) as BackfillResult;
    // Every trade the fake has in the backfilled range went out, one request per symbol (pages of 10 000), and one
    // more per symbol if the first round was slow enough (over 5 s) for a catch-up round.
    expect(result.emitted).toBe(fakeTrades(config.symbols, result.from, result.to, true));
    expect(result.emitted).toBeGreaterThan(6 * 3600);
    expect([config.symbols.length, 2 * config.symbols.length]).toContain(result.requests);
    // The candles are the consumers' (through Kafka): the oldest about six hours back, like the fake's past.
    const oldest = pipeline.store.series('tBTCUSD', '1m', 'trade')[0]?.start ?? 0;
    expect(oldest).toBeLessThan(urlAt - 5 * HOUR_MS);
    // Then live: a trade on the WebSocket follows the history into the same candles.
    await fake.waitFor(() => fake.subscriptions.length === 2 * config.symbols.length, 60_000);
    fake.pushTrade('tBTCUSD', [nextId++, Date.now(), 0.1, 96_000]);
    await waitFor('the live trade', () => pipeline.source.stats().trades === result.emitted + 1);
    expect(errors).toEqual([]);
    await page.close();
  });

  it('a restart resumes after the newest trade on the trades topic: only the trades since then are fetched and sent', async () => {
    const first = started as NonNullable<typeof started>;
    const firstRun = (await backfillOf(first.pipeline)) as BackfillResult;
    await first.pipeline.stop();
    started = undefined;
    // Trades while the job is down: the ones the restart must fetch, and only those.
    const downAt = Date.now();
    for (let i = 0; i < 12; i++)
      fake.pushTrade(first.config.symbols[i % 3] as string, [nextId++, downAt + i, 0.2, 100]);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const pipeline = await startJob(first.config);
    started = { ...first, pipeline };
    const resumed = (await backfillOf(pipeline)) as BackfillResult;
    // It resumed at the live trade of the first run (the newest record on the topic), not six hours back.
    expect(resumed.from).toBeGreaterThan(firstRun.to);
    expect(resumed.from).toBeLessThan(downAt);
    expect(resumed.emitted).toBe(12);
    expect(fakeTrades(first.config.symbols, resumed.from, resumed.to)).toBe(12);
    // Nothing sent twice: the trades topic holds the first run's records plus these twelve.
    await pipeline.producer.flush();
    const partitions = await admin.groupLag(first.config.groupId, first.config.topics.trades);
    const records = partitions.reduce((n, p) => n + p.end, 0); // a new topic: every log starts at 0
    expect(records).toBe(firstRun.emitted + 1 + 12);
  });
});
