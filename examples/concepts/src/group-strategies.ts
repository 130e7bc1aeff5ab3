// Concept example (consumer groups): three members of one group under range, roundrobin and cooperative-sticky, then one leaves.
import {
  type Assignor,
  type CandleConsumer,
  createCandleConsumer,
  type GroupState,
  type KafkaAdmin,
  type PartitionMove,
  planRebalance,
  rangeAssignor,
  roundRobinAssignor,
  stickyAssignor,
  type TopicPartition,
} from '@kandle/core';
import { runIfMain } from './main-runner';
import {
  type ExampleOptions,
  type ExampleTopics,
  formatPartitions,
  loggerOf,
  uniqueName,
  withExampleTopics,
} from './shared';

/** A strategy librdkafka runs natively. */
export type NativeStrategy = 'range' | 'roundrobin' | 'cooperative-sticky';

/** Partitions per member, keyed by client id (`C1`, `C2`, …). */
export type AssignmentByClient = Record<string, TopicPartition[]>;

/** What one strategy did with the group, next to what the pure assignor predicts. */
export interface StrategyRun {
  strategy: NativeStrategy;
  groupId: string;
  /** The pure kandle assignor that models the strategy. */
  modelledBy: string;
  /** The assignment the real group settled on, as each member reported it (and the coordinator confirmed). */
  before: AssignmentByClient;
  /** `planRebalance`'s fresh assignment of the same members. */
  predictedBefore: AssignmentByClient;
  /** The client that left the group. */
  left: string;
  /** The real assignment after it left. */
  after: AssignmentByClient;
  /** `planRebalance`'s assignment after the same member leaves. */
  predictedAfter: AssignmentByClient;
  /** Partitions that changed owner in the real group, and in the plan. */
  moved: PartitionMove[];
  predictedMoved: PartitionMove[];
  /** The real group matched the plan exactly, before and after. */
  matchesPlan: boolean;
  /** Every survivor still owns everything it owned before (only the leaver's partitions moved). */
  survivorsKept: boolean;
  predictedSurvivorsKept: boolean;
}

/** What the consumer-group example demonstrated. */
export interface GroupStrategiesResult {
  topics: ExampleTopics;
  partitionsPerTopic: number;
  clients: string[];
  runs: StrategyRun[];
}

/** Options of the consumer-group example. */
export interface GroupStrategiesOptions extends ExampleOptions {
  /** Default all three native strategies, run side by side in separate groups. */
  strategies?: NativeStrategy[];
  /** Partitions of each of the two topics. Default 2 (the original kafka-python project's topic A and B with P0 and P1). */
  partitionsPerTopic?: number;
  /** Members of each group. Default 3 (`C1`, `C2`, `C3`). */
  members?: number;
  /** Index (0-based) of the member that leaves. Default 1 (`C2`, as in the original kafka-python project). */
  leaver?: number;
}

const MODELS: Record<NativeStrategy, Assignor> = {
  range: rangeAssignor,
  roundrobin: roundRobinAssignor,
  'cooperative-sticky': stickyAssignor,
};

/**
 * The original kafka-python project's consumer-group picture made real: two topics (tickers = "A", trades = "B") with two partitions each,
 * members C1–C3 in one group, once per strategy. Prints who got which partitions, lets C2 leave, prints what moved,
 * and sets both next to `planRebalance` with the pure assignor of the same name.
 *
 * @example
 * ```ts
 * const facts = await run({ brokers: '127.0.0.1:19092', registryUrl: 'http://127.0.0.1:18081/apis/ccompat/v7', log: console.log });
 * facts.runs.find((r) => r.strategy === 'cooperative-sticky')?.survivorsKept; // true
 * ```
 */
