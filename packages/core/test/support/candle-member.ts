// Test support: one candle-consumer group member in its own process, so a test can SIGKILL it mid-stream.
import { createCandleConsumer } from '../../src/index';
import { standbyAssignor } from './standby-assignor';

const env = (name: string): string => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is required`);
  return value;
};

let records = 0;
/**
 * The zombie test: armed by SIGUSR2, the member stops itself (SIGSTOP) in the first batch whose previous batch's
 * writes are still in the open transaction (no commit since), so it is certain to sleep with a transaction open.
 * Stopped from outside, it could sleep just after a commit with nothing open, and then there is nothing to fence.
 */
let stopWithOpenTransaction = false;
let commitsAtLastBatch = -1;
process.on('SIGUSR2', () => {
  stopWithOpenTransaction = true;
});
const consumer = await createCandleConsumer({
  connection: { brokers: env('MEMBER_BROKERS') },
  registry: { url: env('MEMBER_REGISTRY') },
  groupId: env('MEMBER_GROUP'),
  clientId: process.env.MEMBER_CLIENT_ID ?? 'member-child',
  topics: JSON.parse(env('MEMBER_TOPICS')),
  intervals: ['1m', '5m'],
  ...(process.env.MEMBER_ASSIGNOR === 'standby' ? { assignment: standbyAssignor } : {}),
  ...(process.env.MEMBER_OUTPUT ? { output: { topic: process.env.MEMBER_OUTPUT } } : {}),
  ...(process.env.MEMBER_PROCESSING === 'exactly-once' ? { processing: 'exactly-once' as const } : {}),
  onWarning: (e) => process.stdout.write(`${JSON.stringify({ warning: e.code, message: e.message })}\n`),
  // Each settled assignment as a JSON line, so the parent can compare it with the assignor's decision.
  onRebalance: (event) => process.stdout.write(`${JSON.stringify({ owned: event.owned })}\n`),
  sessionTimeoutMs: 6000,
  commitIntervalMs: 200,
  // One JSON line per acknowledged batch: the parent sees exactly what this member emitted before it died.
  onCandles: (updates, batch) => {
    records += batch.records;
    process.stdout.write(`${JSON.stringify({ records, updates })}\n`);
    const commits = consumer?.stats().commits ?? -1;
    if (stopWithOpenTransaction && commits === commitsAtLastBatch) {
      // Once: still armed after SIGCONT, it stopped itself again later and outlived the test, stopped (state T).
      stopWithOpenTransaction = false;
      process.kill(process.pid, 'SIGSTOP');
    }
    commitsAtLastBatch = commits;
  },
});
process.on('SIGTERM', () => void consumer.close().then(() => process.exit(0)));
