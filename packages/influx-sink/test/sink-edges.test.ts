// Tests / influx-sink against servers that misbehave at the edges: a socket that never answers, a retry-time budget, the auth scheme.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createInfluxSink, type InfluxSink, type InfluxSinkOptions, SinkWriteError } from '../src/index';
import { candleSeries } from './support/fixtures';
import { type FaultServer, startFaultServer } from './support/fault-server';
import { type SilentServer, startSilentServer } from './support/silent-server';

const TOKEN = 'kandle-edge-token-8d1e0c';
const silentLogger = { warn: () => {}, error: () => {} };

let sink: InfluxSink | undefined;
let faults: FaultServer | undefined;
let silent: SilentServer | undefined;

afterEach(async () => {
  await sink?.close();
  await faults?.close();
  await silent?.close();
  sink = undefined;
  faults = undefined;
  silent = undefined;
  vi.unstubAllEnvs();
});

function sinkFor(host: string, options: InfluxSinkOptions = {}): InfluxSink {
  sink = createInfluxSink({
    host,
    token: TOKEN,
    database: 'kandle',
    retryBaseDelayMs: 5,
    retryMaxDelayMs: 20,
    flushIntervalMs: 60_000,
    // Only batch size, flush() and close() send, unless a test sets a linger.
    lingerMs: Number.POSITIVE_INFINITY,
    logger: silentLogger,
    ...options,
  });
  return sink;
}

/** Writes, flushes, and returns what the write settled with. */
async function writeAndSettle(target: InfluxSink, points = 2): Promise<unknown> {
  const written = target.write(candleSeries(points));
  void target.flush().catch(() => {});
  return written.then(
    () => 'resolved',
    (error: unknown) => error,
  );
}

describe('influx sink: a server that accepts and never answers', () => {
  // The default requestTimeoutMs is 10 s: if the option did not reach the HTTP request, 3 attempts would take 30 s
  // and this test would hit its 8 s timeout.
  it('fails each attempt with a timeout after requestTimeoutMs, retries it, and acknowledges nothing', async () => {
    silent = await startSilentServer();
    const target = sinkFor(silent.url, { requestTimeoutMs: 150, maxRetries: 2 });
    const outcome = await writeAndSettle(target);
    expect(outcome).toBeInstanceOf(SinkWriteError);
    const error = outcome as SinkWriteError;
    expect(error.message).toMatch(/after 2 retries/);
    expect((error.cause as Error).name).toBe('RequestTimedOutError');
    expect(silent.accepted).toBe(3); // one connection per attempt: the hung one is never reused
    expect(silent.bytesReceived).toBeGreaterThan(0);
    expect(target.stats()).toMatchObject({ pointsWritten: 0, batchesWritten: 0, retries: 2, failedPoints: 2 });
    expect(target.stats().lastError?.message).toMatch(/timed out/i);
  }, 8_000);

  it('closes the connection of a timed-out request instead of leaving it hanging', async () => {
    silent = await startSilentServer();
    const target = sinkFor(silent.url, { requestTimeoutMs: 100, maxRetries: 1 });
    await writeAndSettle(target);
    const server = silent;
    await vi.waitFor(() => expect(server.open).toBe(0), { timeout: 3_000 });
  }, 8_000);

  it('keeps a write pending through hung attempts and resolves it only once the server answers', async () => {
    const never = new Promise<never>(() => {});
    faults = await startFaultServer((_request, index) => (index < 2 ? never : { status: 204 }));
    const target = sinkFor(faults.url, { requestTimeoutMs: 150 });
    const updates = candleSeries(3);
    let settled = false;
    const written = target.write(updates).finally(() => {
      settled = true;
    });
    void target.flush().catch(() => {});
    const server = faults;
    await vi.waitFor(() => expect(server.requests.length).toBe(2), { timeout: 3_000 });
    expect(settled).toBe(false);
    expect(target.stats().pointsWritten).toBe(0);
    await written;
    expect(server.requests.length).toBe(3);
    expect(server.requests[2]?.lines).toEqual(server.requests[0]?.lines);
    expect(target.stats()).toMatchObject({ pointsWritten: 3, retries: 2, failedPoints: 0 });
  }, 8_000);
});

describe('influx sink: maxRetryTimeMs', () => {
  // maxRetries is unbounded here: without the time budget the write would retry forever and the test would time out.
  it('fails a batch once its retries would exceed maxRetryTimeMs, with unlimited maxRetries', async () => {
    faults = await startFaultServer(() => ({ status: 503, body: '{"error":"overloaded"}' }));
    const target = sinkFor(faults.url, { maxRetryTimeMs: 300, retryBaseDelayMs: 20, retryMaxDelayMs: 60 });
    const outcome = await writeAndSettle(target);
    expect(outcome).toBeInstanceOf(SinkWriteError);
    const error = outcome as SinkWriteError;
    expect(error.message).toMatch(/still failing after \d+ retries/);
    expect(error.details.status).toBe(503);
    expect(error.details.retries).toBe(faults.requests.length - 1);
    expect(target.stats()).toMatchObject({ pointsWritten: 0, failedPoints: 2, failedBatches: 1 });
  }, 8_000);

  it('bounds hung requests too: a silent server and a time budget end the write without maxRetries', async () => {
    silent = await startSilentServer();
    const target = sinkFor(silent.url, { requestTimeoutMs: 100, maxRetryTimeMs: 250 });
    const outcome = await writeAndSettle(target);
    expect(outcome).toBeInstanceOf(SinkWriteError);
    expect((outcome as SinkWriteError).message).toMatch(/still failing/);
    expect(silent.accepted).toBeGreaterThanOrEqual(2);
  }, 8_000);
});

describe('influx sink: authScheme', () => {
  it('sends the configured scheme before the token', async () => {
    faults = await startFaultServer();
    await writeAndSettle(sinkFor(faults.url, { authScheme: 'Bearer' }));
    expect(faults.requests[0]?.headers.authorization).toBe(`Bearer ${TOKEN}`);
  });

  it('takes the scheme from INFLUX_AUTH_SCHEME when the option is absent', async () => {
    vi.stubEnv('INFLUX_AUTH_SCHEME', 'Bearer');
    faults = await startFaultServer();
    await writeAndSettle(sinkFor(faults.url));
    expect(faults.requests[0]?.headers.authorization).toBe(`Bearer ${TOKEN}`);
  });

  it('sends Token when neither the option nor the variable is set', async () => {
    vi.stubEnv('INFLUX_AUTH_SCHEME', '');
    faults = await startFaultServer();
    await writeAndSettle(sinkFor(faults.url));
    expect(faults.requests[0]?.headers.authorization).toBe(`Token ${TOKEN}`);
  });
});
