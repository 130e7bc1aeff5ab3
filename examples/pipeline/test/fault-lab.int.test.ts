// Tests of the page's fault lab through a headless browser, on a 3-broker cluster this file starts (and may stop).
import { fileURLToPath } from 'node:url';
import { createKafkaAdmin, type KafkaAdmin } from '@kandle/core';
import { type KafkaCluster, startKafkaCluster } from '@kandle/local-stack';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { uniqueName, waitFor } from '../../../test/support/cluster';
import { loadConfig } from '../src/config';
import { type RunningPipeline, startPipeline } from '../src/pipeline';

const SYMBOLS = ['tBTCUSD', 'tETHUSD', 'tSOLUSD', 'tXRPUSD'];
const SHOTS = process.env.KANDLE_SCREENSHOT === '1';
const shot = (name: string) => fileURLToPath(new URL(`../../../docs/fault-lab-${name}.png`, import.meta.url));

/** The part of `window.kandle` (public/app.js) this file reads; pipeline.int.test.ts declares the whole of it. */
type PageHooks = { kandle: { lastCandle(): { time: number } | undefined; ready(): boolean } };

// Never the shared cluster of global-setup: this file stops brokers, so it runs on JVMs it started itself.
let cluster: KafkaCluster;
let pipeline: RunningPipeline;
let admin: KafkaAdmin;
let browser: Browser;
let page: Page;
const pageErrors: string[] = [];
let topics: { tickers: string; trades: string };
/** Figures measured in this run, printed at the end for the record. */
const measured: Record<string, unknown> = {};
/** The pipeline's warnings, printed at the end: they say what the producer and consumers went through. */
const warnings: string[] = [];

/** What the page shows, read from its DOM (not from the server). */
const shown = () =>
  page.evaluate(() => ({
    brokers: Object.fromEntries(
      Array.from(document.querySelectorAll<HTMLElement>('#brokers li')).map((li) => [
        li.dataset.broker,
        { state: li.dataset.state ?? '', jvm: li.dataset.jvm ?? '' },
      ]),
    ) as Record<string, { state: string; jvm: string }>,
    partitions: Array.from(document.querySelectorAll<HTMLElement>('tr[data-topic]')).map((row) => ({
      name: `${row.dataset.topic}[${row.dataset.partition}]`,
      leader: Number(row.dataset.leader),
      isr: row.dataset.isr ? row.dataset.isr.split(',').map(Number) : [],
      underReplicated: row.dataset.underReplicated === 'true',
      processed: row.dataset.processed ? Number(row.dataset.processed) : null,
      committed: row.dataset.committed ? Number(row.dataset.committed) : null,
    })),
    writes: Array.from(document.querySelectorAll<HTMLElement>('#writes li')).map((li) => ({
      accepted: li.dataset.accepted === 'true',
      text: li.textContent ?? '',
    })),
    ledger: Object.fromEntries(
      Array.from(document.querySelectorAll<HTMLElement>('#ledger dd')).map((dd) => [
        dd.dataset.count,
        Number((dd.textContent ?? '').replaceAll(',', '')),
      ]),
    ),
    timeline: Array.from(document.querySelectorAll<HTMLElement>('#timeline li')).map((li) => ({
      kind: li.dataset.kind,
      text: li.textContent ?? '',
    })),
    labStatus: document.querySelector('#lab-status')?.textContent ?? '',
  }));

const lastBarTime = async () =>
  (await page.evaluate(() => (window as unknown as PageHooks).kandle.lastCandle()))?.time ?? 0;

/** Clicks a lab button on the page once it is enabled (the lab is idle and the broker in the right state). */
async function clickLab(action: 'kill' | 'stop' | 'start', broker: number, double = false): Promise<number> {
  const selector = `button.lab[data-action="${action}"][data-broker="${broker}"]:not([disabled])`;
  await page.waitForSelector(selector, { timeout: 120_000 });
  const at = Date.now();
  if (double) await page.dblclick(selector);
  else await page.click(selector);
  return at;
}

const faultPost = (query: string, headers: Record<string, string> = { 'x-kandle-fault': '1' }) =>
  fetch(new URL(`/api/fault?${query}`, pipeline.url), { method: 'POST', headers });

