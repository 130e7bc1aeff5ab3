// Pipeline: wires source → producer → Kafka → two group members → candles → InfluxDB sink and live page.
import {
  type CandleConsumer,
  type CandleUpdate,
  type CryptoProducer,
  connectSchemaRegistry,
  consoleLogger,
  createBitfinexWsSource,
  createCandleConsumer,
  createCryptoProducer,
  createKafkaAdmin,
  createReplaySource,
  createSyntheticSource,
  generateSyntheticEvents,
  type HistoryResumePoint,
  type KafkaAdmin,
  loadRecording,
  type MarketSource,
  type SchemaRegistryHandle,
  ThrottledReport,
  type Trade,
  UnknownTopicError,
} from '@kandle/core';
import { createInfluxSink, type InfluxSink, SinkWriteError } from '@kandle/influx-sink';
import { type CandleStore, createCandleStore } from './candle-store';
import type { PipelineConfig } from './config';
import { type BrokerControl, createFaultLab, type FaultLab } from './fault-lab';
import { createKafkaViewer } from './kafka-view';
import { createMessageBrowser, type MessageBrowser } from './message-browser';
import { createPipelineMetrics, type PipelineMetrics } from './metrics';
import { type RawWriter, startRawWriter } from './raw-writer';
import { createRenewingProducer } from './renewing-producer';
import { type PageServer, startPageServer } from './server';
import { createTimeline, type Timeline } from './timeline';
import { createWriteLedger, type WriteLedger } from './write-ledger';

/** Options of {@link startPipeline}: the configuration with the Kafka stack resolved, plus tuning knobs. */
export interface PipelineOptions extends Omit<PipelineConfig, 'kafkaBrokers' | 'schemaRegistryUrl' | 'stackMode'> {
  kafkaBrokers: string;
  schemaRegistryUrl: string;
  /** Partitions per topic. Default 2 (the original kafka-python project's). */
  partitions?: number;
  /** Default 3. */
  replicationFactor?: number;
  /** `min.insync.replicas`: with `acks=all` a write needs this many replicas. Default 2. */
  minInsyncReplicas?: number;
  /** Synthetic events per second at speed 1. Default 20. */
  baseRatePerSecond?: number;
  /**
   * Density of the synthetic source's backfilled history (`historyMs`), events per second of event time. Sparser
   * than live so that hours of it pass through Kafka in seconds; 2/s still gives every 1m candle of 8 symbols about
   * a dozen trades. Default 2.
   */
  historyRatePerSecond?: number;
  /** Records the producer may have awaiting delivery before the backfill waits for them. Default 20 000. */
  maxInFlight?: number;
  /** How often the page's Kafka view refreshes. Default 2000 ms. */
  kafkaRefreshMs?: number;
  /**
   * The broker JVMs behind `kafkaBrokers` when this process started them (`resolveStack`'s `brokerControl` for origin
   * `started`, or a test's own cluster): turns on the page's fault lab. Never pass brokers this process did not
   * start. Default: none (the lab is off and says why).
   */
  brokerControl?: BrokerControl;
  /** Default `console.log`. */
  log?: (message: string) => void;
  /** Default `console.warn`. */
  warn?: (message: string) => void;
}

/** The running pipeline; every part is exposed for inspection (tests, notebooks). */
export interface RunningPipeline {
  /** The live page. */
  url: string;
  source: MarketSource;
  producer: CryptoProducer;
  /** The two members of the consumer group. */
  consumers: readonly CandleConsumer[];
  admin: KafkaAdmin;
  /** The candles the page shows. */
  store: CandleStore;
  /** Present when INFLUX_HOST is configured. */
  sink: InfluxSink | undefined;
  /** Copies raw tickers and trades to InfluxDB; present with INFLUX_HOST unless both kinds are turned off. */
  rawWriter: RawWriter | undefined;
  /** What `GET /metrics` serves. */
  metrics: PipelineMetrics;
  /** The producer's records produced, acknowledged, refused and failed. */
  ledger: WriteLedger;
  /** What the page's timeline shows. */
  timeline: Timeline;
  /** The page's fault lab (off unless `brokerControl` was given). */
  faultLab: FaultLab;
  server: PageServer;
  /**
   * Stops in data-flow order: source, producer (flush), consumers (drain the batch in flight, commit),
   * sink (flush), page server, admin. Idempotent.
   */
  stop(): Promise<void>;
}

