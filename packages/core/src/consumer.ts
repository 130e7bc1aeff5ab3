// Consumer: Kafka records → decoded ticks/trades → candles, committing offsets only after the handler acknowledged them.
import { loadNativeClient, type Message } from './rdkafka';
import { createKafkaAdmin } from './admin';
import type { Assignor, TopicPartition } from './assignors/types';
import { createCandleAggregator, type CandleAggregator } from './candles/aggregator';
import type { Candle, CandleInterval, CandleUpdate } from './candles/types';
import { type KafkaConnection, type RegistryConnection, resolveKafkaConnection } from './config';
import {
  BrokerUnreachableError,
  ConfigError,
  KandleError,
  PoisonRecordError,
  RegistryUnreachableError,
  UnknownTopicError,
} from './errors';
import { type ConsumerMetrics, parseRdkafkaStats } from './metrics';
import {
  connectSchemaRegistry,
  createAvroDecoder,
  DecodeError,
  type SchemaRegistryHandle,
  valueSubject,
} from './schema/avro';
import { type Ticker, type Trade, tickerSchema, tradeSchema } from './schema/types.generated';
import { createLiveAssignment, formatCommitMetadata, type LiveAssignment, parseCommitMetadata } from './assignors/live';

/** Built-in strategies run natively in librdkafka; an {@link Assignor} object is run by kandle (see docs/assignors.md). */
export type AssignmentStrategy = 'range' | 'roundrobin' | 'cooperative-sticky' | Assignor;

/** Why the member's partitions changed. */
export interface RebalanceEvent {
  type: 'assigned' | 'revoked';
  partitions: TopicPartition[];
  /** Everything this member owns after the event. */
  owned: TopicPartition[];
}

/** A record that could not be decoded and went to the dead-letter topic. */
export interface PoisonRecord {
  topic: string;
  partition: number;
  offset: string;
  reason: string;
  error: PoisonRecordError;
}

/** Passed to the handler with each batch of candle updates. */
export interface BatchContext {
  /** Records in the batch (decoded or dead-lettered). */
  records: number;
  /** Partitions the batch came from. */
  partitions: TopicPartition[];
}

/** Options of {@link createCandleConsumer}. */
export interface CandleConsumerOptions {
  connection?: KafkaConnection;
  registry?: RegistryConnection | SchemaRegistryHandle;
  /** Consumer group. Members of one group share the partitions. */
  groupId: string;
  /** Shown in group descriptions. Default `<groupId>-<random>`. */
  clientId?: string;
  /** Topics to read. Default `{ tickers: 'tickers', trades: 'trades' }`; set one to `null` to skip it. */
  topics?: { tickers?: string | null; trades?: string | null };
  /** Default `'range'`. */
  assignment?: AssignmentStrategy;
  /** Where a group with no committed offset starts. Default `'earliest'`. */
  from?: 'earliest' | 'latest';
  /** Candle widths. Default `['1m']`. */
  intervals?: CandleInterval[];
  /** Out-of-order tolerance before a candle closes (see docs/candles.md). Default 5000 ms. */
  gracePeriodMs?: number;
  /**
   * The acknowledgement: called with each batch of candle updates (coalesced: the latest per candle).
   * Offsets covering the batch are committed only after the returned promise resolves; while it is
   * pending no new records are read, so a slow sink pauses consumption instead of buffering.
   * If it throws, the same updates are offered again (backoff 200 ms doubling to 5 s, reported through
   * `onWarning`) and offsets stay put, so nothing is skipped: make the handler idempotent.
   */
  onCandles?: (updates: CandleUpdate[], context: BatchContext) => Promise<void> | void;
  onRebalance?: (event: RebalanceEvent) => void;
  onPoisonRecord?: (record: PoisonRecord) => void;
  /** Non-fatal problems (registry hiccup, commit failure) that the consumer retries by itself. */
  onWarning?: (error: KandleError) => void;
  /** Dead-letter topic for records that cannot be decoded. Default `kandle.dlq`; created if missing. */
  deadLetterTopic?: string;
  /** Records read per poll. Default 500. */
  batchSize?: number;
  /** Minimum time between commits while running. Default 1000 ms. */
  commitIntervalMs?: number;
  /** `session.timeout.ms`: how fast a crashed member is noticed. Default 10000. */
  sessionTimeoutMs?: number;
  statisticsIntervalMs?: number;
  onMetrics?: (metrics: ConsumerMetrics) => void;
}