export async function run(options: GroupStrategiesOptions): Promise<GroupStrategiesResult> {
  const log = loggerOf(options);
  const strategies = options.strategies ?? ['range', 'roundrobin', 'cooperative-sticky'];
  const partitionsPerTopic = options.partitionsPerTopic ?? 2;
  const clients = Array.from({ length: options.members ?? 3 }, (_, i) => `C${i + 1}`);
  const leaver = clients[options.leaver ?? 1];
  if (!leaver) throw new Error(`leaver must be one of 0…${clients.length - 1}`);

  return withExampleTopics(
    options,
    { prefix: 'concepts-groups', partitions: partitionsPerTopic },
    async ({ admin, topics }) => {
      log(
        `Topics: A = ${topics.tickers}, B = ${topics.trades}, ${partitionsPerTopic} partitions each; members ${clients.join(', ')}; ${leaver} leaves.`,
      );
      // Separate groups do not disturb each other, so the strategies run side by side.
      const runs = await Promise.all(
        strategies.map((strategy) =>
          runStrategy({ options, admin, topics, strategy, clients, leaver, partitionsPerTopic }),
        ),
      );
      for (const r of runs) {
        log(`\n${r.strategy} (modelled by ${r.modelledBy}), group ${r.groupId}`);
        for (const client of clients) {
          log(
            `  ${client}: ${formatPartitions(r.before[client] ?? [], topics).padEnd(28)} planRebalance: ${formatPartitions(r.predictedBefore[client] ?? [], topics)}`,
          );
        }
        log(`  after ${leaver} leaves:`);
        for (const client of clients.filter((c) => c !== leaver)) {
          log(
            `  ${client}: ${formatPartitions(r.after[client] ?? [], topics).padEnd(28)} planRebalance: ${formatPartitions(r.predictedAfter[client] ?? [], topics)}`,
          );
        }
        log(
          `  moved: ${formatMoves(r.moved, topics)}; planRebalance: ${formatMoves(r.predictedMoved, topics)}; survivors kept their partitions: ${r.survivorsKept ? 'yes' : 'no'}`,
        );
        if (!r.matchesPlan)
          log(
            '  (sticky remembers history: members that joined first kept what they had, so the exact partitions differ from a fresh plan; the balance and "only the leaver\'s partitions move" do not)',
          );
      }
      log(
        "\nrange hands out each topic separately (C3 may get nothing); roundrobin deals all partitions in turn but reshuffles survivors when a member leaves; sticky moves only the leaver's partitions.",
      );
      return { topics, partitionsPerTopic, clients, runs };
    },
  );
}

/**
 * Every member, started at once. If one fails, those that started are closed before the error is thrown: their
 * clients would otherwise keep the process (and its stack) alive, and the example would hang instead of exiting.
 */
async function startAll(starting: Array<Promise<CandleConsumer>>): Promise<CandleConsumer[]> {
  const settled = await Promise.allSettled(starting);
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (!failed) return settled.map((s) => (s as PromiseFulfilledResult<CandleConsumer>).value);
  await Promise.all(settled.map((s) => (s.status === 'fulfilled' ? s.value.close() : undefined)));
  throw failed.reason;
}

async function runStrategy(input: {
  options: ExampleOptions;
  admin: KafkaAdmin;
  topics: ExampleTopics;
  strategy: NativeStrategy;
  clients: string[];
  leaver: string;
  partitionsPerTopic: number;
}): Promise<StrategyRun> {
  const { options, admin, topics, strategy, clients, leaver, partitionsPerTopic } = input;
  const groupId = uniqueName(`concepts-${strategy}`);
  const everyPartition = [topics.tickers, topics.trades].flatMap((topic) =>
    Array.from({ length: partitionsPerTopic }, (_, partition) => ({ topic, partition })),
  );
  const consumers = await startAll(
    clients.map((clientId) =>
      createCandleConsumer({
        connection: { brokers: options.brokers },
        registry: { url: options.registryUrl },
        groupId,
        clientId,
        topics,
        assignment: strategy,
      }),
    ),
  );
  try {
    const group = await waitForSettledGroup(admin, groupId, consumers, everyPartition);
    const memberIdOf = new Map(group.members.map((m) => [m.clientId, m.memberId]));
    const clientOf = new Map(group.members.map((m) => [m.memberId, m.clientId]));
    const before = assignmentsOf(consumers);

    const leaving = consumers.find((c) => c.clientId === leaver);
    if (!leaving) throw new Error(`no member ${leaver}`);
    await leaving.close();
    const survivors = consumers.filter((c) => c !== leaving);
    await waitForSettledGroup(admin, groupId, survivors, everyPartition);
    const after = assignmentsOf(survivors);

    // The same group, simulated: real member ids, because assignors order members by them.
    const plan = planRebalance({
      assignor: MODELS[strategy],
      members: clients.map((c) => ({ memberId: memberIdOf.get(c) ?? c, topics: [topics.tickers, topics.trades] })),
      partitionsPerTopic: { [topics.tickers]: partitionsPerTopic, [topics.trades]: partitionsPerTopic },
      change: { type: 'leave', memberId: memberIdOf.get(leaver) ?? leaver },
    });
    const byClient = (assignment: Record<string, TopicPartition[]>): AssignmentByClient =>
      Object.fromEntries(
        Object.entries(assignment).map(([memberId, list]) => [clientOf.get(memberId) ?? memberId, list]),
      );
    const renameMove = (m: PartitionMove): PartitionMove => ({
      topic: m.topic,
      partition: m.partition,
      ...(m.from !== undefined && { from: clientOf.get(m.from) ?? m.from }),
      ...(m.to !== undefined && { to: clientOf.get(m.to) ?? m.to }),
    });

    const moved = movesBetween(before, after);
    const predictedBefore = byClient(plan.before);
    const predictedAfter = byClient(plan.after);
    return {
      strategy,
      groupId,
      modelledBy: MODELS[strategy].name,
      before,
      predictedBefore,
      left: leaver,
      after,
      predictedAfter,
      matchesPlan: sameAssignment(before, predictedBefore) && sameAssignment(after, predictedAfter),
      moved,
      predictedMoved: plan.moved.map(renameMove),
      survivorsKept: moved.every((m) => m.from === leaver),
      predictedSurvivorsKept: Object.values(plan.revoked).every((list) => list.length === 0),
    };
  } finally {
    await Promise.all(consumers.map((c) => c.close()));
  }
}

