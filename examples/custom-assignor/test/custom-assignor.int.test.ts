// Custom-assignor example proof: on the real cluster the group reads what symbol affinity decides, and no symbol is lost.
import { partitionForKey, type TopicPartition } from '@kandle/core';
import { describe, expect, inject, it } from 'vitest';
import { run, type SymbolAffinityFacts } from '../src/main';
import { createSymbolAffinityAssignor } from '../src/symbol-affinity';

const options = { brokers: inject('kafkaBrokers'), registryUrl: inject('schemaRegistryUrl') };
const keys = (list: readonly TopicPartition[]) => list.map((tp) => `${tp.topic}/${tp.partition}`).sort();

/** The checks every run must pass, whatever the partition count. */
function expectAffinity(facts: SymbolAffinityFacts, symbols: string[]) {
  const topics = [facts.topics.tickers, facts.topics.trades];
  const dedicated = facts.members.filter((m) => m.dedicated);
  expect(dedicated.map((m) => m.clientId)).toEqual(['dedicated-btc']);
  const btc = dedicated[0] as (typeof facts.members)[number];

  // The dedicated member reads exactly the partition tBTCUSD hashes to, in both topics…
  const btcPartition = partitionForKey('tBTCUSD', facts.partitions);
  expect(keys(btc.reads)).toEqual(keys(topics.map((topic) => ({ topic, partition: btcPartition }))));
  // …and every member reads exactly what the assignor computes for this group.
  const members = facts.members.map((m) => ({ memberId: m.clientId, topics }));
  const decided = createSymbolAffinityAssignor().assign(
    members,
    Object.fromEntries(topics.map((t) => [t, facts.partitions])),
  );
  for (const m of facts.members) expect(keys(m.reads), m.clientId).toEqual(keys(decided[m.clientId] ?? []));

  // Every partition is read by exactly one member, and records came only from a member's own partitions.
  const all = facts.members.flatMap((m) => keys(m.reads));
  expect(all.length).toBe(new Set(all).size);
  expect(all.sort()).toEqual(
    keys(topics.flatMap((topic) => Array.from({ length: facts.partitions }, (_, partition) => ({ topic, partition })))),
  );
  for (const m of facts.members) {
    expect(
      keys(m.readFrom).every((k) => keys(m.reads).includes(k)),
      m.clientId,
    ).toBe(true);
  }

  // The dedicated member's candles are only for symbols on its partitions.
  for (const symbol of Object.keys(btc.candlesBySymbol)) {
    expect(partitionForKey(symbol, facts.partitions), symbol).toBe(btcPartition);
  }
  expect(Object.keys(btc.candlesBySymbol)).toContain('tBTCUSD');

  // Nothing lost: every record was read, and every produced symbol has ticker and trade candles somewhere.
  expect(facts.members.reduce((sum, m) => sum + m.records, 0)).toBe(facts.produced);
  for (const symbol of symbols) {
    const sources = new Set(facts.members.flatMap((m) => Object.keys(m.candlesBySymbol[symbol] ?? {})));
    expect([...sources].sort(), symbol).toEqual(['ticker', 'trade']);
  }
}

describe('custom-assignor example', () => {
  it('6 partitions: dedicated-btc reads only tBTCUSD’s partitions, the workers split the rest', async () => {
    const symbols = ['tBTCUSD', 'tETHUSD', 'tSOLUSD', 'tXRPUSD', 'tADAUSD', 'tDOGEUSD', 'tLTCUSD', 'tDOTUSD'];
    const facts = await run({ ...options, symbols, partitions: 6 });
    expectAffinity(facts, symbols);
    // With 6 partitions tBTCUSD is alone on its partition, so the dedicated member sees nothing else.
    const btc = facts.members.find((m) => m.dedicated);
    expect(Object.keys(btc?.candlesBySymbol ?? {})).toEqual(['tBTCUSD']);
    // The workers take 5 partitions each.
    expect(facts.members.filter((m) => !m.dedicated).map((m) => m.reads.length)).toEqual([5, 5]);
  });

  it('3 partitions: a symbol hashing to tBTCUSD’s partition travels with it to the dedicated member', async () => {
    const symbols = ['tBTCUSD', 'tETHUSD', 'tXRPUSD', 'tADAUSD'];
    const neighbours = symbols.filter(
      (s) => s !== 'tBTCUSD' && partitionForKey(s, 3) === partitionForKey('tBTCUSD', 3),
    );
    expect(neighbours.length).toBeGreaterThan(0); // the point of this case: affinity is per partition
    const facts = await run({ ...options, symbols, partitions: 3, events: 800 });
    expectAffinity(facts, symbols);
    const btc = facts.members.find((m) => m.dedicated);
    expect(Object.keys(btc?.candlesBySymbol ?? {}).sort()).toEqual(['tBTCUSD', ...neighbours].sort());
  });
});
