import { ConfigError } from '@kandle/core';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createInfluxSink, type InfluxSink, type InfluxSinkOptions, SinkWriteError } from '../src/index';
import { resolveSinkOptions } from '../src/options';
import { candleToPoint, renderLine } from '../src/points';
import { candleSeries, T0, ticker, trade, update } from './support/fixtures';
import { type FaultServer, type Reply, startFaultServer } from './support/fault-server';

const TOKEN = 'kandle-test-token-3f9c2a7e1b';
const silent = { warn: () => {}, error: () => {} };

let server: FaultServer | undefined;
let sink: InfluxSink | undefined;

afterEach(async () => {
  await sink?.close();
  await server?.close();
  sink = undefined;
  server = undefined;
  vi.unstubAllEnvs();
});

async function setUp(options: InfluxSinkOptions = {}, reply?: (index: number) => Reply | Promise<Reply>) {
  server = await startFaultServer(reply ? (_req, i) => reply(i) : undefined);
  sink = createInfluxSink({
    host: server.url,
    token: TOKEN,
    database: 'kandle',
    retryBaseDelayMs: 5,
    retryMaxDelayMs: 20,
    flushIntervalMs: 60_000,
    // Only batch size, flush() and close() send, unless a test sets a linger.
    lingerMs: Number.POSITIVE_INFINITY,
    logger: silent,
    ...options,
  });
  return { server, sink };
}

/** Settles within a few event-loop turns? Used to prove a promise is still pending. */
async function settledSoon(promise: Promise<unknown>, ms = 50): Promise<boolean> {
  let settled = false;
  promise.then(
    () => {
      settled = true;
    },
    () => {
      settled = true;
    },
  );
  await new Promise((r) => setTimeout(r, ms));
  return settled;
}

const lineOf = (u: ReturnType<typeof update>) => renderLine(candleToPoint(u.candle, 'candles'));

describe('createInfluxSink: batching', () => {
  it('sends a batch as soon as batchSize points are buffered, on /api/v2/write with precision ms and the token', async () => {
    const { server, sink } = await setUp({ batchSize: 3 });
    const updates = candleSeries(7);
    const written = sink.write(updates);
    await vi.waitFor(() => expect(server.requests.length).toBe(2));
    expect(server.requests.map((r) => r.lines.length)).toEqual([3, 3]);
    expect(await settledSoon(written)).toBe(false); // the 7th point is still buffered
    await sink.flush();
    await expect(written).resolves.toBeUndefined();
    const [first] = server.requests;
    expect(first?.method).toBe('POST');
    expect(first?.path).toBe('/api/v2/write');
    expect(first?.query.get('bucket')).toBe('kandle');
    expect(first?.query.get('precision')).toBe('ms');
    expect(first?.headers.authorization).toBe(`Token ${TOKEN}`);
    expect(server.requests.flatMap((r) => r.lines)).toEqual(updates.map(lineOf));
    expect(sink.stats()).toMatchObject({ pointsWritten: 7, batchesWritten: 3, pendingPoints: 0 });
  });

  it('sends a partial batch flushIntervalMs after its first point', async () => {
    const { server, sink } = await setUp({ flushIntervalMs: 150, lingerMs: 60_000 });
    const started = Date.now();
    const written = sink.write(candleSeries(2));
    await new Promise((r) => setTimeout(r, 60));
    expect(server.requests.length).toBe(0);
    await written;
    expect(server.requests.length).toBe(1);
    expect((server.requests[0]?.at ?? 0) - started).toBeGreaterThanOrEqual(140);
  });

  it('sends a partial batch once writes pause for lingerMs, so an awaited write never waits for flushIntervalMs', async () => {
    // flushIntervalMs is far beyond the test timeout: only the linger can let these writes resolve.
    const { server, sink } = await setUp({ flushIntervalMs: 600_000, lingerMs: 20 });
    const first = sink.write(candleSeries(2));
    const second = sink.write(candleSeries(1, 'tETHUSD')); // same turn: within the linger, so the same request
    await Promise.all([first, second]);
    expect(server.requests.map((r) => r.lines.length)).toEqual([3]);
    await sink.write(candleSeries(1, 'tXRPUSD'));
    expect(server.requests.length).toBe(2);
    expect(sink.stats()).toMatchObject({ pointsWritten: 4, pendingPoints: 0 });
  });

  it('sends only the newest update of a candle, and resolves every write that carried it', async () => {
    const { server, sink } = await setUp();
    const progress1 = sink.write([update({ close: 1 })]);
    const progress2 = sink.write([update({ close: 2 }), update({ symbol: 'tETHUSD' })]);
    const closed = sink.write([update({ close: 3 }, 'closed')]);
    await sink.flush();
    await Promise.all([progress1, progress2, closed]);
    expect(server.requests.length).toBe(1);
    expect(server.requests[0]?.lines).toEqual([lineOf(update({ close: 3 })), lineOf(update({ symbol: 'tETHUSD' }))]);
    expect(sink.stats().coalescedPoints).toBe(2);
  });

  it('writes tickers and trades to their own (configurable) measurements', async () => {
    const { server, sink } = await setUp({ measurements: { trades: 'fills' } });
    await Promise.all([sink.writeTickers([ticker()]), sink.writeTrades([trade()]), sink.flush()]);
    const lines = server.requests.flatMap((r) => r.lines);
    expect(lines.some((l) => l.startsWith('tickers,symbol=tETHUSD ') && l.includes('close_price=2200.2'))).toBe(true);
    expect(lines.some((l) => l.startsWith('fills,symbol=tBTCUSD,trade_id=1400000001 '))).toBe(true);
  });

  it('gzips bodies above gzipThreshold', async () => {
    const { server, sink } = await setUp({ gzipThreshold: 200 });
    await Promise.all([sink.write(candleSeries(1)), sink.flush()]);
    await Promise.all([sink.write(candleSeries(20, 'tXRPUSD')), sink.flush()]);
    expect(server.requests.map((r) => r.gzipped)).toEqual([false, true]);
    expect(server.requests[1]?.lines.length).toBe(20);
  });
});

