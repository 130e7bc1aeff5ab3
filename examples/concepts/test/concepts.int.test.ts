// Concept examples proof: each example's run() on the real cluster shows what its README section claims; one runs standalone.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { partitionForKey, type TopicPartition } from '@kandle/core';
import { describe, expect, inject, it } from 'vitest';
import { run as runAcks } from '../src/acks';
import { run as runGroupStrategies } from '../src/group-strategies';
import { run as runOffsets } from '../src/offsets';
import { run as runPartitioning } from '../src/partitioning';

const options = { brokers: inject('kafkaBrokers'), registryUrl: inject('schemaRegistryUrl') };
const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));

const keys = (list: readonly TopicPartition[]) => list.map((tp) => `${tp.topic}/${tp.partition}`).sort();

describe('partitioning example', () => {
  it('key-hash lands on partitionForKey, explicit on the chosen partition, round-robin in turn', async () => {
    const symbols = ['tBTCUSD', 'tETHUSD', 'tSOLUSD', 'tXRPUSD', 'tADAUSD'];
    const facts = await runPartitioning({ ...options, symbols, partitions: 3, explicitPartition: 2, rounds: 2 });

    expect(facts.keyHash.map((p) => p.symbol)).toEqual([...symbols, ...symbols]);
    expect(facts.keyHash.map((p) => p.partition)).toEqual(facts.keyHash.map((p) => partitionForKey(p.symbol, 3)));
    // These five coins cover all three partitions, so key-hash is not "everything in one place".
    expect(new Set(facts.keyHash.map((p) => p.partition)).size).toBe(3);

    expect(facts.explicit.placements).toHaveLength(10);
    expect(facts.explicit.placements.every((p) => p.partition === 2)).toBe(true);

    expect(facts.roundRobin.map((p) => p.partition)).toEqual([0, 1, 2, 0, 1, 2, 0, 1, 2, 0]);
    const spreadCoins = symbols.filter(
      (s) => new Set(facts.roundRobin.filter((p) => p.symbol === s).map((p) => p.partition)).size > 1,
    );
    expect(spreadCoins.length).toBeGreaterThan(0);
  });
});

describe('acks example', () => {
  it('stores every record at each level; only acks=0 learns no offsets; acks=all is idempotent on an ISR of 3', async () => {
    const facts = await runAcks({ ...options, burst: 1000, latencySamples: 30 });

    expect(facts.topic.minInsyncReplicas).toBe(2);
    expect(facts.topic.isrSizes).toEqual([3, 3, 3]);
    expect(facts.levels.map((l) => l.acks)).toEqual([0, 1, 'all']);
    for (const level of facts.levels) {
      expect(level.sent).toBe(1 + 30 + 1000);
      expect(level.stored).toBe(level.sent);
      expect(level.offsetsReported).toBe(level.acks === 0 ? 0 : level.sent);
      expect(level.idempotence).toBe(level.acks === 'all');
      expect(level.latencyMs.samples).toBe(30);
      expect(level.recordsPerSecond).toBeGreaterThan(0);
    }
    expect(facts.failureCase).toMatch(/NotEnoughReplicasError/);
    const pointer = facts.failureCase.match(/packages\/\S+\.int\.test\.ts/)?.[0];
    expect(pointer && existsSync(`${repoRoot}${pointer}`)).toBe(true);
  });
});