beforeAll(async () => {
  cluster = await startKafkaCluster({ brokers: 3, partitions: 2, replicationFactor: 3, minInsyncReplicas: 2 });
  const groupId = uniqueName('lab');
  topics = { tickers: `${groupId}-tickers`, trades: `${groupId}-trades` };
  const config = loadConfig({
    KAFKA_BROKERS: cluster.bootstrapServers,
    SCHEMA_REGISTRY_URL: inject('schemaRegistryUrl'),
    KANDLE_SOURCE: 'synthetic',
    KANDLE_SPEED: '2',
    KANDLE_HISTORY: '0',
    KANDLE_SYMBOLS: SYMBOLS.join(','),
    KANDLE_INTERVALS: '5s,1m',
    KANDLE_TICKERS_TOPIC: topics.tickers,
    KANDLE_TRADES_TOPIC: topics.trades,
    KANDLE_GROUP: groupId,
    KANDLE_PORT: '0',
  });
  pipeline = await startPipeline({
    ...config,
    kafkaBrokers: cluster.bootstrapServers,
    schemaRegistryUrl: inject('schemaRegistryUrl'),
    kafkaRefreshMs: 1000,
    brokerControl: cluster,
    log: () => {},
    warn: (message) => warnings.push(`${new Date().toISOString().slice(11, 23)} ${message}`),
  });
  admin = await createKafkaAdmin({ brokers: cluster.bootstrapServers });
  await Promise.all(pipeline.consumers.map((c) => c.waitForAssignment(90_000)));
  browser = await chromium.launch({
    executablePath: process.env.KANDLE_CHROMIUM ?? '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update'],
  });
  page = await browser.newPage({ viewport: { width: 1500, height: 1100 } });
  page.on('pageerror', (e) => pageErrors.push(e.message));
  await page.goto(`${pipeline.url}?symbol=tBTCUSD&interval=5s`);
  await page.waitForFunction(
    () => {
      const hooks = (window as unknown as PageHooks).kandle;
      return hooks.ready() && hooks.lastCandle() !== undefined;
    },
    null,
    { timeout: 60_000 },
  );
}, 300_000);

afterAll(async () => {
  process.stderr.write(`[fault-lab] measured: ${JSON.stringify(measured)}\n`);
  process.stderr.write(`[fault-lab] ledger: ${JSON.stringify(pipeline?.ledger.view(undefined))}\n`);
  process.stderr.write(`[fault-lab] producer: ${JSON.stringify(pipeline?.producer.metrics())}\n`);
  process.stderr.write(`[fault-lab] warnings (last 40):\n  ${warnings.slice(-40).join('\n  ')}\n`);
  if (page) process.stderr.write(`[fault-lab] timeline: ${JSON.stringify((await shown()).timeline.slice(0, 30))}\n`);
  await browser?.close();
  await pipeline?.stop().catch(() => undefined);
  await admin?.close();
  await cluster?.stop();
});