/** Members of the group in one process, as in the original kafka-python project (Python_1, Python_2). */
const GROUP_MEMBERS = 2;
/**
 * Forty minutes of generated market at 5 events/s: the offline replay when no recording is given. Sparser than the
 * synthetic source's 20/s so that the 6 h of the default KANDLE_HISTORY (about 108 000 records) reach the page in
 * seconds; 5/s still gives every 1m candle of 8 symbols a couple dozen trades.
 */
const GENERATED_RECORDING = { count: 12_000, ratePerSecond: 5 } as const;

/**
 * Starts the whole main job: ensures the topics (2 partitions, RF 3, min ISR 2 by default), produces the chosen
 * feed with `acks=all` and key-hash partitioning, runs two consumers in one group that build candles, writes them
 * to InfluxDB when configured, and serves the live page. Offsets are committed only after the candles of a batch
 * reached the page store and, with a sink, were acknowledged as durable by InfluxDB.
 *
 * @example
 * ```ts
 * const config = loadConfig();
 * const stack = await resolveStack(config);
 * const pipeline = await startPipeline({ ...config, kafkaBrokers: stack.brokers, schemaRegistryUrl: stack.registryUrl });
 * console.log(`open ${pipeline.url}`);
 * await pipeline.stop();
 * ```
 */
export async function startPipeline(options: PipelineOptions): Promise<RunningPipeline> {
  const log = options.log ?? console.log;
  const warn = options.warn ?? ((message: string) => console.warn(message));
  const started: StartedParts = { consumers: [] };
  let stopped: Promise<void> | undefined;
  const stopOnce = () => (stopped ??= stopParts(started));

  try {
    const admin = await createKafkaAdmin({ brokers: options.kafkaBrokers });
    started.admin = admin;
    await ensureTopics(admin, options, log);

    const store = createCandleStore();
    const timeline = createTimeline();
    const ledger = createWriteLedger({
      onTransition: (t) => {
        timeline.add(t.kind === 'refused' ? 'writes-refused' : 'writes-resumed', t.message);
        (t.kind === 'refused' ? warn : log)(t.message);
      },
    });
    const faultLab = createFaultLab({
      control: options.brokerControl,
      onEvent: (_kind, message) => {
        timeline.add('fault', message);
        log(`fault lab: ${message}`);
      },
    });
    const influx = options.influx;
    const sink = influx
      ? createInfluxSink({
          host: influx.host,
          token: influx.token,
          database: influx.database,
          logger: consoleLogger({ prefix: 'influx sink:', write: warn }),
        })
      : undefined;
    started.sink = sink;
    const registry = connectSchemaRegistry({ url: options.schemaRegistryUrl });
    const metrics = createPipelineMetrics({
      producer: () => started.producer,
      consumers: () => started.consumers,
      sink,
    });
    const wiring = { options, registry, log, warn };

    await startGroupMembers(wiring, candleHandler(store, sink, warn), metrics, started.consumers);
    const producer = await startProducer(wiring, timeline);
    started.producer = producer;
    started.rawWriter = sink ? await startRawCopy(options, sink, registry, warn) : undefined;

    const messages = createMessageBrowser({
      brokers: options.kafkaBrokers,
      registry,
      topics: { ...options.topics, deadLetter: options.deadLetterTopic },
    });
    const server = await servePage(wiring, {
      admin,
      producer,
      consumers: started.consumers,
      store,
      metrics,
      ledger,
      timeline,
      faultLab,
      messages,
    });
    started.server = server;

    const source = feedProducer(options, producer, metrics, ledger, warn, () =>
      resumePoint(messages, options.topics.trades),
    );
    started.source = source;
    await source.start();

    return {
      url: server.url,
      source,
      producer,
      consumers: started.consumers,
      admin,
      store,
      sink,
      rawWriter: started.rawWriter,
      metrics,
      ledger,
      timeline,
      faultLab,
      server,
      stop: stopOnce,
    };
  } catch (e) {
    await stopOnce().catch(() => undefined);
    throw e;
  }
}

/** What has been started so far, for a stop in the middle of a start as well as at the end. */
type StartedParts = Partial<Omit<RunningPipeline, 'url' | 'stop' | 'store' | 'consumers'>> & {
  consumers: CandleConsumer[];
};