describe('group strategies example', () => {
  it('every member owns a disjoint share of all partitions; range/roundrobin match planRebalance; sticky moves only the leaver', async () => {
    const facts = await runGroupStrategies(options);
    const all = keys(
      [facts.topics.tickers, facts.topics.trades].flatMap((topic) => [
        { topic, partition: 0 },
        { topic, partition: 1 },
      ]),
    );
    expect(facts.runs.map((r) => r.strategy)).toEqual(['range', 'roundrobin', 'cooperative-sticky']);
    for (const r of facts.runs) {
      expect(Object.keys(r.before).sort()).toEqual(['C1', 'C2', 'C3']);
      expect(keys(Object.values(r.before).flat())).toEqual(all);
      expect(Object.keys(r.after).sort()).toEqual(['C1', 'C3']);
      expect(keys(Object.values(r.after).flat())).toEqual(all);
    }
    const [range, roundRobin, sticky] = facts.runs as [
      (typeof facts.runs)[number],
      (typeof facts.runs)[number],
      (typeof facts.runs)[number],
    ];

    // Deterministic strategies: the real group is exactly what the pure assignor computes.
    for (const r of [range, roundRobin]) {
      expect(r.before).toEqual(r.predictedBefore);
      expect(r.after).toEqual(r.predictedAfter);
      expect(r.moved).toEqual(r.predictedMoved);
      expect(r.matchesPlan).toBe(true);
    }
    // The seed's pictures: range deals per topic and leaves C3 idle; roundrobin reshuffles survivors.
    expect(range.before.C3).toEqual([]);
    expect(range.before.C1).toEqual([
      { topic: facts.topics.tickers, partition: 0 },
      { topic: facts.topics.trades, partition: 0 },
    ]);
    expect(roundRobin.survivorsKept).toBe(false);
    expect(roundRobin.moved.length).toBe(3);

    // Sticky: balanced, and when C2 leaves only C2's partitions move (the original kafka-python project's C2 → C3).
    const sizes = (a: Record<string, TopicPartition[]>) => Object.values(a).map((l) => l.length);
    expect(Math.max(...sizes(sticky.before)) - Math.min(...sizes(sticky.before))).toBeLessThanOrEqual(1);
    expect(Math.max(...sizes(sticky.after)) - Math.min(...sizes(sticky.after))).toBeLessThanOrEqual(1);
    expect(sticky.survivorsKept).toBe(true);
    expect(sticky.moved.every((m) => m.from === 'C2')).toBe(true);
    expect(keys(sticky.moved)).toEqual(keys(sticky.before.C2 ?? []));
    expect(sticky.predictedSurvivorsKept).toBe(true);
  });
});

describe('offsets example', () => {
  it('earliest sees the backlog and the new records; latest sees none of the backlog', async () => {
    const facts = await runOffsets({ ...options, backlog: 30, newRecords: 5 });

    expect(facts.earliest.backlogSeen).toBe(30);
    expect(facts.earliest.newSeen).toBe(facts.newRecords);
    expect(facts.earliest.records).toBe(30 + facts.newRecords);
    expect(facts.latest.backlogSeen).toBe(0);
    expect(facts.latest.newSeen).toBeGreaterThanOrEqual(5);
    expect(facts.latest.records).toBe(facts.latest.newSeen);
  });
});

describe('standalone run', () => {
  it('npx tsx examples/concepts/src/partitioning.ts uses KAFKA_BROKERS / SCHEMA_REGISTRY_URL and prints its facts', async () => {
    const { stdout } = await new Promise<{ stdout: string; stderr: string }>((resolve, reject) =>
      execFile(
        'npx',
        ['tsx', 'examples/concepts/src/partitioning.ts', '--json'],
        {
          cwd: repoRoot,
          env: { ...process.env, KAFKA_BROKERS: options.brokers, SCHEMA_REGISTRY_URL: options.registryUrl },
          timeout: 120_000,
        },
        (error, out, err) =>
          error ? reject(new Error(`${error.message}\n${err}`)) : resolve({ stdout: out, stderr: err }),
      ),
    );
    expect(stdout).toMatch(/key-hash \(default\)/);
    expect(stdout).toMatch(/round-robin/);
    const facts = JSON.parse(stdout.trim().split('\n').at(-1) as string);
    expect(facts.keyHash.length).toBeGreaterThan(0);
    for (const p of facts.keyHash) expect(p.partition).toBe(partitionForKey(p.symbol, facts.partitions));
  });
});
