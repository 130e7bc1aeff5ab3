// Tests of /metrics: the page server's Prometheus exposition moves with a real run (brokers, registry, QuestDB sink).
import { KafkaJS } from '@confluentinc/kafka-javascript';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { uniqueName, waitFor } from '../../../test/support/cluster';
import { type LineProtocolServer, startQuestDbServer } from '../../../packages/influx-sink/test/support/servers';
import { loadConfig } from '../src/config';
import { type RunningPipeline, startPipeline } from '../src/pipeline';

/** One scrape: sample name (with its labels) → value. */
type Scrape = Map<string, number>;

/** Parses the text exposition format: `name{labels} value` lines; `#` lines are HELP/TYPE. */
function parse(text: string): Scrape {
  const samples: Scrape = new Map();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const cut = line.lastIndexOf(' ');
    samples.set(line.slice(0, cut), Number(line.slice(cut + 1)));
  }
  return samples;
}

/** Sum of every sample of `name` (all label sets). */
function total(scrape: Scrape, name: string): number {
  let sum = 0;
  for (const [sample, value] of scrape) if (sample === name || sample.startsWith(`${name}{`)) sum += value;
  return sum;
}

let questdb: LineProtocolServer;
let pipeline: RunningPipeline;
let topics: { tickers: string; trades: string };

async function scrape(): Promise<{ text: string; samples: Scrape; contentType: string | null }> {
  const response = await fetch(new URL('/metrics', pipeline.url));
  expect(response.status).toBe(200);
  const text = await response.text();
  return { text, samples: parse(text), contentType: response.headers.get('content-type') };
}

beforeAll(async () => {
  questdb = await startQuestDbServer();
  await questdb.prepare();
  const group = uniqueName('metrics');
  topics = { tickers: `${group}-tickers`, trades: `${group}-trades` };
  const config = loadConfig({
    KAFKA_BROKERS: inject('kafkaBrokers'),
    SCHEMA_REGISTRY_URL: inject('schemaRegistryUrl'),
    KANDLE_SYMBOLS: 'tBTCUSD,tETHUSD',
    KANDLE_INTERVALS: '5s,1m',
    KANDLE_HISTORY: '10m',
    KANDLE_SPEED: '5',
    KANDLE_TICKERS_TOPIC: topics.tickers,
    KANDLE_TRADES_TOPIC: topics.trades,
    KANDLE_GROUP: group,
    KANDLE_PORT: '0',
    INFLUX_HOST: questdb.host,
    INFLUX_TOKEN: questdb.token,
    INFLUX_DATABASE: questdb.database,
  });
  pipeline = await startPipeline({
    ...config,
    kafkaBrokers: inject('kafkaBrokers'),
    schemaRegistryUrl: inject('schemaRegistryUrl'),
    log: () => {},
    warn: () => {},
  });
}, 180_000);

afterAll(async () => {
  await pipeline?.stop();
  await questdb?.close();
});

describe('GET /metrics', () => {
  it('serves Prometheus text with kandle_ names, units and _total counters, plus process metrics', async () => {
    const { text, contentType } = await scrape();
    expect(contentType).toBe('text/plain; version=0.0.4; charset=utf-8');
    for (const [name, type] of [
      ['kandle_producer_delivery_latency_seconds', 'histogram'],
      ['kandle_producer_queue_records', 'gauge'],
      ['kandle_producer_records_delivered_total', 'counter'],
      ['kandle_producer_records_failed_total', 'counter'],
      ['kandle_consumer_lag_records', 'gauge'],
      ['kandle_consumer_records_total', 'counter'],
      ['kandle_consumer_poison_records_total', 'counter'],
      ['kandle_consumer_rebalances_total', 'counter'],
      ['kandle_candle_updates_total', 'counter'],
      ['kandle_sink_points_written_total', 'counter'],
      ['kandle_sink_write_retries_total', 'counter'],
      ['kandle_sink_points_failed_total', 'counter'],
      ['kandle_sink_pending_points', 'gauge'],
      ['process_cpu_seconds_total', 'counter'],
    ])
      expect(text).toContain(`# TYPE ${name} ${type}\n`);
  });

  it('moves between two scrapes of a run: deliveries, records, candles, points, lag per partition, poison', async () => {
    // Everything of the first scrape must have moved by a later one; the wait only bounds a hang.
    const first = (await scrape()).samples;
    const moving = [
      'kandle_producer_delivery_latency_seconds_count',
      'kandle_producer_records_delivered_total',
      'kandle_consumer_records_total',
      'kandle_candle_updates_total',
      'kandle_sink_points_written_total',
    ];
    // A record no schema can decode: the consumers dead-letter it and count it as poison.
    const kafka = new KafkaJS.Kafka({
      kafkaJS: { brokers: inject('kafkaBrokers').split(','), logLevel: KafkaJS.logLevel.NOTHING },
    });
    const raw = kafka.producer();
    await raw.connect();
    await raw.send({ topic: topics.trades, messages: [{ key: 'tBTCUSD', value: 'not avro at all' }] });
    await raw.disconnect();

    const second = await waitFor(
      'every counter to move and the poison record to be counted',
      async () => {
        const now = (await scrape()).samples;
        const moved = moving.every((name) => total(now, name) > total(first, name));
        // Both members assigned: the second one's join can still be under way when the rest has moved (a CI run
        // scraped 1 rebalance here), since the pipeline does not wait for its group before serving.
        const bothAssigned = total(now, 'kandle_consumer_rebalances_total') >= 2;
        return moved && bothAssigned && total(now, 'kandle_consumer_poison_records_total') === 1 && now;
      },
      120_000,
    );
    for (const name of moving) expect(total(second, name)).toBeGreaterThan(total(first, name));
    expect(total(second, 'kandle_consumer_poison_records_total')).toBe(1);
    expect(total(second, 'kandle_consumer_rebalances_total')).toBeGreaterThanOrEqual(2);
    expect(total(second, 'kandle_sink_points_failed_total')).toBe(0);
    expect(total(second, 'kandle_producer_records_failed_total')).toBe(0);

    // Lag per partition: one sample per owned partition, labelled by member, topic and partition.
    // Statistics arrive every few seconds: wait until every partition has a sample, then check each has one owner.
    const covers = (labels: string[], topic: string, partition: string) =>
      labels.some((s) => s.includes(`topic="${topic}"`) && s.includes(`partition="${partition}"`));
    const lagSeries = await waitFor('lag of all four partitions', async () => {
      const labels = [...(await scrape()).samples.keys()].filter((s) => s.startsWith('kandle_consumer_lag_records{'));
      const all = [topics.tickers, topics.trades].every((t) => ['0', '1'].every((p) => covers(labels, t, p)));
      return all && labels;
    });
    expect(lagSeries).toHaveLength(4);
    for (const topic of [topics.tickers, topics.trades])
      for (const partition of ['0', '1'])
        expect(covers(lagSeries, topic, partition), `${topic}/${partition}`).toBe(true);
    expect(lagSeries.every((s) => /client_id="[^"]+-[12]"/.test(s))).toBe(true);
  });
});