/** What the start steps share: the options, the registry handle and where to report. */
interface Wiring {
  options: PipelineOptions;
  registry: SchemaRegistryHandle;
  log: (message: string) => void;
  warn: (message: string) => void;
}

/** Stops what was started, in data-flow order, every step even if one fails; then reports every failure. */
async function stopParts(started: StartedParts): Promise<void> {
  const problems: unknown[] = [];
  const attempt = async (step: (() => Promise<void>) | undefined) => {
    try {
      await step?.();
    } catch (e) {
      problems.push(e);
    }
  };
  const { source, producer, consumers, rawWriter, sink, server, admin } = started;
  await attempt(source && (() => source.stop()));
  await attempt(producer && (() => producer.close()));
  await Promise.all(consumers.map((c) => attempt(() => c.close())));
  await attempt(rawWriter && (() => rawWriter.close()));
  await attempt(sink && (() => sink.close()));
  await attempt(server && (() => server.close()));
  await attempt(admin && (() => admin.close()));
  if (problems.length > 0) throw new AggregateError(problems, 'pipeline did not stop cleanly');
}

/** Creates the tickers and trades topics (or checks the existing ones). */
async function ensureTopics(admin: KafkaAdmin, options: PipelineOptions, log: (message: string) => void) {
  for (const name of [options.topics.tickers, options.topics.trades]) {
    const outcome = await admin.ensureTopic({
      name,
      partitions: options.partitions ?? 2,
      replicationFactor: options.replicationFactor ?? 3,
      minInsyncReplicas: options.minInsyncReplicas ?? 2,
    });
    log(`topic ${name}: ${outcome}`);
  }
}

/** The acknowledgement: the consumer commits a batch's offsets only after this resolves. */
function candleHandler(store: CandleStore, sink: InfluxSink | undefined, warn: (message: string) => void) {
  return async (updates: CandleUpdate[]): Promise<void> => {
    store.apply(updates);
    if (!sink) return;
    try {
      await sink.write(updates);
    } catch (e) {
      // The sink retries transient failures forever; a rejection means InfluxDB refused these points for good.
      // Retrying would wedge the group on them, so they are reported and skipped, like a dead letter.
      if (!(e instanceof SinkWriteError)) throw e;
      warn(`influx refused ${updates.length} candle update(s), skipped: ${e.message}`);
    }
  };
}

/** The group's members, started one after the other into `consumers` (so a failed start still stops the first). */
async function startGroupMembers(
  { options, registry, log, warn }: Wiring,
  onCandles: (updates: CandleUpdate[]) => Promise<void>,
  metrics: PipelineMetrics,
  consumers: CandleConsumer[],
): Promise<void> {
  for (let member = 1; member <= GROUP_MEMBERS; member++) {
    const clientId = `${options.groupId}-${member}`;
    const consumer = await whenTopicsVisible(() =>
      createCandleConsumer({
        connection: { brokers: options.kafkaBrokers },
        registry,
        groupId: options.groupId,
        clientId,
        topics: options.topics,
        deadLetterTopic: options.deadLetterTopic,
        assignment: options.assignment,
        from: 'earliest',
        intervals: options.intervals,
        onCandles,
        onRebalance: (e) =>
          log(`${clientId} ${e.type} ${formatPartitions(e.partitions)}; owns ${formatPartitions(e.owned)}`),
        logger: consoleLogger({ prefix: `${clientId}:`, write: warn }),
        // Lag per partition only comes with librdkafka's statistics; /metrics shows the latest.
        statisticsIntervalMs: 1000,
        onMetrics: (m) => metrics.consumerStats(clientId, m),
      }),
    );
    consumers.push(consumer);
  }
}

/** The feed's producer (`acks=all`, key-hash), replaced after a fatal error; the timeline says when. */
function startProducer({ options, registry, warn }: Wiring, timeline: Timeline): Promise<CryptoProducer> {
  return createRenewingProducer({
    create: () =>
      whenTopicsVisible(() =>
        createCryptoProducer({
          connection: { brokers: options.kafkaBrokers },
          registry,
          topics: options.topics,
          acks: 'all',
          partitioning: 'key-hash',
          statisticsIntervalMs: 1000,
          minInsyncReplicas: options.minInsyncReplicas ?? 2,
          logger: consoleLogger({ prefix: 'producer:', write: warn }),
        }),
      ),
    onRenew: ({ replaced, reason }) => {
      const message = replaced
        ? `producer replaced after a fatal error (${reason})`
        : `producer could not be replaced: ${reason}`;
      timeline.add('fault', message);
      warn(message);
    },
  });
}

