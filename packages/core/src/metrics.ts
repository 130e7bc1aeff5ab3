// Metrics: turns librdkafka's statistics JSON and our own delivery timings into typed numbers.

/** Round-trip time of one broker, microseconds as librdkafka reports them, converted to ms. */
export interface BrokerRtt {
  broker: string;
  avgMs: number;
  p99Ms: number;
}

/** Producer health from `statistics.interval.ms` plus kandle's own delivery-report timing. */
export interface ProducerMetrics {
  /** Messages waiting in librdkafka's queue (not yet acknowledged). */
  queueDepth: number;
  /** Delivery latency (send → acknowledged) over the last window, ms. */
  deliveryLatencyMs: { p50: number; p99: number; count: number };
  brokers: BrokerRtt[];
  /** Records acknowledged since start. */
  delivered: number;
  failed: number;
}

/** Consumer health: lag per partition from librdkafka's statistics. */
export interface ConsumerMetrics {
  lag: Array<{ topic: string; partition: number; lag: number }>;
  brokers: BrokerRtt[];
}

interface RawStats {
  msg_cnt?: number;
  brokers?: Record<string, { name?: string; nodeid?: number; rtt?: { avg?: number; p99?: number } }>;
  topics?: Record<string, { partitions?: Record<string, { partition?: number; consumer_lag?: number }> }>;
}

/** Parses the JSON librdkafka emits every `statistics.interval.ms`. */
export function parseRdkafkaStats(json: string): {
  queueDepth: number;
  brokers: BrokerRtt[];
  lag: ConsumerMetrics['lag'];
} {
  const raw = JSON.parse(json) as RawStats;
  const brokers = Object.values(raw.brokers ?? {})
    .filter((b) => (b.nodeid ?? -1) >= 0)
    .map((b) => ({ broker: b.name ?? '?', avgMs: (b.rtt?.avg ?? 0) / 1000, p99Ms: (b.rtt?.p99 ?? 0) / 1000 }));
  const lag: ConsumerMetrics['lag'] = [];
  for (const [topic, t] of Object.entries(raw.topics ?? {})) {
    for (const p of Object.values(t.partitions ?? {})) {
      if ((p.partition ?? -1) < 0 || (p.consumer_lag ?? -1) < 0) continue;
      lag.push({ topic, partition: p.partition as number, lag: p.consumer_lag as number });
    }
  }
  return { queueDepth: raw.msg_cnt ?? 0, brokers, lag };
}

/** A fixed-size ring of recent samples with percentiles; O(window log window) per read, O(1) per add. */
export class LatencyWindow {
  private readonly samples: Float64Array;
  private next = 0;
  private filled = 0;
  total = 0;

  constructor(size = 4096) {
    this.samples = new Float64Array(size);
  }

  add(ms: number): void {
    this.samples[this.next] = ms;
    this.next = (this.next + 1) % this.samples.length;
    if (this.filled < this.samples.length) this.filled++;
    this.total++;
  }

  percentiles(): { p50: number; p99: number; count: number } {
    if (this.filled === 0) return { p50: 0, p99: 0, count: 0 };
    const sorted = Array.from(this.samples.subarray(0, this.filled)).sort((a, b) => a - b);
    const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number;
    return { p50: at(0.5), p99: at(0.99), count: this.total };
  }
}