describe('createInfluxSink: retries', () => {
  it('retries 503 and 429 and resolves only once the batch is accepted, honouring Retry-After', async () => {
    const replies: Reply[] = [{ status: 503 }, { status: 429, headers: { 'retry-after': '1' } }, { status: 204 }];
    const { server, sink } = await setUp({}, (i) => replies[i] ?? { status: 204 });
    const written = sink.write(candleSeries(3));
    void sink.flush().catch(() => {});
    await vi.waitFor(() => expect(server.requests.length).toBe(2));
    expect(await settledSoon(written, 300)).toBe(false);
    await written;
    const [, second, third] = server.requests;
    expect(server.requests.length).toBe(3);
    expect((third?.at ?? 0) - (second?.at ?? 0)).toBeGreaterThanOrEqual(990);
    expect(third?.lines).toEqual(server.requests[0]?.lines);
    expect(sink.stats()).toMatchObject({ retries: 2, pointsWritten: 3, failedPoints: 0 });
  });

  it('retries when the connection drops without an answer', async () => {
    const { server, sink } = await setUp({}, (i) => (i < 2 ? 'drop' : { status: 204 }));
    await Promise.all([sink.write(candleSeries(2)), sink.flush()]);
    expect(server.requests.length).toBe(3);
  });

  it('gives up after maxRetries with a SinkWriteError', async () => {
    const { server, sink } = await setUp({ maxRetries: 2 }, () => ({ status: 500, body: '{"error":"disk full"}' }));
    const written = sink.write(candleSeries(2));
    void sink.flush().catch(() => {});
    const error = await written.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(SinkWriteError);
    expect((error as SinkWriteError).message).toMatch(/after 2 retries/);
    expect(server.requests.length).toBe(3);
    expect(sink.stats()).toMatchObject({ failedPoints: 2, failedBatches: 1, retries: 2 });
  });

  it('does not retry a 4xx that names no line, and reports the first line', async () => {
    const updates = candleSeries(3);
    const { server, sink } = await setUp({}, () => ({
      status: 404,
      body: '{"code":"not found","message":"database not found"}',
    }));
    const written = sink.write(updates);
    void sink.flush().catch(() => {});
    const error = (await written.catch((e: unknown) => e)) as SinkWriteError;
    expect(error).toBeInstanceOf(SinkWriteError);
    expect(error.code).toBe('SINK_WRITE_FAILED');
    expect(error.message).toContain(lineOf(updates[0] as ReturnType<typeof update>));
    expect(error.details.status).toBe(404);
    await new Promise((r) => setTimeout(r, 100));
    expect(server.requests.length).toBe(1);
  });

  it('fails only the lines a 400 names, resends the others, and puts the refused line in the error', async () => {
    const [a, b, c] = candleSeries(3) as [
      ReturnType<typeof update>,
      ReturnType<typeof update>,
      ReturnType<typeof update>,
    ];
    const { server, sink } = await setUp({}, (i) =>
      i === 0
        ? {
            status: 400,
            body: JSON.stringify({ code: 'invalid', message: 'error in line 2: cast error', line: 2 }),
          }
        : { status: 204 },
    );
    const writes = [sink.write([a]), sink.write([b]), sink.write([c])];
    void sink.flush().catch(() => {});
    const [ra, rb, rc] = await Promise.allSettled(writes);
    expect(ra?.status).toBe('fulfilled');
    expect(rc?.status).toBe('fulfilled');
    expect(rb?.status).toBe('rejected');
    const error = (rb as PromiseRejectedResult).reason as SinkWriteError;
    expect(error.message).toContain(lineOf(b));
    expect(error.details.lines).toEqual([lineOf(b)]);
    expect(server.requests.map((r) => r.lines)).toEqual([
      [lineOf(a), lineOf(b), lineOf(c)],
      [lineOf(a), lineOf(c)],
    ]);
  });

  it('splits a batch the server finds too large (413)', async () => {
    const { server, sink } = await setUp({}, (i) => (i === 0 ? { status: 413 } : { status: 204 }));
    await Promise.all([sink.write(candleSeries(5)), sink.flush()]);
    expect(server.requests.map((r) => r.lines.length)).toEqual([5, 3, 2]);
  });
});