/** The live page: candles, the Kafka view with its fault lab, the message browser and /metrics. */
function servePage(
  { options, warn }: Wiring,
  parts: {
    admin: KafkaAdmin;
    producer: CryptoProducer;
    consumers: CandleConsumer[];
    store: CandleStore;
    metrics: PipelineMetrics;
    ledger: WriteLedger;
    timeline: Timeline;
    faultLab: FaultLab;
    messages: MessageBrowser;
  },
): Promise<PageServer> {
  const viewer = createKafkaViewer({
    admin: parts.admin,
    groupId: options.groupId,
    topics: [options.topics.tickers, options.topics.trades],
    symbols: options.symbols,
    producer: parts.producer,
    consumers: parts.consumers,
    minInsyncReplicas: options.minInsyncReplicas ?? 2,
    ledger: parts.ledger,
    timeline: parts.timeline,
    lab: parts.faultLab,
  });
  return startPageServer({
    host: options.host,
    port: options.port,
    store: parts.store,
    info: {
      symbols: options.symbols,
      intervals: options.intervals,
      sources: ['trade', 'ticker'],
      groupId: options.groupId,
      topics: { ...options.topics, deadLetter: options.deadLetterTopic },
      feed: options.source,
    },
    kafkaView: viewer.snapshot,
    messages: parts.messages,
    metrics: parts.metrics,
    ...(options.brokerControl ? { faultLab: parts.faultLab } : {}),
    ...(options.kafkaRefreshMs ? { kafkaRefreshMs: options.kafkaRefreshMs } : {}),
    warn,
  });
}

/**
 * Retries `create` while it fails with `UnknownTopicError`, for up to `timeoutMs` (default 30 s).
 *
 * A topic that `ensureTopic` has just created is not yet in every broker's metadata, and `createCryptoProducer` and
 * `createCandleConsumer` ask whichever broker they reach: on a fresh cluster they can fail for a second or two.
 *
 * @example
 * ```ts
 * await admin.ensureTopic({ name: 'trades' });
 * const producer = await whenTopicsVisible(() => createCryptoProducer({ topics: { trades: 'trades' } }));
 * ```
 */
export async function whenTopicsVisible<T>(create: () => Promise<T>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (let delayMs = 100; ; delayMs = Math.min(2000, delayMs * 2)) {
    try {
      return await create();
    } catch (e) {
      if (!(e instanceof UnknownTopicError) || Date.now() + delayMs > deadline) throw e;
      await new Promise((resolve) => setTimeout(resolve, delayMs));
    }
  }
}

/**
 * Copies the raw tickers and trades on Kafka into InfluxDB, for the dashboard panels that read them (the original kafka-python project's
 * DATE_BIN query reads `tickers`); undefined when KANDLE_INFLUX_TICKERS and KANDLE_INFLUX_TRADES are both off.
 */
async function startRawCopy(
  options: PipelineOptions,
  sink: InfluxSink,
  registry: SchemaRegistryHandle,
  warn: (message: string) => void,
): Promise<RawWriter | undefined> {
  const influx = options.influx;
  if (!influx || (!influx.tickers && !influx.trades)) return undefined;
  return startRawWriter({
    brokers: options.kafkaBrokers,
    registry,
    sink,
    groupId: `${options.groupId}-influx-raw`,
    topics: {
      tickers: influx.tickers ? options.topics.tickers : null,
      trades: influx.trades ? options.topics.trades : null,
    },
    warn,
  });
}

/** Creates the configured source (not started) and sends every event it emits through `producer`. */
function feedProducer(
  options: PipelineOptions,
  producer: CryptoProducer,
  metrics: PipelineMetrics,
  ledger: WriteLedger,
  warn: (message: string) => void,
  resumeFrom: () => Promise<HistoryResumePoint | undefined>,
): MarketSource {
  const reportSendFailure = throttled(warn, 10_000);
  const inFlight = createInFlightGate(options.maxInFlight ?? 20_000, metrics.observeDelivery);
  const source = createSource(options, inFlight.whenBelowLimit, resumeFrom);
  source.onEvent((event) => {
    inFlight
      .track(ledger.track(producer.send(event)))
      .catch((e: Error) => reportSendFailure(`produce failed: ${e.message}`));
  });
  source.onError(
    throttled(
      (m) => warn(`${options.source} feed: ${m}`),
      10_000,
      (e: Error) => e.message,
    ),
  );
  return source;
}

