// Tests of the fault lab's guards (one operation at a time, loopback, header), the timeline's diffing and the write ledger.
import { NotEnoughReplicasError } from '@kandle/core';
import { afterEach, describe, expect, it } from 'vitest';
import { createCandleStore } from '../src/candle-store';
import { type BrokerControl, createFaultLab, FaultRequestError } from '../src/fault-lab';
import { type PageServer, startPageServer } from '../src/server';
import { createTimeline } from '../src/timeline';
import { createWriteLedger } from '../src/write-ledger';

/**
 * Broker processes whose stop and start finish when the test says so: the guard logic is about timing of requests,
 * which real JVMs (fault-lab.int.test.ts) cannot hold still.
 */
function heldBrokers(ids: number[]) {
  const running = new Map(ids.map((id) => [id, true]));
  const calls: string[] = [];
  let release: (() => void) | undefined;
  const held = () => new Promise<void>((resolve) => (release = resolve));
  const control: BrokerControl = {
    brokers: ids.map((id) => ({ id })),
    isRunning: (id) => running.get(id) ?? false,
    async stopBroker(id, signal) {
      calls.push(`stop ${id} ${signal}`);
      await held();
      running.set(id, false);
    },
    async startBroker(id) {
      calls.push(`start ${id}`);
      await held();
      running.set(id, true);
    },
  };
  return { control, calls, finish: () => release?.() };
}

describe('createFaultLab', () => {
  it('runs one operation at a time and refuses the rest with 409', async () => {
    const brokers = heldBrokers([1, 2, 3]);
    const events: string[] = [];
    const lab = createFaultLab({ control: brokers.control, onEvent: (kind) => events.push(kind) });
    lab.request('kill', 2);
    expect(() => lab.request('kill', 3)).toThrow(FaultRequestError);
    expect(() => lab.request('kill', 2)).toThrow(/busy: kill -9 broker 2/);
    const view = lab.view();
    expect(view.enabled && view.busy?.brokerId).toBe(2);
    brokers.finish();
    await lab.idle();
    expect(brokers.calls).toEqual(['stop 2 SIGKILL']);
    expect(() => lab.request('stop', 2)).toThrow(/already stopped/);
    lab.request('start', 2);
    brokers.finish();
    await lab.idle();
    expect(brokers.calls).toEqual(['stop 2 SIGKILL', 'start 2']);
    expect(events).toEqual(['fault-requested', 'fault-done', 'fault-requested', 'fault-done']);
    expect(() => lab.request('start', 7)).toThrow(/no broker 7/);
  });

  it('is off without brokers it started, and says why', () => {
    const lab = createFaultLab({ control: undefined });
    expect(lab.view()).toMatchObject({ enabled: false, reason: expect.stringMatching(/did not start/) });
    expect(() => lab.request('kill', 1)).toThrow(expect.objectContaining({ status: 404 }));
  });
});

describe('POST /api/fault', () => {
  let server: PageServer | undefined;
  afterEach(() => server?.close());

  const start = async (control: BrokerControl | undefined) => {
    server = await startPageServer({
      host: '127.0.0.1',
      port: 0,
      store: createCandleStore(),
      info: { symbols: [], intervals: [], sources: [], groupId: 'g', topics: { tickers: 't', trades: 'x' }, feed: 'f' },
      kafkaView: () => Promise.reject(new Error('no cluster in this test')),
      ...(control ? { faultLab: createFaultLab({ control }) } : {}),
    });
    return (query: string, headers: Record<string, string> = { 'x-kandle-fault': '1' }) =>
      fetch(new URL(`/api/fault?${query}`, server?.url), { method: 'POST', headers });
  };

  it('starts an operation (202), refuses a concurrent one (409), bad requests (400) and requests without the header (403)', async () => {
    const brokers = heldBrokers([1, 2, 3]);
    const post = await start(brokers.control);
    expect((await post('action=kill&broker=1', {})).status).toBe(403);
    expect((await post('action=reboot&broker=1')).status).toBe(400);
    expect((await post('action=kill&broker=x')).status).toBe(400);
    const first = await post('action=kill&broker=1');
    expect(first.status).toBe(202);
    expect((await first.json()).operation).toMatchObject({ action: 'kill', brokerId: 1, endedAt: null });
    const [a, b] = await Promise.all([post('action=stop&broker=2'), post('action=stop&broker=3')]);
    expect([a.status, b.status]).toEqual([409, 409]);
    brokers.finish();
    expect(brokers.calls).toEqual(['stop 1 SIGKILL']);
    // Other methods elsewhere are still refused.
    expect((await fetch(new URL('/api/kafka', server?.url), { method: 'POST' })).status).toBe(405);
  });

  it('answers 404 when the page has no lab', async () => {
    const post = await start(undefined);
    expect((await post('action=kill&broker=1')).status).toBe(404);
  });
});

