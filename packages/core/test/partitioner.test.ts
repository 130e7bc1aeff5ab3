// Tests for the partitioner step: murmur2 and key → partition must agree bit for bit with the Java client.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../src/errors';
import { murmur2, partitionForKey, toPositive } from '../src/partitioner';

const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);

// An independent, deliberately literal MurmurHash2 on unbounded BigInts, wrapped to 32 bits at
// every step, with the tail written the way the C reference writes it. It shares no code with
// the implementation under test.
function referenceMurmur2(data: Uint8Array): number {
  const MASK = 0xffffffffn;
  const m = 0x5bd1e995n;
  const mul = (a: bigint, b: bigint): bigint => (a * b) & MASK;
  let h = (0x9747b28cn ^ BigInt(data.length)) & MASK;
  let i = 0;
  for (; i + 4 <= data.length; i += 4) {
    let k = 0n;
    for (let j = 3; j >= 0; j--) k = (k << 8n) | BigInt(data[i + j] ?? 0);
    k = mul(k, m);
    k ^= k >> 24n;
    k = mul(k, m);
    h = mul(h, m);
    h ^= k;
  }
  const rest = data.length - i;
  if (rest >= 3) h ^= BigInt(data[i + 2] ?? 0) << 16n;
  if (rest >= 2) h ^= BigInt(data[i + 1] ?? 0) << 8n;
  if (rest >= 1) {
    h ^= BigInt(data[i] ?? 0);
    h = mul(h, m);
  }
  h ^= h >> 13n;
  h = mul(h, m);
  h ^= h >> 15n;
  return Number(BigInt.asIntN(32, h));
}

describe('murmur2', () => {
  // Verbatim from Kafka's UtilsTest.testMurmur2 (clients/src/test/java/org/apache/kafka/common/utils).
  const kafkaUtilsTestVectors: Array<[Uint8Array, number]> = [
    [utf8('21'), -973932308],
    [utf8('foobar'), -790332482],
    [utf8('a-little-bit-long-string'), -985981536],
    [utf8('a-little-bit-longer-string'), -1486304829],
    [utf8('lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8'), -58897971],
    [new Uint8Array([0x61, 0x62, 0x63]), 479470107],
  ];

  it.each(kafkaUtilsTestVectors)('matches Kafka UtilsTest vector %#', (bytes, expected) => {
    expect(murmur2(bytes)).toBe(expected);
    expect(referenceMurmur2(bytes)).toBe(expected);
  });

  it('covers every tail length (0-3 leftover bytes) like Java', () => {
    // Printed by org.apache.kafka.common.utils.Utils.murmur2 from kafka-clients 4.4.0.
    expect(murmur2(utf8(''))).toBe(275646681);
    expect(murmur2(utf8('a'))).toBe(-1563381124);
    expect(murmur2(utf8('ab'))).toBe(316155434);
    expect(murmur2(utf8('abcd'))).toBe(-1323649548);
  });

  it('returns a signed 32-bit integer equal to the BigInt reference for any bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        const h = murmur2(bytes);
        expect(Number.isInteger(h) && h >= -(2 ** 31) && h < 2 ** 31).toBe(true);
        expect(h).toBe(referenceMurmur2(bytes));
      }),
      { numRuns: 500 },
    );
  });
});

describe('toPositive', () => {
  it('clears the sign bit instead of negating', () => {
    expect(toPositive(-1)).toBe(0x7fffffff);
    expect(toPositive(-(2 ** 31))).toBe(0);
    expect(toPositive(-790332482)).toBe(1357151166);
    expect(toPositive(42)).toBe(42);
  });
});

describe('partitionForKey', () => {
  // Printed by org.apache.kafka.clients.producer.internals.BuiltInPartitioner.partitionForKey
  // (kafka-clients 4.4.0, the Java producer's keyed path) for 2, 3, 6 and 12 partitions.
  const javaPartitions: Array<[string, [number, number, number, number]]> = [
    ['tBTCUSD', [1, 2, 5, 5]],
    ['tETHUSD', [0, 0, 0, 0]],
    ['tSOLUSD', [0, 0, 0, 0]],
    ['tXRPUSD', [0, 2, 2, 8]],
    ['tLTCUSD', [0, 0, 0, 0]],
    ['tDOGE:USD', [1, 1, 1, 1]],
    ['foobar', [0, 0, 0, 6]],
    ['a-little-bit-longer-string', [1, 2, 5, 11]],
    ['ñandú-€-𝄞', [1, 1, 1, 1]],
  ];
  const counts = [2, 3, 6, 12] as const;

  it.each(javaPartitions)('puts %s where the Java producer does', (key, expected) => {
    const ours = counts.map((n) => partitionForKey(key, n));
    const reference = counts.map((n) => toPositive(referenceMurmur2(utf8(key))) % n);
    expect(ours).toEqual(expected);
    expect(reference).toEqual(expected);
  });

  it('gives the same partition for a string and for its UTF-8 bytes', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 40 }), fc.integer({ min: 1, max: 1000 }), (key, n) => {
        expect(partitionForKey(key, n)).toBe(partitionForKey(utf8(key), n));
      }),
      { numRuns: 300 },
    );
  });

  it('is in range and equals toPositive(reference) % n for random keys', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 50 }), fc.integer({ min: 1, max: 10_000 }), (key, n) => {
        const p = partitionForKey(key, n);
        expect(Number.isInteger(p) && p >= 0 && p < n).toBe(true);
        expect(p).toBe(toPositive(referenceMurmur2(utf8(key))) % n);
      }),
      { numRuns: 500 },
    );
  });

  it('is unaffected by the length of earlier keys (reused encoding buffer)', () => {
    const long = 'é'.repeat(5000);
    const before = partitionForKey('tBTCUSD', 12);
    expect(partitionForKey(long, 1_000_003)).toBe(toPositive(referenceMurmur2(utf8(long))) % 1_000_003);
    expect(partitionForKey('tBTCUSD', 12)).toBe(before);
    expect(partitionForKey('', 7)).toBe(toPositive(275646681) % 7);
  });

  it.each([0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY])('rejects numPartitions = %s with ConfigError', (n) => {
    expect(() => partitionForKey('tBTCUSD', n)).toThrow(ConfigError);
  });
});
