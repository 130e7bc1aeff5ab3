// Consumer: the façade of createCandleConsumer (Kafka records → candles, committing only what was handled); the steps live in the files beside it.
import { connectNative } from '../connect-native';
import { createKafkaAdmin, type KafkaAdmin } from '../admin';
import { allowingTopicPropagation } from '../admin/topics';
import { createLiveAssignment } from '../assignors/live';
import type { TopicPartition } from '../assignors/types';
import { type KafkaConnection, type ResolvedKafkaConnection, resolveKafkaConnection } from '../config';
import { KandleError, kandleErrorFrom, RegistryUnreachableError, UnknownTopicError } from '../errors';
import { logWarning, withWarningCallback } from '../logger';
import { parseRdkafkaStats } from '../metrics';
import { type KafkaConsumer, loadNativeClient } from '../rdkafka';
import { registryHandleFor, type SchemaRegistryHandle } from '../schema/avro';
import { createDecoders } from './batch';
import { type CheckpointStore, createCheckpointStore } from './checkpoint';
import { createDeadLetterWriter } from './dead-letter';
import { createDelivery, type Delivery } from './delivery';
import { Ledger } from './ledger';
import { createMembership, type StartPosition } from './membership';
import {
  type CandleConsumer,
  type CandleConsumerOptions,
  type CandleConsumerStats,
  type ConsumerSettings,
  resolveConsumerSettings,
} from './options';
import { ConsumerState, Runner } from './runner';
import { createCandleOutput } from './candle-output';
import { createSideProducer, type SideProducer } from './side-producer';
import { createTransactionalProducer } from './transaction';

export type {
  AssignmentStrategy,
  BatchContext,
  CandleConsumer,
  CandleConsumerOptions,
  CandleConsumerStats,
  PartitionPosition,
  PoisonRecord,
  RebalanceEvent,
} from './options';

export { candleRecordKey } from './candle-output';

/** Joins a group and starts consuming in the background. */
export function createCandleConsumer(options: CandleConsumerOptions): Promise<CandleConsumer> {
  return openCandleConsumer(options, {});
}

/**
 * Internal: {@link createCandleConsumer} with parts a `Kandle` client shares (resolved connection, admin). A borrowed
 * admin's `close()` does nothing: the client closes it.
 */