describe('createTimeline', () => {
  it('turns successive observations into broker, leader, ISR and group events, and nothing for a missing part', () => {
    let now = 1_000;
    const timeline = createTimeline({ now: () => now });
    const members = (n: number) =>
      Array.from({ length: n }, (_, i) => ({ clientId: `m${i + 1}`, assignment: [0, 1].slice(0, 4 / n / 2) }));
    timeline.observe({
      brokers: [1, 2, 3].map((id) => ({ id, up: true })),
      partitions: [{ topic: 't', partition: 0, leader: 2, isr: [1, 2, 3] }],
      group: { state: 'Stable', members: members(2) },
    });
    expect(timeline.events()).toEqual([]);
    now = 2_000;
    timeline.observe({ group: { state: 'Stable', members: members(2) } }); // metadata failed: no broker events
    timeline.observe({
      brokers: [
        { id: 1, up: true },
        { id: 2, up: false },
        { id: 3, up: true },
      ],
      partitions: [{ topic: 't', partition: 0, leader: 1, isr: [1, 3] }],
      group: { state: 'PreparingRebalance', members: members(1) },
    });
    expect(timeline.events().map((e) => [e.at, e.kind, e.message])).toEqual([
      [2_000, 'broker-down', 'broker 2 down (not in the cluster metadata)'],
      [2_000, 'leader', 't[0]: leader 2 → 1'],
      [2_000, 'isr-shrink', 't[0]: ISR 1,2,3 → 1,3 (2 out of sync)'],
      [2_000, 'group', expect.stringMatching(/^group Stable → PreparingRebalance; 1 member/)],
    ]);
    timeline.observe({
      brokers: [1, 2, 3].map((id) => ({ id, up: true })),
      partitions: [{ topic: 't', partition: 0, leader: 1, isr: [1, 2, 3] }],
    });
    expect(
      timeline
        .events()
        .slice(-2)
        .map((e) => e.kind),
    ).toEqual(['broker-up', 'isr-expand']);
  });

  it('keeps the newest `limit` events', () => {
    const timeline = createTimeline({ limit: 3 });
    for (let i = 0; i < 5; i++) timeline.add('fault', `event ${i}`);
    expect(timeline.events().map((e) => e.message)).toEqual(['event 2', 'event 3', 'event 4']);
  });
});

describe('createWriteLedger', () => {
  it('counts produced, acknowledged, refused and failed, reports transitions, and lost against the log end', async () => {
    const transitions: string[] = [];
    const ledger = createWriteLedger({ onTransition: (t) => transitions.push(t.kind) });
    const ack = (offset: number) => Promise.resolve({ topic: 't', partition: 0, offset: String(offset) });
    await ledger.track(ack(0));
    await ledger.track(ack(1));
    await ledger.track(Promise.reject(new NotEnoughReplicasError('t'))).catch(() => undefined);
    await ledger.track(Promise.reject(new NotEnoughReplicasError('t'))).catch(() => undefined);
    await ledger.track(Promise.reject(new Error('timed out'))).catch(() => undefined);
    const waiting = ledger.track(new Promise(() => undefined));
    void waiting;
    await ledger.track(ack(2));
    expect(transitions).toEqual(['refused', 'resumed']);
    expect(ledger.view(new Map([['t|0', 3]]))).toMatchObject({
      produced: 7,
      acknowledged: 3,
      refused: 2,
      failed: 1,
      pending: 1,
      lost: 0,
    });
    // The log end moved back below acknowledged offsets (an unclean election would do that): those are lost.
    expect(ledger.view(new Map([['t|0', 1]])).lost).toBe(2);
    expect(ledger.view(undefined).lost).toBeNull();
    expect(ledger.view(new Map()).lost).toBeNull();
    expect(ledger.acknowledgedOn('t')).toBe(3);
    // End offsets read before an acknowledgement arrived cannot hold it: only acknowledgements up to the mark count.
    const mark = ledger.mark();
    await ledger.track(ack(3));
    expect(ledger.view(new Map([['t|0', 3]]), mark).lost).toBe(0);
    expect(ledger.view(new Map([['t|0', 3]])).lost).toBe(1);
  });
});
