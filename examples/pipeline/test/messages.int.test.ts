// Tests of the page's message browser: records this test produced, paged by offset and by time, decoded, and the dead-letter topic, in headless Chromium.
import { fileURLToPath } from 'node:url';
import { KafkaJS } from '@confluentinc/kafka-javascript';
import {
  createCryptoProducer,
  createKafkaAdmin,
  type CryptoProducer,
  type DeliveryReport,
  type KafkaAdmin,
  partitionForKey,
  type Trade,
} from '@kandle/core';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { uniqueName, waitFor } from '../../../test/support/cluster';
import { loadConfig } from '../src/config';
import { type RunningPipeline, startPipeline, whenTopicsVisible } from '../src/pipeline';

/** One row of the message table as the page renders it. */
interface Row {
  offset: number;
  partition: number;
  poison: boolean;
  cells: string[];
}

const TRADES = 30;
const START = Date.UTC(2026, 0, 2, 3, 4, 5);
const trades: Trade[] = Array.from({ length: TRADES }, (_, i) => ({
  id: 1000 + i,
  symbol: 'tBTCUSD',
  time: START + i * 1000,
  amount: i % 2 === 0 ? 0.25 : -0.5,
  price: 90_000 + i,
}));

let admin: KafkaAdmin;
let producer: CryptoProducer;
let pipeline: RunningPipeline;
let browser: Browser;
let page: Page;
let topics: { tickers: string; trades: string };
let deadLetterTopic: string;
let reports: DeliveryReport[];
const pageErrors: string[] = [];

beforeAll(async () => {
  const brokers = inject('kafkaBrokers');
  const registryUrl = inject('schemaRegistryUrl');
  const group = uniqueName('browse');
  topics = { tickers: `${group}-tickers`, trades: `${group}-trades` };
  deadLetterTopic = `${group}-dlq`;
  admin = await createKafkaAdmin({ brokers });
  for (const name of Object.values(topics))
    await admin.ensureTopic({ name, partitions: 2, replicationFactor: 3, minInsyncReplicas: 2 });
  producer = await whenTopicsVisible(() =>
    createCryptoProducer({ connection: { brokers }, registry: { url: registryUrl }, topics }),
  );
  // One at a time, so offsets follow the array order.
  reports = [];
  for (const trade of trades) reports.push(await producer.sendTrade(trade));
  // A poison record after them, with a header, on the same partition (same key).
  const kafka = new KafkaJS.Kafka({ kafkaJS: { brokers: brokers.split(','), logLevel: KafkaJS.logLevel.NOTHING } });
  const raw = kafka.producer();
  await raw.connect();
  await raw.send({
    topic: topics.trades,
    messages: [{ key: 'tBTCUSD', value: 'not avro at all', headers: { origin: 'messages-test' } }],
  });
  await raw.disconnect();

  const config = loadConfig({
    KAFKA_BROKERS: brokers,
    SCHEMA_REGISTRY_URL: registryUrl,
    KANDLE_SYMBOLS: 'tBTCUSD,tETHUSD',
    KANDLE_INTERVALS: '1m',
    KANDLE_HISTORY: '0',
    KANDLE_TICKERS_TOPIC: topics.tickers,
    KANDLE_TRADES_TOPIC: topics.trades,
    KANDLE_GROUP: group,
    KANDLE_DLQ_TOPIC: deadLetterTopic,
    KANDLE_PORT: '0',
  });
  pipeline = await startPipeline({ ...config, kafkaBrokers: brokers, schemaRegistryUrl: registryUrl, log: () => {} });
  browser = await chromium.launch({
    executablePath: process.env.KANDLE_CHROMIUM ?? '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update'],
  });
  page = await browser.newPage({ viewport: { width: 1500, height: 1200 } });
  page.on('pageerror', (e) => pageErrors.push(e.message));
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await pipeline?.stop();
  await producer?.close();
  await admin?.close();
});