/** Counters since start. */
export interface CandleConsumerStats {
  records: number;
  tickers: number;
  trades: number;
  poison: number;
  updates: number;
  commits: number;
  rebalances: number;
}

/**
 * A consumer-group member that turns tickers and trades into candles.
 *
 * @example
 * ```ts
 * const consumer = await createCandleConsumer({
 *   groupId: 'candles', assignment: 'cooperative-sticky', intervals: ['1m', '5m'],
 *   onCandles: (updates) => sink.write(updates), // offsets are committed after this resolves
 * });
 * // or: for await (const update of consumer) console.log(update.kind, update.candle);
 * await consumer.close();
 * ```
 */
export interface CandleConsumer extends AsyncIterable<CandleUpdate> {
  readonly groupId: string;
  readonly clientId: string;
  /** Partitions this member reads right now. */
  assignment(): TopicPartition[];
  /** Current candles of the partitions this member owns. */
  candles(symbol?: string, interval?: CandleInterval): Candle[];
  stats(): CandleConsumerStats;
  /** Drains the batch in flight, commits, leaves the group. */
  close(): Promise<void>;
  /** Resolves when the member owns at least one partition (or `timeoutMs` passes: rejects). */
  waitForAssignment(timeoutMs?: number): Promise<TopicPartition[]>;
}

interface PartitionState {
  topic: string;
  partition: number;
  aggregator: CandleAggregator;
  /** First offset of every open bucket: the commit point never passes them, so a new owner rebuilds them whole. */
  openFirstOffset: Map<string, number>;
  /** Highest event time per series (symbol|source) processed; travels in the commit metadata. */
  maxEventTime: Map<string, number>;
  /** Series watermarks restored from the commit metadata: buckets ending before them were already emitted. */
  restored: Map<string, number>;
  nextOffset: number | null;
  committed: string | null;
}

const KEY_SEP = '|';