describe('the fault lab of the live page, on brokers this test started', () => {
  let first: number;
  let second: number;

  it('shows three brokers up, full ISR, writes accepted, and refuses requests without its header', async () => {
    const start = await waitFor('three brokers up and full ISR on the page', async () => {
      const s = await shown();
      const up = Object.values(s.brokers).filter((b) => b.state === 'up' && b.jvm === 'running').length;
      return up === 3 && s.partitions.length === 4 && s.partitions.every((p) => p.isr.length === 3) && s;
    });
    expect(start.writes.map((w) => w.accepted)).toEqual([true, true]);
    // [F] item 5: processed positions come from the members; commits follow them (never ahead).
    const positions = await waitFor('processed and committed positions on every partition', async () => {
      const s = await shown();
      return s.partitions.every((p) => p.processed !== null && p.committed !== null) && s.partitions;
    });
    for (const p of positions) expect(p.processed as number, p.name).toBeGreaterThanOrEqual(p.committed as number);
    expect(start.writes[0]?.text).toContain('writes accepted: 3 of 3 replicas in sync');
    // A cross-site form cannot send the header: no header, no fault.
    const refused = await faultPost('action=kill&broker=1', {});
    expect(refused.status).toBe(403);
    expect(cluster.isRunning(1)).toBe(true);
    expect((await faultPost('action=kill&broker=9')).status).toBe(400);
  });

  it('kill -9 of a leader from the page: within 15 s the view shows it down and the ISR shrunk, candles go on', async () => {
    first = (await shown()).partitions[0]?.leader as number;
    const before = await lastBarTime();
    const clickedAt = await clickLab('kill', first);
    const seen = await waitFor(
      `broker ${first} down and out of every ISR on the page`,
      async () => {
        const s = await shown();
        return (
          s.brokers[first]?.state === 'down' &&
          s.partitions.every((p) => !p.isr.includes(first) && p.underReplicated && p.leader !== first) &&
          s
        );
      },
      15_000,
      200,
    );
    measured.killToShownMs = Date.now() - clickedAt;
    expect(cluster.isRunning(first)).toBe(false);
    expect(seen.writes[0]?.text).toContain('writes accepted: 2 of 3 replicas in sync');
    expect(seen.ledger.lost).toBe(0);
    expect(seen.timeline.some((e) => e.kind === 'broker-down' && e.text.includes(`broker ${first}`))).toBe(true);
    expect(seen.timeline.some((e) => e.kind === 'isr-shrink')).toBe(true);
    // Candles keep flowing with one broker down.
    await waitFor('a newer candle on the chart', async () => (await lastBarTime()) > before, 30_000);
    // And no request of the page waits long while the broker is down.
    let apiKafkaMaxMs = 0;
    for (let i = 0; i < 5; i++) {
      const t = Date.now();
      const response = await fetch(new URL('/api/kafka', pipeline.url));
      expect(response.status).toBe(200);
      apiKafkaMaxMs = Math.max(apiKafkaMaxMs, Date.now() - t);
    }
    measured.apiKafkaMaxMs = apiKafkaMaxMs;
    expect(apiKafkaMaxMs).toBeLessThan(3_000);
    if (SHOTS) await page.screenshot({ path: shot('broker-down'), fullPage: true });
  });

  it('with a second broker stopped, writes are refused (NotEnoughReplicas) and counted, none acknowledged unsafely', async () => {
    second = [1, 2, 3].find((id) => id !== first) as number;
    const clickedAt = await clickLab('stop', second);
    const refusedShown = await waitFor(
      'writes refused on the page',
      async () => {
        const s = await shown();
        return s.writes.every((w) => !w.accepted) && s;
      },
      60_000,
      250,
    );
    measured.stopToWritesRefusedShownMs = Date.now() - clickedAt;
    expect(refusedShown.writes[0]?.text).toContain('writes refused: 1 of 3 replicas in sync');
    // librdkafka retries a refused write until message.timeout.ms (30 s) and then reports it: counted as refused.
    const counted = await waitFor(
      'refused records counted on the page',
      async () => {
        const s = await shown();
        return s.ledger.refused > 0 && s;
      },
      150_000,
      500,
    );
    measured.stopToRefusedCountedMs = Date.now() - clickedAt;
    expect(counted.ledger.lost).toBe(0);
    expect(
      counted.timeline.some((e) => e.kind === 'writes-refused' && /not enough in-sync replicas/.test(e.text)),
    ).toBe(true);
    if (SHOTS) await page.screenshot({ path: shot('writes-refused'), fullPage: true });
  });

  it('restarting both from the page: one request at a time, ISR back to 3, writes resume, no record lost', async () => {
    // A double click starts one operation; a request while it runs is refused with 409.
    await clickLab('start', first, true);
    const busy = await faultPost(`action=start&broker=${second}`);
    expect(busy.status).toBe(409);
    expect((await busy.json()).error).toMatch(/busy/);
    await clickLab('start', second);
    const restartedAt = Date.now();
    const healed = await waitFor(
      'ISR back to 3 everywhere on the page',
      async () => {
        const s = await shown();
        return (
          Object.values(s.brokers).every((b) => b.state === 'up') &&
          s.partitions.length === 4 &&
          s.partitions.every((p) => p.isr.length === 3 && !p.underReplicated) &&
          s
        );
      },
      180_000,
      500,
    );
    measured.restartToFullIsrMs = Date.now() - restartedAt;
    const requested = healed.timeline.filter(
      (e) => e.kind === 'fault' && /start broker \d+ \(from the page\)/.test(e.text),
    );
    expect(requested).toHaveLength(2);
    expect(healed.writes.every((w) => w.accepted)).toBe(true);
    for (const kind of ['broker-down', 'broker-up', 'leader', 'isr-shrink', 'isr-expand', 'writes-refused'])
      expect(healed.timeline.map((e) => e.kind)).toContain(kind);
    await waitFor('writes resumed on the timeline', async () =>
      (await shown()).timeline.some((e) => e.kind === 'writes-resumed'),
    );
    measured.restartToWritesResumedMs = Date.now() - restartedAt;

    // Stop the feed, wait for every delivery report, then count: produced = acknowledged + refused + failed.
    await pipeline.source.stop();
    await pipeline.producer.flush(60_000);
    // Also the page's count equal to the pipeline's: a refresh taken just before the feed stopped can show
    // pending 0 with fewer records produced (a CI run failed on that race).
    const ledger = await waitFor('the ledger settled on the page', async () => {
      const s = await shown();
      const produced = pipeline.ledger.view(undefined).produced;
      return (
        s.ledger.pending === 0 && s.ledger.lost === 0 && s.ledger.produced === produced && produced > 0 && s.ledger
      );
    });
    measured.restartToLedgerSettledMs = Date.now() - restartedAt;
    const direct = pipeline.ledger.view(undefined);
    expect(ledger.produced).toBe(direct.produced);
    expect(direct.produced).toBe(direct.acknowledged + direct.refused + direct.failed);
    expect(direct.refused).toBeGreaterThan(0);
    expect(direct.acknowledged).toBeGreaterThan(0);

    // Consumed vs acknowledged, per trade: the candles' counts are the trades the group folded in, once each.
    const tradesInLog = (await admin.groupLag(`${topics.trades}-probe`, topics.trades)).reduce((n, p) => n + p.end, 0);
    const consumedTrades = () =>
      SYMBOLS.flatMap((s) => pipeline.store.series(s, '1m', 'trade')).reduce((n, c) => n + c.count, 0);
    // A checkpoint write that failed part-way once let a restore revive a closed candle with an old count, so this
    // did not converge in one run of five; the diagnosis below is printed if it ever fails again.
    await waitFor(
      'the group to have folded every trade in the log',
      () => consumedTrades() === tradesInLog,
      120_000,
    ).catch(async () => {
      // Where the difference is: each member's processed/committed positions vs the log ends, and its counters.
      const ends = await admin.groupLag(`${topics.trades}-probe`, topics.trades);
      measured.notConverged = {
        ends: ends.map((p) => [p.partition, p.end]),
        members: pipeline.consumers.map((c) => ({
          id: c.clientId,
          positions: c.positions(),
          stats: c.stats(),
        })),
        perSymbol: SYMBOLS.map((s) => [s, pipeline.store.series(s, '1m', 'trade').reduce((n, c) => n + c.count, 0)]),
      };
    });
    measured.restartToAllConsumedMs = Date.now() - restartedAt;
    measured.tradesInLog = tradesInLog;
    const ackedTrades = await ackedOn(topics.trades);
    measured.produced = direct.produced;
    measured.acknowledged = direct.acknowledged;
    measured.refused = direct.refused;
    measured.tradesAcknowledged = ackedTrades;
    measured.tradesConsumed = consumedTrades();
    // Every acknowledged trade is in the log (lost 0 says none is past the log end), and every trade in the log was
    // folded into the candles once. The log may hold a few more than were acknowledged: a record whose request timed
    // out in flight is reported refused, yet the broker may have appended it (librdkafka's "possibly persisted").
    expect(ackedTrades).toBeLessThanOrEqual(tradesInLog);
    expect(measured.tradesConsumed).toBe(tradesInLog);
    expect(pageErrors).toEqual([]);
    if (SHOTS) await page.screenshot({ path: shot('recovered'), fullPage: true });
  }, 600_000);
});

/** Acknowledged records of `topic` as the ledger counted them (its lost check passed against these end offsets). */
async function ackedOn(topic: string): Promise<number> {
  const ends = new Map<string, number>();
  for (const t of [topics.tickers, topics.trades])
    for (const p of await admin.groupLag(`${t}-probe`, t)) ends.set(`${t}|${p.partition}`, p.end);
  const view = pipeline.ledger.view(ends);
  expect(view.lost).toBe(0);
  return pipeline.ledger.acknowledgedOn(topic);
}