/**
 * Counts the producer's records awaiting delivery (and times each delivery for /metrics), so the backfill (which emits as fast as it can) waits for the
 * brokers instead of overflowing librdkafka's queue (a full queue fails sends: lost history).
 */
function createInFlightGate(
  limit: number,
  observe: (seconds: number) => void,
): {
  track<T>(send: Promise<T>): Promise<T>;
  whenBelowLimit(): Promise<void> | undefined;
} {
  let count = 0;
  let waiters: Array<() => void> = [];
  const settled = (startedAt: number): void => {
    observe((performance.now() - startedAt) / 1000);
    count--;
    if (count < limit / 2 && waiters.length > 0) {
      for (const wake of waiters) wake();
      waiters = [];
    }
  };
  return {
    track(send) {
      count++;
      const startedAt = performance.now();
      const done = () => settled(startedAt);
      send.then(done, done);
      return send;
    },
    // Waits down to half the limit, so the backfill resumes with room for a whole batch.
    whenBelowLimit: () => (count < limit ? undefined : new Promise<void>((resolve) => waiters.push(resolve))),
  };
}

/**
 * Where a Bitfinex backfill resumes: the newest trade already on the trades topic (the newest record over its
 * partitions, and the ids of that millisecond's records). The topic itself is the state: it is what the consumers
 * build candles from, it survives a restart on another machine, and nothing can say a trade went through that did not
 * (a state file written after sends could disagree with the log after a crash). The backfill emits in event-time
 * order, so everything before that time already went through.
 */
async function resumePoint(messages: MessageBrowser, tradesTopic: string): Promise<HistoryResumePoint | undefined> {
  const newest = (await messages.newest(tradesTopic)).filter((r) => r.timestamp !== null && r.value);
  if (newest.length === 0) return undefined;
  const time = Math.max(...newest.map((r) => r.timestamp as number));
  const tradeIds = newest.filter((r) => r.timestamp === time).map((r) => (r.value as Trade).id);
  return { time, tradeIds };
}

/** The market feed `options.source` names; `pause` is the backfill's backpressure. */
function createSource(
  options: PipelineOptions,
  pause: () => Promise<void> | undefined,
  resumeFrom: () => Promise<HistoryResumePoint | undefined>,
): MarketSource {
  const history = { durationMs: options.historyMs, pause };
  switch (options.source) {
    case 'synthetic':
      return createSyntheticSource({
        symbols: options.symbols,
        ratePerSecond: (options.baseRatePerSecond ?? 20) * (options.speed === 'max' ? 1 : options.speed),
        history: { ...history, ratePerSecond: options.historyRatePerSecond ?? 2 },
      });
    case 'replay':
      return createReplaySource({
        events: options.replayFile
          ? loadRecording(options.replayFile)
          : generateSyntheticEvents({ ...GENERATED_RECORDING, symbols: options.symbols, seed: 42 }),
        speed: options.speed,
        loop: true,
        rebase: true,
        history,
      });
    case 'bitfinex':
      return createBitfinexWsSource({
        symbols: options.symbols,
        ...(options.bitfinexUrl ? { url: options.bitfinexUrl } : {}),
        history: {
          ...history,
          ...(options.bitfinexRestUrl ? { restUrl: options.bitfinexRestUrl } : {}),
          resumeFrom,
        },
      });
  }
}

function formatPartitions(list: ReadonlyArray<{ topic: string; partition: number }>): string {
  return list.length === 0 ? '(none)' : list.map((tp) => `${tp.topic}[${tp.partition}]`).join(' ');
}

/**
 * Wraps `report` so a failure repeated thousands of times a second (a broker down) is printed once per
 * `everyMs`, with how many were suppressed.
 */
function throttled<T>(
  report: (message: string) => void,
  everyMs: number,
  describe: (value: T) => string = String,
): (value: T) => void {
  const throttle = new ThrottledReport<T>(
    everyMs,
    (value, repeated) => report(repeated > 0 ? `${describe(value)} (and ${repeated} more)` : describe(value)),
    () => 'every failure', // one budget for all, whatever the message
  );
  return (value) => throttle.report(value);
}