/** Joins a group and starts consuming in the background. */
export async function createCandleConsumer(options: CandleConsumerOptions): Promise<CandleConsumer> {
  if (!options.groupId) throw new ConfigError('groupId is required');
  const resolved = resolveKafkaConnection(options.connection);
  const registry = isRegistryHandle(options.registry)
    ? options.registry
    : connectSchemaRegistry(options.registry ?? {});
  const topics = {
    tickers: options.topics?.tickers === undefined ? 'tickers' : options.topics.tickers,
    trades: options.topics?.trades === undefined ? 'trades' : options.topics.trades,
  };
  const subscribed = [topics.tickers, topics.trades].filter((t): t is string => !!t);
  if (subscribed.length === 0) throw new ConfigError('topics: at least one of tickers/trades is needed');
  const intervals = options.intervals ?? ['1m'];
  const gracePeriodMs = options.gracePeriodMs ?? 5000;
  // Validate the intervals now, not at the first record.
  createCandleAggregator({ intervals, gracePeriodMs });
  const batchSize = options.batchSize ?? 500;
  const commitIntervalMs = options.commitIntervalMs ?? 1000;
  const deadLetterTopic = options.deadLetterTopic ?? 'kandle.dlq';
  const clientId = options.clientId ?? `${options.groupId}-${Math.random().toString(36).slice(2, 8)}`;
  const strategy = options.assignment ?? 'range';
  const warn = (e: KandleError) => options.onWarning?.(e);

  // Fail fast on the three things users get wrong: brokers, topics, registry.
  const admin = await createKafkaAdmin({ ...options.connection, brokers: resolved.brokers });
  try {
    const existing = await admin.listTopics();
    for (const t of subscribed) if (!existing.includes(t)) throw new UnknownTopicError(t);
    if (!existing.includes(deadLetterTopic)) await admin.createTopicIfMissing(deadLetterTopic);
  } catch (e) {
    await admin.close();
    throw e;
  }
  try {
    await (await registry.client()).getAllSubjects();
  } catch (e) {
    await admin.close();
    throw new RegistryUnreachableError(registry.url, e);
  }

  type DecoderSpec = {
    kind: 'ticker' | 'trade';
    decoder: { decode(b: Buffer): Promise<Ticker | Trade>; decodeCached(b: Buffer): Ticker | Trade | undefined };
  };
  const decoders = new Map<string, DecoderSpec>();
  if (topics.tickers)
    decoders.set(topics.tickers, {
      kind: 'ticker',
      decoder: createAvroDecoder<Ticker>(registry, tickerSchema, valueSubject(topics.tickers)),
    });
  if (topics.trades)
    decoders.set(topics.trades, {
      kind: 'trade',
      decoder: createAvroDecoder<Trade>(registry, tradeSchema, valueSubject(topics.trades)),
    });

  const { CODES, KafkaConsumer, Producer: RdProducer } = (await loadNativeClient()).RdKafka;
  const dlq = new RdProducer({
    ...resolved.rdkafka,
    'client.id': `${clientId}-dlq`,
    'enable.idempotence': true,
    acks: -1,
    dr_cb: true,
  } as never);
  await new Promise<void>((resolve, reject) =>
    dlq.connect({ timeout: resolved.connectTimeoutMs }, (err) =>
      err ? reject(new BrokerUnreachableError(resolved.brokers, resolved.connectTimeoutMs, err)) : resolve(),
    ),
  );
  dlq.setPollInterval(50);
  dlq.on('delivery-report', (err, report) => {
    const done = report.opaque as ((e?: unknown) => void) | undefined;
    done?.(err ?? undefined);
  });

  const partitions = new Map<string, PartitionState>();
  const keyOf = (topic: string, partition: number) => `${topic}${KEY_SEP}${partition}`;
  const stats: CandleConsumerStats = {
    records: 0,
    tickers: 0,
    trades: 0,
    poison: 0,
    updates: 0,
    commits: 0,
    rebalances: 0,
  };
  const pendingRebalances: Array<{ type: 'assign' | 'revoke'; partitions: TopicPartition[] }> = [];
  let lastCommitAt = 0;
  let closing = false;
  let live: LiveAssignment | undefined;
  const assignmentWaiters: Array<() => void> = [];

  const native = typeof strategy === 'string';
  const cooperativeProtocol = strategy === 'cooperative-sticky';
  let loopStopped = false;
  const consumer = new KafkaConsumer(
    {
      ...resolved.rdkafka,
      'group.id': options.groupId,
      'client.id': clientId,
      'enable.auto.commit': false,
      'enable.auto.offset.store': false,
      // Custom assignors ride on the eager roundrobin protocol; kandle then overrides the assignment (docs/assignors.md).
      'partition.assignment.strategy': native ? strategy : 'roundrobin',
      'session.timeout.ms': options.sessionTimeoutMs ?? 10_000,
      'heartbeat.interval.ms': Math.min(3000, Math.floor((options.sessionTimeoutMs ?? 10_000) / 4)),
      'statistics.interval.ms': options.statisticsIntervalMs ?? 0,
      'enable.partition.eof': false,
      rebalance_cb: (err: { code: number }, assignment: TopicPartition[]) => {
        const list = assignment.map((a) => ({ topic: a.topic, partition: a.partition }));
        if (loopStopped) {
          // Closing: everything was committed after the last batch, so release at once or disconnect never returns.
          if (err.code === CODES.ERRORS.ERR__REVOKE_PARTITIONS) {
            if (cooperativeProtocol)
              (consumer as unknown as { incrementalUnassign(p: unknown): void }).incrementalUnassign(assignment);
            else consumer.unassign();
          }
          return;
        }
        if (err.code === CODES.ERRORS.ERR__ASSIGN_PARTITIONS)
          pendingRebalances.push({ type: 'assign', partitions: list });
        else if (err.code === CODES.ERRORS.ERR__REVOKE_PARTITIONS)
          pendingRebalances.push({ type: 'revoke', partitions: list });
        wake();
      },
    } as never,
    { 'auto.offset.reset': options.from ?? 'earliest' } as never,
  );
  if (options.statisticsIntervalMs && options.onMetrics) {
    consumer.on('event.stats', (event) => {
      const parsed = parseRdkafkaStats(event.message);
      options.onMetrics?.({ lag: parsed.lag, brokers: parsed.brokers });
    });
  }
  await new Promise<void>((resolve, reject) =>
    consumer.connect({ timeout: resolved.connectTimeoutMs }, (err) =>
      err ? reject(new BrokerUnreachableError(resolved.brokers, resolved.connectTimeoutMs, err)) : resolve(),
    ),
  );
  if (!native) {
    live = createLiveAssignment({
      assignor: strategy,
      admin,
      groupId: options.groupId,
      clientId,
      topics: subscribed,
      onWarning: warn,
    });
  }
  consumer.subscribe(subscribed);

  // ---- iterator plumbing: with no onCandles handler, pulling from the iterator is the acknowledgement.
  const queue: CandleUpdate[] = [];
  const queueWaiters: Array<() => void> = [];
  let drained: (() => void) | null = null;
  let iterating = false;
  const deliver = async (updates: CandleUpdate[], context: BatchContext): Promise<void> => {
    if (options.onCandles) {
      await options.onCandles(updates, context);
    }
    if (iterating) {
      queue.push(...updates);
      for (const w of queueWaiters.splice(0)) w();
      if (queue.length > 0) await new Promise<void>((resolve) => (drained = resolve));
    }
  };

  // ---- main loop
  const wakeUp: (() => void) | null = null;
  function wake() {
    wakeUp?.();
  }
  const consumeBatch = () =>
    new Promise<Message[]>((resolve, reject) =>
      consumer.consume(batchSize, (err, messages) => (err ? reject(err) : resolve(messages ?? []))),
    );
  consumer.setDefaultConsumeTimeout(100);
  // Return a batch as soon as one record is there instead of waiting up to 100 ms to fill it: at low rates the
  // wait was pure tick → candle latency; at high rates batches fill from the prefetched queue anyway.
  // Missing from the typings, present in the binding (lib/kafka-consumer.js).
  (
    consumer as unknown as { setDefaultIsTimeoutOnlyForFirstMessage(on: boolean): void }
  ).setDefaultIsTimeoutOnlyForFirstMessage(true);

  const ownedList = (): TopicPartition[] =>
    [...partitions.values()]
      .map((p) => ({ topic: p.topic, partition: p.partition }))
      .sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition);

  async function handleRebalances(): Promise<void> {
    while (pendingRebalances.length) {
      const event = pendingRebalances.shift() as (typeof pendingRebalances)[number];
      stats.rebalances++;
      if (event.type === 'revoke') {
        // Work in flight is already acknowledged (the loop only gets here between batches): commit, then release.
        const revoked = live ? ownedList() : event.partitions;
        commitNow(revoked, true);
        for (const tp of revoked) partitions.delete(keyOf(tp.topic, tp.partition));
        if (cooperativeProtocol)
          (consumer as unknown as { incrementalUnassign(p: unknown): void }).incrementalUnassign(event.partitions);
        else consumer.unassign();
        options.onRebalance?.({ type: 'revoked', partitions: revoked, owned: ownedList() });
      } else {
        let mine = event.partitions;
        if (live) {
          // The group protocol proposed `mine`; the custom assignor decides what this member really reads.
          try {
            mine = await live.assignmentFor(event.partitions);
          } catch (e) {
            // Keep the generation's assignment pending: the loop reports the error and tries again shortly.
            pendingRebalances.unshift(event);
            stats.rebalances--;
            throw e;
          }
        }
        const restored = await committedOf(mine);
        for (const tp of mine) {
          const c = restored.get(keyOf(tp.topic, tp.partition));
          partitions.set(keyOf(tp.topic, tp.partition), newPartitionState(tp, c?.metadata));
        }
        const assignWith = mine.map((tp) => {
          const c = restored.get(keyOf(tp.topic, tp.partition));
          return c && c.offset >= 0 ? { ...tp, offset: c.offset } : tp;
        });
        if (cooperativeProtocol)
          (consumer as unknown as { incrementalAssign(p: unknown): void }).incrementalAssign(assignWith);
        else consumer.assign(assignWith as never);
        options.onRebalance?.({ type: 'assigned', partitions: mine, owned: ownedList() });
        if (partitions.size > 0) for (const w of assignmentWaiters.splice(0)) w();
      }
    }
  }

  function newPartitionState(tp: TopicPartition, metadata: string | null | undefined): PartitionState {
    const restored = new Map<string, number>();
    if (metadata) {
      try {
        const parsed = parseCommitMetadata(metadata);
        for (const [k, v] of Object.entries(parsed?.w ?? {})) restored.set(k, v - gracePeriodMs);
      } catch {
        warn(new KandleError('CONFIG_INVALID', `ignoring unreadable commit metadata on ${tp.topic}[${tp.partition}]`));
      }
    }
    return {
      ...tp,
      // Coalesced: the batch reports each changed candle once, so no update is allocated per record.
      aggregator: createCandleAggregator({ intervals, gracePeriodMs, emitProgress: 'coalesced' }),
      openFirstOffset: new Map(),
      maxEventTime: new Map(),
      restored,
      nextOffset: null,
      committed: null,
    };
  }

  async function committedOf(
    list: TopicPartition[],
  ): Promise<Map<string, { offset: number; metadata: string | null }>> {
    if (list.length === 0) return new Map();
    const result = await new Promise<
      Array<{ topic: string; partition: number; offset: number; metadata?: string | null }>
    >((resolve, reject) =>
      consumer.committed(list as never, 10_000, (err, tps) => (err ? reject(err) : resolve(tps as never))),
    ).catch((e) => {
      warn(
        new KandleError('DELIVERY_FAILED', `could not read committed offsets: ${(e as Error).message}`, { cause: e }),
      );
      return [];
    });
    return new Map(
      result.map((r) => [keyOf(r.topic, r.partition), { offset: r.offset, metadata: r.metadata ?? null }]),
    );
  }

  function commitPoint(state: PartitionState): { offset: number; metadata: string } | null {
    if (state.nextOffset === null) return null;
    let offset = state.nextOffset;
    for (const first of state.openFirstOffset.values()) if (first < offset) offset = first;
    return { offset, metadata: formatCommitMetadata(clientId, state.maxEventTime) };
  }

  function commitNow(list: TopicPartition[] | null, sync: boolean): void {
    const offsets: Array<{ topic: string; partition: number; offset: number; metadata: string }> = [];
    for (const state of partitions.values()) {
      if (list && !list.some((tp) => tp.topic === state.topic && tp.partition === state.partition)) continue;
      const point = commitPoint(state);
      if (!point) continue;
      const fingerprint = `${point.offset}:${point.metadata}`;
      if (fingerprint === state.committed) continue;
      offsets.push({ topic: state.topic, partition: state.partition, ...point });
      state.committed = fingerprint;
    }
    if (offsets.length === 0) return;
    try {
      if (sync) consumer.commitSync(offsets as never);
      else consumer.commit(offsets as never);
      stats.commits++;
      lastCommitAt = Date.now();
    } catch (e) {
      for (const state of partitions.values()) state.committed = null;
      warn(new KandleError('DELIVERY_FAILED', `offset commit failed: ${(e as Error).message}`, { cause: e }));
    }
  }

  async function sendToDeadLetter(message: Message, error: DecodeError | Error): Promise<void> {
    const reason = error instanceof DecodeError ? error.reason : 'corrupt-body';
    const poison = new PoisonRecordError(
      error.message,
      { topic: message.topic, partition: message.partition, offset: String(message.offset) },
      error,
    );
    const headers = [
      { 'kandle.error': error.message },
      { 'kandle.reason': reason },
      { 'kandle.source.topic': message.topic },
      { 'kandle.source.partition': String(message.partition) },
      { 'kandle.source.offset': String(message.offset) },
      ...(error instanceof DecodeError && error.schemaId !== undefined
        ? [{ 'kandle.schema.id': String(error.schemaId) }]
        : []),
    ];
    for (let attempt = 0; ; attempt++) {
      try {
        await new Promise<void>((resolve, reject) => {
          dlq.produce(
            deadLetterTopic,
            null,
            message.value ?? null,
            message.key ?? null,
            message.timestamp ?? Date.now(),
            (e?: unknown) => (e ? reject(e) : resolve()),
            headers as never,
          );
        });
        break;
      } catch (e) {
        // Losing a poison record would lose evidence: keep trying, the batch waits.
        warn(
          new KandleError(
            'DELIVERY_FAILED',
            `dead-letter write failed (attempt ${attempt + 1}): ${(e as Error).message}`,
            { cause: e },
          ),
        );
        await sleep(Math.min(5000, 200 * 2 ** attempt));
      }
    }
    stats.poison++;
    options.onPoisonRecord?.({
      topic: message.topic,
      partition: message.partition,
      offset: String(message.offset),
      reason,
      error: poison,
    });
  }

  async function processBatch(messages: Message[]): Promise<void> {
    const latest = new Map<string, CandleUpdate>();
    /** Records `update` as its candle's latest in this batch; `offset` is the record that caused it, if known. */
    const keepLatest = (state: PartitionState, update: CandleUpdate, offset: number | undefined) => {
      const c = update.candle;
      const bucket = `${c.symbol}${KEY_SEP}${c.source}${KEY_SEP}${c.interval}${KEY_SEP}${c.start}`;
      // The record that opened the candle: a takeover must re-read from there to rebuild it.
      if (offset !== undefined && update.kind === 'progress' && !state.openFirstOffset.has(bucket))
        state.openFirstOffset.set(bucket, offset);
      if (update.kind === 'closed') state.openFirstOffset.delete(bucket);
      // Replayed after a takeover: this bucket was closed and emitted by the previous owner.
      const restoredWatermark = state.restored.get(`${c.symbol}${KEY_SEP}${c.source}`);
      if (restoredWatermark !== undefined && c.end <= restoredWatermark) return;
      const previous = latest.get(bucket);
      if (previous?.kind !== 'closed' || update.kind === 'correction') latest.set(bucket, update);
    };
    // Offsets advance only once the handler accepted the batch: a failing handler never lets a commit skip records.
    const advanced = new Map<PartitionState, number>();
    for (let i = 0; i < messages.length; i++) {
      const message = messages[i] as Message;
      const state = partitions.get(keyOf(message.topic, message.partition));
      if (!state) continue; // revoked meanwhile: its new owner reads it from the committed offset
      const spec = decoders.get(message.topic);
      if (!spec) continue;
      stats.records++;
      let value: Ticker | Trade;
      try {
        const payload = message.value as Buffer;
        value = (spec.decoder.decodeCached(payload) ?? (await spec.decoder.decode(payload))) as Ticker | Trade;
      } catch (e) {
        if (e instanceof RegistryUnreachableError) {
          // Not the record's fault: rewind this partition to the record and retry after a pause.
          warn(e);
          await seek(message.topic, message.partition, message.offset);
          for (let j = i + 1; j < messages.length; j++) {
            const later = messages[j] as Message;
            if (later.topic === message.topic && later.partition === message.partition)
              messages[j] = { ...later, topic: '\u0000skip' };
          }
          await sleep(1000);
          continue;
        }
        await sendToDeadLetter(message, e as Error);
        advanced.set(state, message.offset + 1);
        continue;
      }
      const updates =
        spec.kind === 'ticker'
          ? state.aggregator.addTicker(value as Ticker)
          : state.aggregator.addTrade(value as Trade);
      if (spec.kind === 'ticker') stats.tickers++;
      else stats.trades++;
      const symbol = (value as Ticker).symbol;
      const series = `${symbol}${KEY_SEP}${spec.kind}`;
      const time = spec.kind === 'ticker' ? (value as Ticker).eventTime : (value as Trade).time;
      if (time > (state.maxEventTime.get(series) ?? Number.NEGATIVE_INFINITY)) state.maxEventTime.set(series, time);
      for (const update of updates) keepLatest(state, update, message.offset);
      advanced.set(state, message.offset + 1);
    }
    // Open candles changed by the batch after they were opened: their latest values, once each.
    for (const state of advanced.keys())
      for (const update of state.aggregator.takeProgress()) keepLatest(state, update, undefined);
    const updates = [...latest.values()];
    if (updates.length > 0) {
      const context = {
        records: messages.length,
        partitions: [...advanced.keys()].map((s) => ({ topic: s.topic, partition: s.partition })),
      };
      for (let attempt = 0; ; attempt++) {
        try {
          await deliver(updates, context);
          break;
        } catch (e) {
          // Closing mid-retry: leave the offsets where they are, so the next owner re-reads these records.
          if (closing) return;
          warn(
            new KandleError(
              'DELIVERY_FAILED',
              `onCandles failed (attempt ${attempt + 1}); offering the same ${updates.length} updates again: ${(e as Error).message}`,
              { cause: e },
            ),
          );
          await sleep(Math.min(5000, 200 * 2 ** attempt));
        }
      }
      stats.updates += updates.length;
    }
    for (const [state, next] of advanced)
      if (partitions.get(keyOf(state.topic, state.partition)) === state) state.nextOffset = next;
  }

  function seek(topic: string, partition: number, offset: number): Promise<void> {
    return new Promise((resolve) => consumer.seek({ topic, partition, offset }, 5000, () => resolve()));
  }

  let loopError: unknown = null;
  const loop = (async () => {
    while (!closing) {
      try {
        await handleRebalances();
        const messages = partitions.size > 0 || pendingRebalances.length === 0 ? await consumeBatch() : [];
        if (pendingRebalances.length && messages.length === 0) continue;
        if (messages.length > 0) await processBatch(messages);
        if (Date.now() - lastCommitAt >= commitIntervalMs) commitNow(null, false);
        if (live)
          await live.tick(ownedList(), () => pendingRebalances.push({ type: 'revoke', partitions: ownedList() }));
      } catch (e) {
        if (closing) break;
        loopError = e;
        warn(
          e instanceof KandleError
            ? e
            : new KandleError('DELIVERY_FAILED', `consumer loop error: ${(e as Error).message}`, { cause: e }),
        );
        await sleep(500);
      }
    }
  })();

  let closed: Promise<void> | null = null;
  return {
    groupId: options.groupId,
    clientId,
    assignment: ownedList,
    candles(symbol, interval) {
      return [...partitions.values()]
        .flatMap((p) => p.aggregator.snapshot(symbol, interval))
        .sort((a, b) => a.start - b.start || a.symbol.localeCompare(b.symbol));
    },
    stats: () => ({ ...stats }),
    waitForAssignment(timeoutMs = 60_000) {
      if (partitions.size > 0) return Promise.resolve(ownedList());
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () =>
            reject(
              new KandleError(
                'CONFIG_INVALID',
                `no partitions assigned within ${timeoutMs} ms${loopError ? `: ${String(loopError)}` : ''}`,
              ),
            ),
          timeoutMs,
        );
        assignmentWaiters.push(() => {
          clearTimeout(timer);
          resolve(ownedList());
        });
      });
    },
    close() {
      closed ??= (async () => {
        closing = true;
        (drained as (() => void) | null)?.();
        await loop;
        commitNow(null, true);
        loopStopped = true;
        await live?.close();
        await new Promise<void>((resolve) => consumer.disconnect(() => resolve()));
        await new Promise<void>((resolve) => dlq.flush(10_000, () => resolve()));
        await new Promise<void>((resolve) => dlq.disconnect(() => resolve()));
        await admin.close();
        for (const w of queueWaiters.splice(0)) w();
      })();
      return closed;
    },
    [Symbol.asyncIterator](): AsyncIterator<CandleUpdate> {
      iterating = true;
      return {
        async next() {
          for (;;) {
            const update = queue.shift();
            if (update) {
              if (queue.length === 0) {
                const d = drained as (() => void) | null;
                drained = null;
                d?.();
              }
              return { value: update, done: false };
            }
            if (closing) return { value: undefined, done: true };
            await new Promise<void>((resolve) => queueWaiters.push(resolve));
          }
        },
        async return() {
          iterating = false;
          const d = drained as (() => void) | null;
          drained = null;
          d?.();
          return { value: undefined, done: true };
        },
      };
    },
  };
}

function isRegistryHandle(value: unknown): value is SchemaRegistryHandle {
  return !!value && typeof (value as SchemaRegistryHandle).register === 'function';
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
