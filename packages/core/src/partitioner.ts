// Partitioner: maps a record key to its Kafka partition exactly as the Java client does (murmur2 key-hash).

import { ConfigError } from './errors';

const SEED = 0x9747b28c;
const M = 0x5bd1e995;
const R = 24;

/**
 * Kafka's `org.apache.kafka.common.utils.Utils.murmur2`: MurmurHash2 (32-bit) with seed
 * `0x9747b28c`, returning the same **signed** 32-bit integer Java returns.
 *
 * This is the hash behind every Java-compatible key-hash placement: the Java producer's
 * default partitioner for keyed records, Kafka Streams, ksqlDB, and librdkafka's
 * `murmur2_random` partitioner. Use {@link partitionForKey} to get a partition number.
 *
 * @param bytes - the serialized key (for string keys: its UTF-8 bytes).
 * @returns the hash as a signed 32-bit integer (`-2^31 … 2^31-1`).
 *
 * @example
 * ```ts
 * murmur2(new TextEncoder().encode('foobar')); // -790332482, same as Utils.murmur2 in Java
 * ```
 */
export function murmur2(bytes: Uint8Array): number {
  return murmur2Prefix(bytes, bytes.length);
}

// Hashes bytes[0, length) so partitionForKey can hash a reused scratch buffer without copying.
function murmur2Prefix(data: Uint8Array, length: number): number {
  let h = (SEED ^ length) | 0;
  const bodyLength = length & ~3;
  for (let i = 0; i < bodyLength; i += 4) {
    let k =
      (data[i] as number) |
      ((data[i + 1] as number) << 8) |
      ((data[i + 2] as number) << 16) |
      ((data[i + 3] as number) << 24);
    k = Math.imul(k, M);
    k ^= k >>> R;
    k = Math.imul(k, M);
    h = Math.imul(h, M);
    h ^= k;
  }
  // The 1-3 leftover bytes fold in highest first, as in Java's fall-through switch.
  const tail = length & 3;
  if (tail !== 0) {
    if (tail === 3) h ^= (data[bodyLength + 2] as number) << 16;
    if (tail >= 2) h ^= (data[bodyLength + 1] as number) << 8;
    h ^= data[bodyLength] as number;
    h = Math.imul(h, M);
  }
  h ^= h >>> 13;
  h = Math.imul(h, M);
  h ^= h >>> 15;
  return h | 0;
}

/**
 * Kafka's `Utils.toPositive`: clears the sign bit (not `Math.abs`, which would map
 * `-2^31` to itself in Java and disagree for other values too).
 *
 * @example
 * ```ts
 * toPositive(-790332482); // 1357151166
 * ```
 */
export function toPositive(n: number): number {
  return n & 0x7fffffff;
}

const encoder = new TextEncoder();
// Reused UTF-8 buffer: keys are short, so hashing a string allocates nothing after warm-up.
let scratch = new Uint8Array(256);

/**
 * The partition a keyed record lands on with the Java producer's default partitioner:
 * `toPositive(murmur2(keyBytes)) % numPartitions`.
 *
 * The same key therefore lands on the same partition whether it was written by the Java
 * producer, Kafka Streams, ksqlDB, or librdkafka configured with
 * `partitioner: 'murmur2_random'` (librdkafka's own default, `consistent_random`, uses
 * CRC32 and places keys differently).
 *
 * String keys are hashed as their UTF-8 bytes, which is what Java's `StringSerializer`
 * and Node's `Buffer.from(key)` send for any well-formed string. (For a string holding a
 * lone UTF-16 surrogate, Java writes `?` while JavaScript writes U+FFFD, so such keys are
 * different bytes on the wire in the first place.)
 *
 * @param key - the record key: a string or its serialized bytes.
 * @param numPartitions - the topic's partition count, an integer ≥ 1.
 * @throws {ConfigError} if `numPartitions` is not an integer ≥ 1.
 *
 * @example
 * ```ts
 * const partition = partitionForKey('tBTCUSD', 6); // where a Java producer puts key "tBTCUSD"
 * ```
 */
export function partitionForKey(key: string | Uint8Array, numPartitions: number): number {
  if (!Number.isSafeInteger(numPartitions) || numPartitions < 1) {
    throw new ConfigError(`numPartitions must be an integer >= 1, got ${String(numPartitions)}`, {
      numPartitions,
    });
  }
  let hash: number;
  if (typeof key === 'string') {
    // A UTF-16 code unit becomes at most 3 UTF-8 bytes, so this capacity always suffices.
    const needed = key.length * 3;
    if (scratch.length < needed) scratch = new Uint8Array(Math.max(needed, scratch.length * 2));
    const { written } = encoder.encodeInto(key, scratch);
    hash = murmur2Prefix(scratch, written);
  } else {
    hash = murmur2Prefix(key, key.length);
  }
  return toPositive(hash) % numPartitions;
}
