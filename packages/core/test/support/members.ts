// Test support: group members in child processes (so they can be SIGKILLed) and the candle bookkeeping the group tests share.
import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import {
  type Candle,
  type CandleUpdate,
  createCandleAggregator,
  type MarketEvent,
  type TopicPartition,
} from '../../src/index';

const memberScript = fileURLToPath(new URL('./candle-member.ts', import.meta.url));

export const bucketKey = (c: Candle) => `${c.symbol}|${c.source}|${c.interval}|${c.start}`;

/** Closed candles from every member of a group; a candle emitted twice must be emitted identically. */
export function closedCandleLog() {
  const closed = new Map<string, Candle>();
  const conflicts: string[] = [];
  return {
    closed,
    conflicts,
    record(updates: CandleUpdate[]) {
      for (const u of updates) {
        if (u.kind === 'progress') continue;
        const key = bucketKey(u.candle);
        const seen = closed.get(key);
        if (seen && JSON.stringify(seen) !== JSON.stringify(u.candle)) conflicts.push(key);
        closed.set(key, u.candle);
      }
    },
    /** Differences between what the group produced (closed, plus `open` still in memory) and the reference. */
    differences(open: Candle[], expected: Map<string, Candle>): string[] {
      const actual = new Map(closed);
      for (const c of open) if (!actual.has(bucketKey(c))) actual.set(bucketKey(c), c);
      const wrong = [...expected].filter(([key, c]) => JSON.stringify(actual.get(key)) !== JSON.stringify(c));
      const extra = [...actual.keys()].filter((key) => !expected.has(key));
      return [
        ...wrong.map(([key, c]) => `differs: ${key}: ${JSON.stringify(actual.get(key))} != ${JSON.stringify(c)}`),
        ...extra.map((key) => `unexpected: ${key}`),
      ];
    },
  };
}

/** The candles a single, never-interrupted aggregation of `events` produces. */
export function referenceCandles(events: MarketEvent[], intervals: Array<'1m' | '5m'>): Map<string, Candle> {
  const reference = createCandleAggregator({ intervals, gracePeriodMs: 5000, retainClosedBuckets: 100_000 });
  for (const e of events) e.kind === 'ticker' ? reference.addTicker(e.ticker) : reference.addTrade(e.trade);
  reference.flush();
  return new Map(reference.snapshot().map((c) => [bucketKey(c), c]));
}

export interface ChildMember {
  readonly process: ChildProcess;
  /** Partitions the member reported after its last rebalance. */
  owned(): TopicPartition[];
  /** Records it acknowledged so far. */
  records(): number;
}

/** Starts `candle-member.ts` in a child process; candle updates it emits go to `onUpdates`. */
export function spawnMember(options: {
  brokers: string;
  registryUrl: string;
  groupId: string;
  clientId: string;
  topics: { tickers: string; trades: string };
  assignor?: 'standby';
  /** The candles topic (`output.topic`), and exactly-once processing. */
  output?: string;
  processing?: 'exactly-once';
  onUpdates: (updates: CandleUpdate[]) => void;
  /** The member's `onWarning` errors, by code. */
  onWarning?: (warning: { warning: string; message: string }) => void;
}): ChildMember {
  const child = spawn(process.execPath, ['--import', 'tsx', memberScript], {
    env: {
      ...process.env,
      MEMBER_BROKERS: options.brokers,
      MEMBER_REGISTRY: options.registryUrl,
      MEMBER_GROUP: options.groupId,
      MEMBER_CLIENT_ID: options.clientId,
      MEMBER_TOPICS: JSON.stringify(options.topics),
      MEMBER_ASSIGNOR: options.assignor ?? '',
      MEMBER_OUTPUT: options.output ?? '',
      MEMBER_PROCESSING: options.processing ?? '',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let owned: TopicPartition[] = [];
  let records = 0;
  createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
    const message = JSON.parse(line) as {
      records?: number;
      updates?: CandleUpdate[];
      owned?: TopicPartition[];
      warning?: string;
      message?: string;
    };
    if (message.warning) options.onWarning?.({ warning: message.warning, message: message.message ?? '' });
    if (message.owned) owned = message.owned;
    if (message.records !== undefined) records = message.records;
    if (message.updates) options.onUpdates(message.updates);
  });
  return { process: child, owned: () => owned, records: () => records };
}
