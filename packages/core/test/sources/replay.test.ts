// Tests / replay source: timing scaled by speed, rebasing, looping, validation and NDJSON recordings.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FeedMessageError } from '../../src/errors';
import { createReplaySource, loadRecording, type ReplaySourceOptions, saveRecording } from '../../src/sources/replay';
import { FeedError, type MarketEvent, type SourceError } from '../../src/sources/source';
import { generateSyntheticEvents } from '../../src/sources/synthetic';

const dir = mkdtempSync(join(tmpdir(), 'kandle-replay-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const timeOf = (e: MarketEvent): number => (e.kind === 'ticker' ? e.ticker.eventTime : e.trade.time);

function trade(id: number, time: number, price = 100): MarketEvent {
  return { kind: 'trade', trade: { id, symbol: 'tBTCUSD', time, amount: 1, price } };
}

/** Plays a recording to the end and returns what was emitted, the errors and the wall time it took. */
async function play(options: ReplaySourceOptions, limit = Number.POSITIVE_INFINITY) {
  const source = createReplaySource(options);
  const events: MarketEvent[] = [];
  const errors: SourceError[] = [];
  source.onError((e) => errors.push(e));
  const done = new Promise<void>((resolve) => {
    source.onStatus((s) => (s === 'ended' || s === 'stopped') && resolve());
    source.onEvent((e) => {
      events.push(e);
      if (events.length >= limit) void source.stop();
    });
  });
  const started = Date.now();
  await source.start();
  await done;
  return { events, errors, elapsed: Date.now() - started, stats: source.stats(), source };
}

describe('createReplaySource', () => {
  const recording = [trade(1, 10_000), trade(2, 10_100), trade(3, 10_400), trade(4, 10_500)];

  it("plays everything in order at speed 'max' and keeps the recorded spacing when rebasing", async () => {
    const before = Date.now();
    const { events, stats, source } = await play({ events: recording, speed: 'max' });
    expect(events.map((e) => e.kind === 'trade' && e.trade.id)).toEqual([1, 2, 3, 4]);
    const times = events.map(timeOf);
    expect(times[0]).toBeGreaterThanOrEqual(before);
    expect(times.map((t) => t - (times[0] as number))).toEqual([0, 100, 400, 500]);
    expect(stats.trades).toBe(4);
    expect(source.status).toBe('ended');
  });

  it('keeps recorded times with rebase: false', async () => {
    const { events } = await play({ events: recording, speed: 'max', rebase: false });
    expect(events.map(timeOf)).toEqual([10_000, 10_100, 10_400, 10_500]);
  });

  it('preserves inter-event gaps divided by speed, and rebased times follow the wall clock', async () => {
    // 500 ms of recording at speed 10 → ~50 ms of playback.
    const { events, elapsed } = await play({ events: recording, speed: 10 });
    expect(elapsed).toBeGreaterThanOrEqual(45);
    expect(elapsed).toBeLessThan(1000);
    const times = events.map(timeOf);
    expect(times.map((t) => t - (times[0] as number))).toEqual([0, 10, 40, 50]);
  });

  it('with history, starts its clock that far back: the past at once and in batches, the rest in real time', async () => {
    // 100 trades 1 s apart; speed 1; 90 s of history → the first ~91 are in the past, the last ones are live.
    const long = Array.from({ length: 100 }, (_, i) => trade(i + 1, 1_000_000 + i * 1000));
    const source = createReplaySource({
      events: long,
      history: { durationMs: 90_000, batchSize: 10, pause: () => void pauses++ },
    });
    let pauses = 0;
    const events: MarketEvent[] = [];
    source.onEvent((e) => events.push(e));
    // The source reads the clock inside start(): bracket it, as a millisecond can pass on either side.
    const before = Date.now();
    await source.start();
    const after = Date.now();
    await new Promise<void>((resolve) => {
      const off = source.onEvent(() => {
        if (events.length < 92) return;
        off();
        resolve();
      });
    });
    await source.stop();
    const times = events.map(timeOf);
    expect(times[0]).toBeGreaterThanOrEqual(before - 90_000);
    expect(times[0]).toBeLessThanOrEqual(after - 90_000);
    expect(times.map((t) => t - (times[0] as number))).toEqual(events.map((_, i) => i * 1000));
    expect(times[90]).toBeLessThanOrEqual(after);
    expect(times[91]).toBeGreaterThan(before);
    expect(pauses).toBe(9);
  });

  it('refuses history without rebase', () => {
    expect(() => createReplaySource({ events: recording, rebase: false, history: { durationMs: 1 } })).toThrow(
      /rebase/,
    );
  });

  it('loops with monotonic times and fresh trade ids', async () => {
    const { events } = await play({ events: recording, speed: 'max', loop: true, rebase: false }, 10);
    expect(events).toHaveLength(10);
    const ids = events.map((e) => (e.kind === 'trade' ? e.trade.id : -1));
    const times = events.map(timeOf);
    for (let i = 1; i < events.length; i += 1) {
      expect(ids[i]).toBeGreaterThan(ids[i - 1] as number);
      expect(times[i]).toBeGreaterThan(times[i - 1] as number);
    }
    // lap 2 starts one average gap (500 / 3 ≈ 167 ms) after lap 1 ends.
    expect(times[4]).toBe(10_500 + 167);
    expect(ids[4]).toBe(5);
  });

  it('loops a one-shot async iterable by buffering the first lap', async () => {
    async function* once(): AsyncGenerator<MarketEvent> {
      yield* recording;
    }
    const { events } = await play({ events: once(), speed: 'max', loop: true }, 9);
    expect(events.map((e) => e.kind === 'trade' && e.trade.id)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('counts and reports invalid events, and keeps playing', async () => {
    const bad = [
      trade(1, 1000),
      { kind: 'trade', trade: { id: 'x' } },
      { kind: 'candle' },
      trade(2, 1001),
    ] as MarketEvent[];
    const { events, errors, stats } = await play({ events: bad, speed: 'max' });
    expect(events).toHaveLength(2);
    expect(stats.malformed).toBe(2);
    expect(errors.every((e) => e instanceof FeedMessageError)).toBe(true);
  });

  it('rejects bad options', () => {
    expect(() => createReplaySource({ events: recording, speed: 0 })).toThrow(/speed/);
    expect(() => createReplaySource({ events: 5 as never })).toThrow(/iterable/);
  });
});

describe('recordings (NDJSON)', () => {
  it('round-trips saveRecording → loadRecording → replay', async () => {
    const path = join(dir, 'roundtrip.ndjson');
    const events = generateSyntheticEvents({ count: 300, seed: 8 });
    expect(await saveRecording(path, events)).toBe(300);
    const loaded: MarketEvent[] = [];
    for await (const event of loadRecording(path)) loaded.push(event);
    expect(loaded).toEqual(events);
    const { events: replayed } = await play({ events: loadRecording(path), speed: 'max', rebase: false });
    expect(replayed).toEqual(events);
  });

  it('records a live source until it ends', async () => {
    const path = join(dir, 'live.ndjson');
    const source = createReplaySource({ events: generateSyntheticEvents({ count: 50, seed: 1 }), speed: 'max' });
    const written = saveRecording(path, source);
    await source.start();
    expect(await written).toBe(50);
  });

  it('names the bad line, reports it and ends the replay', async () => {
    const path = join(dir, 'bad.ndjson');
    const good = JSON.stringify(trade(1, 1000));
    writeFileSync(path, `${good}\n\n${good.replace('"id":1', '"id":2')}\n{"kind":"trade","trade":{"id":3}}\n${good}\n`);
    const { events, errors, source } = await play({ events: loadRecording(path), speed: 'max' });
    expect(events).toHaveLength(2);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toBeInstanceOf(FeedMessageError);
    expect(errors[0]?.message).toContain('bad.ndjson:4');
    expect(source.status).toBe('ended');
  });

  it('reports a missing file as FeedError recording-unreadable', async () => {
    const { errors } = await play({ events: loadRecording(join(dir, 'missing.ndjson')) });
    expect(errors[0]).toBeInstanceOf(FeedError);
    expect((errors[0] as FeedError).reason).toBe('recording-unreadable');
  });
});