export async function openCandleConsumer(
  options: CandleConsumerOptions,
  shared: { resolved?: ResolvedKafkaConnection; admin?: KafkaAdmin },
): Promise<CandleConsumer> {
  const settings = resolveConsumerSettings(options);
  const resolved = shared.resolved ?? resolveKafkaConnection(options.connection);
  const registry = registryHandleFor(options.registry);
  const logger = withWarningCallback(options.logger, options.onWarning);
  const warn = (e: KandleError) => logWarning(logger, e);
  const admin = await checkPrerequisites(options, settings, resolved, registry, shared.admin);
  const stats: CandleConsumerStats = {
    records: 0,
    tickers: 0,
    trades: 0,
    poison: 0,
    late: 0,
    updates: 0,
    commits: 0,
    rebalances: 0,
  };
  let state = ConsumerState.Running;
  const userSettings = options.connection?.rdkafka ?? {};
  const { transaction, side, output } = await createWriters(settings, resolved, userSettings, admin, registry);
  const checkpoint = await createCheckpointStore({
    resolved,
    userSettings,
    groupId: settings.groupId,
    clientId: settings.clientId,
    producer: side,
  });
  await checkpoint.ensure(admin, settings.subscribed);
  const ledger = new Ledger(settings, () => stats.late++);
  const delivery = createDelivery(options.onCandles, warn);
  const assignmentWaiters: Array<() => void> = [];
  const live =
    typeof settings.strategy === 'string'
      ? undefined
      : createLiveAssignment({
          assignor: settings.strategy,
          admin,
          groupId: settings.groupId,
          clientId: settings.clientId,
          topics: settings.subscribed,
          logger,
        });
  // Created before the consumer (its callback goes into the consumer's config), used once the runner exists.
  let runner: Runner | undefined;
  const membership = createMembership({
    codes: (await loadNativeClient()).RdKafka.CODES,
    cooperative: settings.strategy === 'cooperative-sticky',
    live,
    onRebalance: (event) => {
      stats.rebalances++;
      options.onRebalance?.(event);
      if (ledger.size > 0) for (const w of assignmentWaiters.splice(0)) w();
    },
    hooks: {
      owned: () => ledger.owned(),
      async revoke(partitions) {
        // Handled work is checkpointed and committed first; a batch still waiting to be handled stays uncommitted.
        await runner?.commit(
          ledger.all().filter((e) => partitions.some((p) => sameTp(p, e))),
          true,
        );
        for (const tp of partitions) ledger.remove(tp);
      },
      async assign(partitions) {
        return takeOver({ consumer, partitions, ledger, checkpoint, side, warn });
      },
      assigned: (partitions) => runner?.assigned(partitions),
    },
  });
  const consumer = await connectConsumer(options, settings, resolved, membership.rebalanceCallback);
  membership.attach(consumer);
  runner = new Runner({
    consumer,
    ledger,
    checkpoint,
    membership,
    delivery,
    stats,
    clientId: settings.clientId,
    output,
    transaction,
    batchSize: settings.batchSize,
    commitIntervalMs: settings.commitIntervalMs,
    state: () => state,
    warn,
    retake: (entries) => retake({ consumer, partitions: entries, ledger, checkpoint, side, warn }, settings.from),
    step: {
      ledger,
      decoders: createDecoders(registry, settings.topics),
      stats,
      warn,
      deadLetter: createDeadLetterWriter({
        producer: side,
        topic: settings.deadLetterTopic,
        warn,
        onPoison: (record) => {
          stats.poison++;
          options.onPoisonRecord?.(record);
        },
      }),
      rewind: (topic, partition, offset) => seek(consumer, { topic, partition, offset }),
    },
  });
  consumer.subscribe(settings.subscribed);
  const loop = runner.run();
  return facade({ settings, ledger, stats, delivery, runner, loop, assignmentWaiters, setState: (s) => (state = s) }, [
    // Teardown in order, once the loop is done: commit what was handled, leave, then the helpers.
    () => runner.commit(ledger.all(), true),
    async () => membership.stop(),
    () => new Promise<void>((resolve) => consumer.disconnect(() => resolve())),
    () => checkpoint.close(),
    () => side.close(),
    () => admin.close(),
  ]);
}

/**
 * The producers the consumer writes with: in exactly-once mode one transactional producer for everything
 * (checkpoints, dead letters, candles), else an idempotent side producer; and the candles topic writer, if any.
 */
async function createWriters(
  settings: ConsumerSettings,
  resolved: ResolvedKafkaConnection,
  userSettings: NonNullable<KafkaConnection['rdkafka']>,
  admin: KafkaAdmin,
  registry: SchemaRegistryHandle,
) {
  const transaction =
    settings.processing === 'exactly-once'
      ? await createTransactionalProducer({
          resolved,
          userSettings,
          clientId: settings.clientId,
          transactionalId: `${settings.groupId}-${settings.clientId}`,
          transactionTimeoutMs: settings.transactionTimeoutMs,
        })
      : undefined;
  // Exactly-once: every record the consumer writes (checkpoints, dead letters, candles) goes into the transaction.
  const side = transaction ?? (await createSideProducer(resolved, userSettings, settings.clientId));
  const output = settings.output
    ? await createCandleOutput({
        settings: settings.output,
        admin,
        registry,
        producer: side,
        like: settings.subscribed[0] as string,
      })
    : undefined;
  return { transaction, side, output };
}