describe('createInfluxSink: backpressure', () => {
  it('holds writes back beyond maxPendingPoints and releases them as batches are accepted', async () => {
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const { server, sink } = await setUp({ batchSize: 2, maxPendingPoints: 4 }, async () => {
      await gate;
      return { status: 204 };
    });
    const updates = candleSeries(10);
    const writes = updates.map((u) => sink.write([u]));
    await vi.waitFor(() => expect(server.requests.length).toBe(1));
    expect(sink.stats()).toMatchObject({ pendingPoints: 4, waitingPoints: 6 });
    expect(await settledSoon(writes[9] as Promise<void>)).toBe(false);
    release();
    await Promise.all(writes);
    await sink.flush();
    expect(server.requests.flatMap((r) => r.lines)).toEqual(updates.map(lineOf));
    expect(server.requests.every((r) => r.lines.length <= 2)).toBe(true);
  });
});

describe('createInfluxSink: secrets', () => {
  it('never lets the token into errors, their causes, logs or stats', async () => {
    const logged: string[] = [];
    const logger = {
      warn: (m: string, d?: unknown) => logged.push(m, JSON.stringify(d ?? {})),
      error: (m: string, d?: unknown) => logged.push(m, JSON.stringify(d ?? {})),
    };
    // A careless server echoing the credential back, bare and in a header-like form.
    const echo = `invalid token ${TOKEN}; Authorization: Token ${TOKEN}`;
    const { sink } = await setUp({ logger, maxRetries: 1 }, (i) =>
      i === 0
        ? { status: 503, body: JSON.stringify({ message: echo }) }
        : { status: 401, body: JSON.stringify({ message: echo }) },
    );
    const written = sink.write(candleSeries(1));
    void sink.flush().catch(() => {});
    const error = (await written.catch((e: unknown) => e)) as SinkWriteError;
    expect(error).toBeInstanceOf(SinkWriteError);
    const cause = error.cause as Error;
    const texts = [
      String(error),
      error.stack ?? '',
      JSON.stringify(error, Object.getOwnPropertyNames(error)),
      JSON.stringify(error.details),
      String(cause),
      cause.stack ?? '',
      JSON.stringify(cause, Object.getOwnPropertyNames(cause)),
      JSON.stringify(sink.stats()),
      ...logged,
    ];
    expect(texts.join('\n')).toContain('invalid token'); // the message did get through…
    for (const text of texts) expect(text).not.toContain(TOKEN); // …without the token
  });
});

