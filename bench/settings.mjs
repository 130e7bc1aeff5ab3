// Bench settings: every size, count and duration of the benchmark, read once from KANDLE_BENCH_* environment variables.

/** Reads a positive integer from the environment, or the default; a malformed value stops the run with a clear message. */
function positiveInt(name, fallback) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value <= 0) throw new Error(`${name} must be a positive integer, got "${raw}"`);
  return value;
}

/**
 * The benchmark's knobs. Defaults keep the whole run (cluster start and its two-minute warm-up included) within
 * about nine minutes on a 2-core machine.
 */
export const settings = Object.freeze({
  /** Records each producer writes per round, and so what the consumers read back. */
  records: positiveInt('KANDLE_BENCH_RECORDS', 40_000),
  /** Rounds of the producer and consumer measurements, interleaved; the median round is reported. */
  rounds: positiveInt('KANDLE_BENCH_ROUNDS', 3),
  /** Records in flight per producer (the same window for all three clients). */
  inFlight: positiveInt('KANDLE_BENCH_IN_FLIGHT', 5_000),
  /** Records per KafkaJS `send()` call: KafkaJS has no linger, so batching is the caller's job. */
  kafkajsBatch: positiveInt('KANDLE_BENCH_KAFKAJS_BATCH', 250),
  /** Partitions of every bench topic (replication factor 3, min.insync.replicas 2). */
  partitions: positiveInt('KANDLE_BENCH_PARTITIONS', 6),
  /** Distinct coins in the generated ticker stream. */
  symbols: positiveInt('KANDLE_BENCH_SYMBOLS', 10),
  /** Measured time per Avro encode/decode variant (in 8 interleaved slices, plus one warm-up slice). */
  serdeMs: positiveInt('KANDLE_BENCH_SERDE_MS', 2_000),
  /** Ticks folded by the in-memory aggregation measurement. */
  aggregateTicks: positiveInt('KANDLE_BENCH_AGG_TICKS', 4_000_000),
  /** Points written per round of the sink ceiling measurement (after a warm-up of up to 50,000). */
  sinkPoints: positiveInt('KANDLE_BENCH_SINK_POINTS', 200_000),
  /** Seconds the fresh cluster is driven (produce + consume) before the first timed step; see bench/warmup.mjs. */
  clusterWarmupSeconds: positiveInt('KANDLE_BENCH_CLUSTER_WARMUP_SECONDS', 120),
  /** Records/s of that warm-up. */
  clusterWarmupRate: positiveInt('KANDLE_BENCH_CLUSTER_WARMUP_RATE', 5_000),
  /** Rate of the end-to-end tick → candle latency run, records/s. */
  e2eRate: positiveInt('KANDLE_BENCH_E2E_RATE', 1_000),
  /** Measured seconds of the end-to-end run, after 2 s of warm-up at the same rate. */
  e2eSeconds: positiveInt('KANDLE_BENCH_E2E_SECONDS', 15),
});