/** The public object over the running units. */
function facade(
  parts: {
    settings: ConsumerSettings;
    ledger: Ledger;
    stats: CandleConsumerStats;
    delivery: Delivery;
    runner: Runner;
    loop: Promise<void>;
    assignmentWaiters: Array<() => void>;
    setState: (state: ConsumerState) => void;
  },
  teardown: Array<() => Promise<void>>,
): CandleConsumer {
  const { settings, ledger, stats, delivery, runner, assignmentWaiters } = parts;
  let closed: Promise<void> | null = null;
  return {
    groupId: settings.groupId,
    clientId: settings.clientId,
    assignment: () => ledger.owned(),
    candles: (symbol, interval) => ledger.candles(symbol, interval),
    stats: () => ({ ...stats }),
    positions: () =>
      ledger
        .all()
        .map(({ topic, partition, processed, committed }) => ({ topic, partition, processed, committed }))
        .sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition),
    waitForAssignment(timeoutMs = 60_000) {
      if (ledger.size > 0) return Promise.resolve(ledger.owned());
      return new Promise((resolve, reject) => {
        const failure = () => (runner.lastError ? `: ${String(runner.lastError)}` : '');
        const timer = setTimeout(
          () =>
            reject(
              new KandleError('ASSIGNMENT_TIMEOUT', `no partitions assigned within ${timeoutMs} ms${failure()}`, {
                retriable: true,
              }),
            ),
          timeoutMs,
        );
        assignmentWaiters.push(() => {
          clearTimeout(timer);
          resolve(ledger.owned());
        });
      });
    },
    close() {
      closed ??= (async () => {
        parts.setState(ConsumerState.Closing);
        // An iterator batch the caller did not finish is dropped here, uncommitted; a handler call in flight finishes.
        delivery.close();
        await parts.loop;
        for (const step of teardown) await step();
        parts.setState(ConsumerState.Closed);
      })();
      return closed;
    },
    [Symbol.asyncIterator]: () => delivery.iterator(),
  };
}