/**
 * Waits until the group is Stable with exactly `consumers` as members, each member reads what the coordinator
 * assigned it, and together they own every partition once; and still is 250 ms later. (While a member joins, the
 * coordinator lists it before the rebalance ends; cooperative rebalances pass through states that own less.)
 */
async function waitForSettledGroup(
  admin: KafkaAdmin,
  groupId: string,
  consumers: CandleConsumer[],
  everyPartition: TopicPartition[],
  timeoutMs = 45_000,
): Promise<GroupState> {
  const deadline = Date.now() + timeoutMs;
  let settledOnce = false;
  for (;;) {
    const group = await admin.describeGroup(groupId).catch(() => undefined);
    if (group && isStable(group.state) && group.members.length === consumers.length) {
      const coordinatorView = new Map(group.members.map((m) => [m.clientId, keysOf(m.assignment)]));
      const agree = consumers.every((c) => coordinatorView.get(c.clientId) === keysOf(c.assignment()));
      const owned = consumers.flatMap((c) => c.assignment());
      const coversOnce = owned.length === everyPartition.length && keysOf(owned) === keysOf(everyPartition);
      if (agree && coversOnce && settledOnce) return group;
      settledOnce = agree && coversOnce;
    } else {
      settledOnce = false;
    }
    if (Date.now() > deadline) throw new Error(`group ${groupId} did not settle within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

function isStable(state: string): boolean {
  return state === 'Stable';
}

function sameAssignment(a: AssignmentByClient, b: AssignmentByClient): boolean {
  const clients = new Set([...Object.keys(a), ...Object.keys(b)]);
  return [...clients].every((c) => keysOf(a[c] ?? []) === keysOf(b[c] ?? []));
}

function keysOf(list: readonly TopicPartition[]): string {
  return list
    .map((tp) => `${tp.topic}/${tp.partition}`)
    .sort()
    .join(',');
}

function assignmentsOf(consumers: CandleConsumer[]): AssignmentByClient {
  return Object.fromEntries(consumers.map((c) => [c.clientId, c.assignment()]));
}

function movesBetween(before: AssignmentByClient, after: AssignmentByClient): PartitionMove[] {
  const ownerIn = (assignment: AssignmentByClient) => {
    const owners = new Map<string, { owner: string; tp: TopicPartition }>();
    for (const [owner, list] of Object.entries(assignment))
      for (const tp of list) owners.set(`${tp.topic}/${tp.partition}`, { owner, tp });
    return owners;
  };
  const from = ownerIn(before);
  const to = ownerIn(after);
  const moves: PartitionMove[] = [];
  for (const key of new Set([...from.keys(), ...to.keys()])) {
    const a = from.get(key);
    const b = to.get(key);
    if (a?.owner === b?.owner) continue;
    const tp = (a ?? b)?.tp as TopicPartition;
    moves.push({ topic: tp.topic, partition: tp.partition, ...(a && { from: a.owner }), ...(b && { to: b.owner }) });
  }
  return moves.sort((x, y) => (x.topic < y.topic ? -1 : x.topic > y.topic ? 1 : x.partition - y.partition));
}

function formatMoves(moves: readonly PartitionMove[], topics: ExampleTopics): string {
  if (moves.length === 0) return 'nothing';
  return moves.map((m) => `${formatPartitions([m], topics)} ${m.from ?? '-'}→${m.to ?? '-'}`).join(', ');
}

runIfMain(import.meta.url, run);