/** The rows the page shows once a page whose first offset is `offset` has loaded. */
async function rowsFrom(offset: number): Promise<Row[]> {
  await page.waitForFunction((first) => {
    const shown = (window as unknown as { kandle: { messages(): { offset: number } | null } }).kandle.messages();
    return shown !== null && shown.offset === first;
  }, offset);
  return page.$$eval('#msg-table tbody tr', (rows) =>
    rows.map((row) => {
      const tr = row as HTMLElement;
      return {
        offset: Number(tr.dataset.offset),
        partition: Number(tr.dataset.partition),
        poison: tr.dataset.poison === 'true',
        cells: Array.from(tr.querySelectorAll('td')).map((td) => td.textContent ?? ''),
      };
    }),
  );
}

describe('the message browser of the live page', () => {
  it('pages a partition by offset and shows key, partition, offset, timestamp, schema id and the decoded value', async () => {
    const partition = partitionForKey('tBTCUSD', 2);
    expect(new Set(reports.map((r) => r.partition))).toEqual(new Set([partition]));
    const first = Number(reports[0]?.offset);
    await page.goto(pipeline.url);
    await page.waitForFunction(() => document.querySelectorAll('#msg-topic option').length === 3);
    await page.selectOption('#msg-topic', topics.trades);
    await page.fill('#msg-partition', String(partition));
    await page.fill('#msg-offset', String(first));
    await page.click('#msg-go');
    const rows = await rowsFrom(first);
    expect(rows).toHaveLength(20);
    rows.forEach((row, i) => {
      const trade = trades[i] as Trade;
      expect(row).toMatchObject({ offset: first + i, partition, poison: false });
      const [offset, shownPartition, timestamp, key, headers, schemaId, value] = row.cells;
      expect([offset, shownPartition, key, headers, schemaId]).toEqual([
        String(first + i),
        String(partition),
        'tBTCUSD',
        '',
        String(producer.schemaIds.trades),
      ]);
      expect(timestamp).toBe(new Date(trade.time).toISOString().replace('T', ' ').slice(0, 23));
      expect(JSON.parse(value as string)).toEqual(trade);
    });
  });

  it('shows the next page with the rest of the trades and the poison record as poison, with its header', async () => {
    const first = Number(reports[0]?.offset);
    await page.click('#msg-newer');
    const rows = await rowsFrom(first + 20);
    // The pipeline's own live records may follow; the test's records are the first 11 of this page.
    const ours = rows.slice(0, TRADES - 20 + 1);
    expect(ours.map((r) => r.offset)).toEqual(Array.from({ length: 11 }, (_, i) => first + 20 + i));
    ours.slice(0, 10).forEach((row, i) => {
      expect(JSON.parse(row.cells[6] as string)).toEqual(trades[20 + i]);
    });
    const poison = ours[10] as Row;
    expect(poison.poison).toBe(true);
    expect(poison.cells[3]).toBe('tBTCUSD');
    expect(poison.cells[4]).toBe('origin=messages-test');
    expect(poison.cells[5]).toBe('—');
    expect(poison.cells[6]).toMatch(/^☠ poison \(not-avro\) .*15 bytes · hex 6e 6f 74 20 .*text "not avro at all"$/);
    if (process.env.KANDLE_SCREENSHOT === '1')
      await page
        .locator('#messages')
        .screenshot({ path: fileURLToPath(new URL('../../../docs/message-browser.png', import.meta.url)) });
  });

  it('pages by time: the first row shown is the first record at or after the chosen time', async () => {
    const partition = partitionForKey('tBTCUSD', 2);
    const first = Number(reports[0]?.offset);
    await page.selectOption('#msg-topic', topics.trades);
    await page.fill('#msg-partition', String(partition));
    // Between trades 12 and 13 (a second apart): trade 13 is the first at or after it.
    await page.fill('#msg-time', new Date(START + 12_500).toISOString().slice(0, 23));
    await page.click('#msg-time-go');
    const between = await rowsFrom(first + 13);
    expect(JSON.parse(between[0]?.cells[6] as string)).toEqual(trades[13]);
    // Exactly a record's timestamp: that record is the first.
    await page.fill('#msg-time', new Date(START + 7_000).toISOString().slice(0, 23));
    await page.click('#msg-time-go');
    const exact = await rowsFrom(first + 7);
    expect(exact.map((r) => r.offset).slice(0, 3)).toEqual([first + 7, first + 8, first + 9]);
    expect(JSON.parse(exact[0]?.cells[6] as string)).toEqual(trades[7]);
    // Before the first record of the partition: the page starts at the log start.
    const early = await fetch(
      new URL(`/api/messages?topic=${topics.trades}&partition=${partition}&time=1`, pipeline.url),
    );
    expect((await early.json()).offset).toBe(0);
  });

  it('browses the dead-letter topic: the poison record the group dead-lettered, its reason and origin headers, its bytes as poison', async () => {
    await waitFor('the poison record dead-lettered', () => pipeline.consumers.some((c) => c.stats().poison > 0));
    const poisonOffset = Number(reports[TRADES - 1]?.offset) + 1;
    // Which partition of the dead-letter topic it went to (keyed like the original): ask the page's API.
    const partition = await waitFor('the dead letter on a partition', async () => {
      for (let p = 0; p < 8; p++) {
        const response = await fetch(new URL(`/api/messages?topic=${deadLetterTopic}&partition=${p}`, pipeline.url));
        if (response.ok && (await response.json()).records.length > 0) return { p };
      }
      return false;
    });
    await page.selectOption('#msg-topic', deadLetterTopic);
    await page.fill('#msg-partition', String(partition.p));
    await page.fill('#msg-offset', '0');
    await page.click('#msg-go');
    const [row] = await rowsFrom(0);
    expect(row?.poison).toBe(true);
    const [, , , key, headers, schemaId, value] = row?.cells ?? [];
    expect(key).toBe('tBTCUSD');
    expect(schemaId).toBe('—');
    expect(headers).toContain('kandle.reason=not-avro');
    expect(headers).toContain(`kandle.source.topic=${topics.trades}`);
    expect(headers).toContain(`kandle.source.offset=${poisonOffset}`);
    expect(headers).toMatch(/kandle\.error=.+/);
    expect(value).toMatch(
      new RegExp(
        `^☠ poison \\(not-avro\\) .* · from ${topics.trades}\\[\\d\\]@${poisonOffset}15 bytes · hex 6e 6f 74 20`,
      ),
    );
    expect(value).toContain('text "not avro at all"');
    const label = await page.$eval('#msg-table tbody tr td.poison .poison-label', (e) => e.textContent);
    expect(label).toBe('☠ poison (not-avro)');
    expect(pageErrors).toEqual([]);
  });

  it('switches to the tickers topic (decoded with the ticker schema) and reports bad requests', async () => {
    await waitFor('a live ticker', () => pipeline.source.stats().tickers > 0);
    await pipeline.producer.flush();
    await page.selectOption('#msg-topic', topics.tickers);
    const partition = partitionForKey('tBTCUSD', 2);
    await page.fill('#msg-partition', String(partition));
    await page.fill('#msg-offset', '0');
    await page.click('#msg-go');
    const rows = await waitFor('a decoded ticker row', async () => {
      const shown = await rowsFrom(0);
      return shown.length > 0 && shown;
    });
    const value = JSON.parse(rows[0]?.cells[6] as string);
    expect(Object.keys(value)).toEqual(expect.arrayContaining(['bid', 'ask', 'lastPrice', 'eventTime']));
    expect(rows[0]?.cells[5]).toBe(String(producer.schemaIds.tickers));

    const bad = await fetch(new URL('/api/messages?topic=nope&partition=0', pipeline.url));
    expect(bad.status).toBe(400);
    expect((await bad.json()).error).toMatch(/unknown topic "nope"/);
    expect(pageErrors).toEqual([]);
  });
});
