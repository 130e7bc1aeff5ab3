// Test support: a child process that hammers group/offset/topic admin calls (and live custom-assignor members) until told to stop.
//
// Run as `node --import tsx group-probe.ts <mode>` with KAFKA_BROKERS (and SCHEMA_REGISTRY_URL for `kandle`):
// - `native`: the raw @confluentinc/kafka-javascript admin's describeGroups/fetchOffsets (the upstream crash: a group
//   result carrying an error, as an unreachable coordinator gives, kills the process);
// - `kandle`: the same questions through `createKafkaAdmin`, plus two live members of a custom assignor, until a line
//   `stop` arrives on stdin. Every call's outcome is one JSON line on stdout; a crash shows as the exit signal.
import { createInterface } from 'node:readline';
import { Kafka as PureKafka, logLevel } from 'kafkajs';
import { type CandleConsumer, createCandleConsumer, createKafkaAdmin, KandleError } from '../../src/index';
import { standbyAssignor } from './standby-assignor';

const brokers = process.env.KAFKA_BROKERS ?? '';
const report = (line: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(line)}\n`);
const name = (prefix: string) => `${prefix}-${Math.random().toString(16).slice(2, 10)}`;

async function native(): Promise<void> {
  const module = (await import('@confluentinc/kafka-javascript')) as unknown as {
    KafkaJS?: unknown;
    default?: { KafkaJS: unknown };
  };
  // biome-ignore lint/suspicious/noExplicitAny: the raw binding, used exactly as an application would.
  const { KafkaJS } = (module.KafkaJS ? module : module.default) as { KafkaJS: any };
  const admin = new KafkaJS.Kafka({
    'bootstrap.servers': brokers,
    log_level: 0,
    kafkaJS: { logLevel: KafkaJS.logLevel.NOTHING },
  }).admin();
  await admin.connect();
  for (let i = 0; i < 20; i++) {
    const groupId = name('native-probe');
    for (const [call, run] of [
      ['describeGroups', () => admin.describeGroups([groupId], { timeout: 2_000 })],
      ['fetchOffsets', () => admin.fetchOffsets({ groupId, topics: ['probe'], timeout: 2_000 })],
    ] as const) {
      await run().then(
        () => report({ call, ok: true }),
        (e: Error) => report({ call, ok: false, message: e.message }),
      );
    }
  }
  await admin.disconnect();
}

async function kandle(): Promise<void> {
  const admin = await createKafkaAdmin({ brokers, connectTimeoutMs: 30_000 });
  const topics = { tickers: name('probe-tickers'), trades: name('probe-trades') };
  for (const topic of Object.values(topics)) await admin.ensureTopic({ name: topic, partitions: 2 });
  const pure = new PureKafka({ brokers: brokers.split(','), logLevel: logLevel.NOTHING }).admin();
  await pure.connect();
  const registry = { url: process.env.SCHEMA_REGISTRY_URL ?? '' };
  const groupId = name('probe-live');
  const warnings: string[] = [];
  const member = (clientId: string) =>
    createCandleConsumer({
      connection: { brokers, connectTimeoutMs: 30_000 },
      registry,
      groupId,
      clientId,
      topics,
      assignment: standbyAssignor,
      onCandles: () => undefined,
      onWarning: (w) => warnings.push(w.message),
    });
  const members: CandleConsumer[] = [await member('probe-a'), await member('probe-b')];
  report({ call: 'members', ok: true, count: members.length });

  let stopping = false;
  createInterface({ input: process.stdin }).on('line', (line) => {
    if (line.trim() === 'stop') stopping = true;
  });
  let round = 0;
  while (!stopping) {
    round++;
    const fresh = name('probe-fresh');
    // A group that committed once and is deleted while it is being described.
    const doomed = name('probe-doomed');
    await pure
      .setOffsets({ groupId: doomed, topic: topics.trades, partitions: [{ partition: 0, offset: '0' }] })
      .catch(() => undefined);
    const deleting = pure.deleteGroups([doomed]).catch(() => undefined);
    const calls: Array<[string, () => Promise<unknown>]> = [
      ['describeGroup(new)', () => admin.describeGroup(fresh)],
      ['committedOffsets(no commits)', () => admin.committedOffsets(fresh, topics.trades)],
      ['groupLag(no commits)', () => admin.groupLag(fresh, topics.tickers)],
      ['describeGroup(deleted)', () => admin.describeGroup(doomed)],
      ['committedOffsets(deleted)', () => admin.committedOffsets(doomed, topics.trades)],
      ['describeGroup(live)', () => admin.describeGroup(groupId)],
      ['groupLag(live)', () => admin.groupLag(groupId, topics.trades)],
      ['describeTopic', () => admin.describeTopic(topics.tickers)],
    ];
    await Promise.all(
      calls.map(([call, run]) =>
        run().then(
          () => report({ call, ok: true }),
          (e: unknown) =>
            report({
              call,
              ok: false,
              typed: e instanceof KandleError,
              code: (e as KandleError).code,
              retriable: (e as KandleError).retriable,
              message: String((e as Error)?.message ?? e).slice(0, 200),
            }),
        ),
      ),
    );
    await deleting;
    // Every few rounds a third member joins and leaves: rebalances of the custom assignor on top of the faults.
    if (round % 10 === 0) {
      const extra = await member(name('probe-extra')).catch((e: unknown) => {
        report({ call: 'join', ok: false, typed: e instanceof KandleError, message: String(e) });
        return undefined;
      });
      await extra?.close();
    }
  }
  await Promise.all(members.map((m) => m.close()));
  await pure.disconnect();
  for (const topic of Object.values(topics)) await admin.deleteTopic(topic).catch(() => undefined);
  await admin.close();
  report({ call: 'done', ok: true, rounds: round, warnings: warnings.length });
}

const mode = process.argv[2];
await (mode === 'native' ? native() : kandle());
process.exit(0);