/** Fails fast on the three things users get wrong: brokers, topics, registry. Returns the admin client it opened. */
async function checkPrerequisites(
  options: CandleConsumerOptions,
  settings: ConsumerSettings,
  resolved: ResolvedKafkaConnection,
  registry: SchemaRegistryHandle,
  borrowed: KafkaAdmin | undefined,
): Promise<KafkaAdmin> {
  const admin = borrowed ?? (await createKafkaAdmin({ ...options.connection, brokers: resolved.brokers }));
  try {
    const existing = await allowingTopicPropagation(async () => {
      const listed = await admin.listTopics();
      for (const t of settings.subscribed) if (!listed.includes(t)) throw new UnknownTopicError(t);
      return listed;
    });
    if (!existing.includes(settings.deadLetterTopic)) await admin.createTopicIfMissing(settings.deadLetterTopic);
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
  return admin;
}

/** The group member itself: manual commits only, and the connection's raw settings spread last (they win). */
async function connectConsumer(
  options: CandleConsumerOptions,
  settings: ConsumerSettings,
  resolved: ResolvedKafkaConnection,
  rebalanceCallback: (err: { code: number }, assignment: TopicPartition[]) => void,
): Promise<KafkaConsumer> {
  const { KafkaConsumer } = (await loadNativeClient()).RdKafka;
  const native = typeof settings.strategy === 'string';
  const consumer = new KafkaConsumer(
    {
      ...resolved.rdkafka,
      'group.id': settings.groupId,
      'client.id': settings.clientId,
      'enable.auto.commit': false,
      'enable.auto.offset.store': false,
      // Custom assignors ride on the eager roundrobin protocol; kandle then overrides the assignment (docs/assignors.md).
      'partition.assignment.strategy': native ? settings.strategy : 'roundrobin',
      'session.timeout.ms': settings.sessionTimeoutMs,
      'heartbeat.interval.ms': Math.min(3000, Math.floor(settings.sessionTimeoutMs / 4)),
      'statistics.interval.ms': settings.statisticsIntervalMs,
      'enable.partition.eof': false,
      ...options.connection?.rdkafka,
      rebalance_cb: rebalanceCallback,
    } as never,
    { 'auto.offset.reset': settings.from } as never,
  );
  if (settings.statisticsIntervalMs && options.onMetrics) {
    consumer.on('event.stats', (event) => {
      const parsed = parseRdkafkaStats(event.message);
      options.onMetrics?.({ lag: parsed.lag, brokers: parsed.brokers });
    });
  }
  await connectNative(consumer, resolved);
  consumer.setDefaultConsumeTimeout(100);
  // Return a batch as soon as one record is there instead of waiting up to 100 ms to fill it: at low rates the
  // wait was pure tick → candle latency; at high rates batches fill from the prefetched queue anyway.
  // Missing from the typings, present in the binding (lib/kafka-consumer.js).
  (
    consumer as unknown as { setDefaultIsTimeoutOnlyForFirstMessage(on: boolean): void }
  ).setDefaultIsTimeoutOnlyForFirstMessage(true);
  return consumer;
}

/**
 * Takes partitions over: restores each one's open candles and clocks from its changelog (first writing back a
 * checkpoint its previous owner left half-written) and reads on from the offset the checkpoint covers. Without a
 * checkpoint (a new group), from the committed offset, or where `from` says.
 */
async function takeOver(parts: {
  consumer: KafkaConsumer;
  partitions: TopicPartition[];
  ledger: Ledger;
  checkpoint: CheckpointStore;
  side: SideProducer;
  warn: (e: KandleError) => void;
}): Promise<StartPosition[]> {
  const committed = await committedOffsets(parts.consumer, parts.partitions, parts.warn);
  const positions: StartPosition[] = [];
  for (const tp of parts.partitions) {
    // Named, so a takeover that keeps failing says which changelog partition it could not read.
    const restored = await parts.checkpoint.restore(tp).catch((e: unknown) => {
      throw kandleErrorFrom('CHECKPOINT_FAILED', `restoring ${tp.topic}[${tp.partition}]`, e, { retriable: true });
    });
    await Promise.all(restored.repair.map((r) => parts.side.send(r)));
    const c = committed.get(`${tp.topic}|${tp.partition}`);
    const committedOffset = c && c.offset >= 0 ? c.offset : null;
    parts.ledger.add(tp, { restored, committed: committedOffset });
    // The checkpoint's position wins: it may be ahead of the commit (the owner died between the two).
    const offset = restored.position ?? committedOffset;
    positions.push(offset === null ? tp : { ...tp, offset });
  }
  return positions;
}

/** Takes partitions over again (their aggregators held a withdrawn batch) and moves their fetch position there. */
async function retake(parts: Parameters<typeof takeOver>[0], from: 'earliest' | 'latest'): Promise<void> {
  // Without a checkpoint or commit: where `from` says (OFFSET_BEGINNING -2, OFFSET_END -1).
  const reset = from === 'earliest' ? -2 : -1;
  for (const p of await takeOver(parts)) await seek(parts.consumer, { ...p, offset: p.offset ?? reset });
}

function seek(consumer: KafkaConsumer, to: TopicPartition & { offset: number }): Promise<void> {
  return new Promise((resolve) => consumer.seek(to, 5000, () => resolve()));
}

async function committedOffsets(
  consumer: KafkaConsumer,
  list: TopicPartition[],
  warn: (e: KandleError) => void,
): Promise<Map<string, { offset: number; metadata: string | null }>> {
  if (list.length === 0) return new Map();
  const result = await new Promise<Array<TopicPartition & { offset: number; metadata?: string | null }>>(
    (resolve, reject) =>
      consumer.committed(list as never, 10_000, (err, tps) => (err ? reject(err) : resolve(tps as never))),
  ).catch((e) => {
    warn(kandleErrorFrom('COMMIT_FAILED', 'could not read committed offsets', e, { retriable: true }));
    return [];
  });
  return new Map(result.map((r) => [`${r.topic}|${r.partition}`, { offset: r.offset, metadata: r.metadata ?? null }]));
}

const sameTp = (a: TopicPartition, b: TopicPartition) => a.topic === b.topic && a.partition === b.partition;