describe('createInfluxSink: options and lifecycle', () => {
  it('falls back to INFLUX_HOST, INFLUX_TOKEN and INFLUX_DATABASE', () => {
    const resolved = resolveSinkOptions(
      {},
      { INFLUX_HOST: 'http://db.local:8181/', INFLUX_TOKEN: 't', INFLUX_DATABASE: 'd' },
    );
    expect(resolved).toMatchObject({
      host: 'http://db.local:8181',
      token: 't',
      database: 'd',
      batchSize: 1000,
      flushIntervalMs: 1000,
      lingerMs: 5,
      maxPendingPoints: 50_000,
    });
  });

  it('throws ConfigError without host, database or token, or with nonsense values', () => {
    vi.stubEnv('INFLUX_HOST', '');
    vi.stubEnv('INFLUX_DATABASE', '');
    vi.stubEnv('INFLUX_TOKEN', '');
    expect(() => createInfluxSink({ database: 'd', token: 't' })).toThrow(ConfigError);
    expect(() => createInfluxSink({ host: 'http://127.0.0.1:1', token: 't' })).toThrow(/INFLUX_DATABASE/);
    expect(() => createInfluxSink({ host: 'http://127.0.0.1:1', database: 'd' })).toThrow(/INFLUX_TOKEN/);
    expect(() => resolveSinkOptions({ host: 'ftp://x', database: 'd' }, {})).toThrow(ConfigError);
    expect(() => resolveSinkOptions({ host: 'http://x', database: 'd', token: 't', batchSize: 0 }, {})).toThrow(
      /batchSize/,
    );
    expect(() =>
      resolveSinkOptions({ host: 'http://x', database: 'd', token: 't', batchSize: 10, maxPendingPoints: 5 }, {}),
    ).toThrow(/maxPendingPoints/);
    expect(() => resolveSinkOptions({ host: 'http://x', database: 'd', token: 't', lingerMs: -1 }, {})).toThrow(
      /lingerMs/,
    );
  });

  it('rejects a write with a bad record before buffering any of it', async () => {
    const { server, sink } = await setUp();
    await expect(sink.write([update(), update({ start: T0 + 60_000, close: Number.NaN })])).rejects.toThrow(
      SinkWriteError,
    );
    await sink.flush();
    expect(server.requests.length).toBe(0);
    expect(sink.stats().pendingPoints).toBe(0);
  });

  it('close() flushes what is buffered and refuses later writes', async () => {
    const { server, sink } = await setUp();
    const written = sink.write(candleSeries(4));
    await sink.close();
    await expect(written).resolves.toBeUndefined();
    expect(server.requests.flatMap((r) => r.lines).length).toBe(4);
    await expect(sink.write(candleSeries(1))).rejects.toThrow(/closed/);
  });

  it('close() fails what the server never accepted once closeTimeoutMs has passed', async () => {
    const { sink } = await setUp({ closeTimeoutMs: 200, batchSize: 2, maxPendingPoints: 2 }, () => ({ status: 503 }));
    const first = sink.write(candleSeries(2));
    const held = sink.write(candleSeries(2, 'tETHUSD'));
    const started = Date.now();
    await sink.close();
    expect(Date.now() - started).toBeLessThan(2000);
    await expect(first).rejects.toThrow(/closed before/);
    await expect(held).rejects.toThrow(/closed before/);
    expect(sink.stats().pendingPoints).toBe(0);
  });
});
