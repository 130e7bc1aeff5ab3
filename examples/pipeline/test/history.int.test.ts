// Tests of the history backfill (KANDLE_HISTORY): the page shows hours of candles soon after it appears, via Kafka.
import { fileURLToPath } from 'node:url';
import { type Candle, createKafkaAdmin, type KafkaAdmin } from '@kandle/core';
import { type Browser, chromium, type Page } from 'playwright-core';
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
async function startDefaultJob(source: 'synthetic' | 'replay', extra: Record<string, string> = {}) {
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
  const pipeline = await startPipeline({
    ...config,
    kafkaBrokers: inject('kafkaBrokers'),
    schemaRegistryUrl: inject('schemaRegistryUrl'),
    log: () => {},
  });
  return { pipeline, urlAt: Date.now(), config };
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
