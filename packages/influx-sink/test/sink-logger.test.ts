// Sink logger: silent by default, retries and failures reach a KandleLogger as (obj, msg), the older SinkLogger still works.
import { KandleError, type KandleLogger } from '@kandle/core';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createInfluxSink, type InfluxSink, type InfluxSinkOptions, SinkWriteError } from '../src/index';
import { candleSeries } from './support/fixtures';
import { type FaultServer, startFaultServer } from './support/fault-server';

let server: FaultServer | undefined;
let sink: InfluxSink | undefined;

afterEach(async () => {
  await sink?.close();
  await server?.close();
  sink = undefined;
  server = undefined;
  vi.restoreAllMocks();
});

/** A sink against a server that answers 503 to the first request, then `then` (204: stored; 400: refused). */
async function sinkAfterOne503(options: InfluxSinkOptions, then: 204 | 400): Promise<InfluxSink> {
  server = await startFaultServer((_req, i) => (i === 0 ? { status: 503, body: 'busy' } : { status: then }));
  sink = createInfluxSink({
    host: server.url,
    token: 'logger-test-token',
    database: 'kandle',
    retryBaseDelayMs: 5,
    retryMaxDelayMs: 20,
    lingerMs: 0,
    ...options,
  });
  return sink;
}

/** Writes two points and waits for the sink's answer (the error, or undefined once stored). */
async function writeTwo(sink: InfluxSink): Promise<unknown> {
  return sink.write(candleSeries(2)).then(
    () => undefined,
    (e: unknown) => e,
  );
}

function recordingLogger() {
  const calls: Array<[string, Record<string, unknown>, string | undefined]> = [];
  const at = (level: string) => (obj: Record<string, unknown>, msg?: string) => {
    calls.push([level, obj, msg]);
  };
  const logger: KandleLogger = { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
  return { calls, logger };
}

describe('the sink logger', () => {
  it('is silent by default: a retried write prints nothing', async () => {
    const outputs = (['debug', 'info', 'warn', 'error', 'log'] as const).map((level) =>
      vi.spyOn(console, level).mockImplementation(() => undefined),
    );
    const s = await sinkAfterOne503({}, 204);
    expect(await writeTwo(s)).toBeUndefined();
    expect(s.stats().retries).toBe(1);
    for (const output of outputs) expect(output).not.toHaveBeenCalled();
  });

  it('hands a KandleLogger each retry (retriable KandleError) and each failure (SinkWriteError) as (obj, msg)', async () => {
    const { calls, logger } = recordingLogger();
    const s = await sinkAfterOne503({ logger }, 400);
    const error = await writeTwo(s);
    expect(error).toBeInstanceOf(SinkWriteError);
    expect(calls.map(([level]) => level)).toEqual(['warn', 'error']);
    const [, retry, retryMsg] = calls[0] ?? [];
    expect(retry?.err).toBeInstanceOf(KandleError);
    expect(retry).toMatchObject({ code: 'SINK_WRITE_FAILED', retriable: true, points: 2 });
    expect(retryMsg).toMatch(/write of 2 points failed \(HTTP 503.*\); retry 1 in \d+ ms/);
    const [, failure, failureMsg] = calls[1] ?? [];
    expect(failure).toMatchObject({ err: error, code: 'SINK_WRITE_FAILED', retriable: false, points: 2 });
    expect(failureMsg).toBe((error as SinkWriteError).message);
  });

  it('still accepts the deprecated message-first SinkLogger', async () => {
    const logged: Array<[string, string, Record<string, unknown> | undefined]> = [];
    const logger = {
      warn: (message: string, details?: Record<string, unknown>) => logged.push(['warn', message, details]),
      error: (message: string, details?: Record<string, unknown>) => logged.push(['error', message, details]),
    };
    const s = await sinkAfterOne503({ logger }, 400);
    const error = (await writeTwo(s)) as SinkWriteError;
    expect(logged.map(([level]) => level)).toEqual(['warn', 'error']);
    expect(logged[0]?.[1]).toMatch(/retry 1 in/);
    expect(logged[0]?.[2]).toMatchObject({ code: 'SINK_WRITE_FAILED', retriable: true, points: 2 });
    expect(logged[1]?.[1]).toBe(error.message);
    expect(logged[1]?.[2]).toEqual({ code: 'SINK_WRITE_FAILED', retriable: false, points: 2 });
  });
});
