// Logger: silent by default, consoleLogger prints, pino-shaped loggers get (obj, msg), onWarning still gets the same errors.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { KandleError } from '../src/errors';
import { consoleLogger, type KandleLogger, logWarning, silentLogger, withWarningCallback } from '../src/logger';
import { MarketSourceBase, type SourceError } from '../src/sources/source';

afterEach(() => {
  vi.restoreAllMocks();
});

/** Spies on every console method a logger could use, and on process warnings. */
function spyOnOutput() {
  return [
    vi.spyOn(console, 'debug').mockImplementation(() => undefined),
    vi.spyOn(console, 'info').mockImplementation(() => undefined),
    vi.spyOn(console, 'warn').mockImplementation(() => undefined),
    vi.spyOn(console, 'error').mockImplementation(() => undefined),
    vi.spyOn(console, 'log').mockImplementation(() => undefined),
    vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined),
  ];
}

/** A pino-shaped logger that records each call as [level, obj, msg]. */
function recordingLogger(): KandleLogger & { calls: Array<[string, Record<string, unknown>, string | undefined]> } {
  const calls: Array<[string, Record<string, unknown>, string | undefined]> = [];
  const at =
    (level: string) =>
    (obj: Record<string, unknown>, msg?: string): void => {
      calls.push([level, obj, msg]);
    };
  return { calls, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

/** The smallest real source: its errors go through MarketSourceBase.emitError like every source's. */
class FailingSource extends MarketSourceBase {
  protected readonly sourceName = 'failing';
  async start(): Promise<void> {}
  async stop(): Promise<void> {}
  fail(error: SourceError): void {
    this.emitError(error);
  }
}

const commitFailed = () => new KandleError('COMMIT_FAILED', 'offset commit failed', { retriable: true });

describe('default logger', () => {
  it('writes nothing anywhere: a source error nobody listens to is only counted', () => {
    const outputs = spyOnOutput();
    const source = new FailingSource();
    source.fail(new KandleError('FEED_MESSAGE_INVALID', 'bad frame'));
    for (const level of ['debug', 'info', 'warn', 'error'] as const) silentLogger[level]({ a: 1 }, 'dropped');
    expect(source.stats().errors).toBe(1);
    for (const output of outputs) expect(output).not.toHaveBeenCalled();
  });

  it('hands a source error nobody listens to to the logger given, with its code and retriable', () => {
    const logger = recordingLogger();
    const source = new FailingSource(logger);
    const error = new KandleError('FEED_MESSAGE_INVALID', 'bad frame', { retriable: true });
    source.fail(error);
    source.fail(error); // within 10 s: throttled
    expect(logger.calls).toHaveLength(1);
    const [level, obj, msg] = logger.calls[0] ?? [];
    expect(level).toBe('warn');
    expect(obj).toEqual({ err: error, code: 'FEED_MESSAGE_INVALID', retriable: true });
    expect(msg).toMatch(/^\[failing\] bad frame/);
  });
});

describe('consoleLogger', () => {
  it('prints warnings and errors as one line each, and skips levels below its own', () => {
    const [debug, info, warn, error] = spyOnOutput();
    const logger = consoleLogger({ prefix: '[test]' });
    logger.debug({}, 'detail');
    logger.info({}, 'progress');
    logWarning(logger, commitFailed());
    logger.error({ points: 3 }, 'batch failed');
    expect(debug).not.toHaveBeenCalled();
    expect(info).not.toHaveBeenCalled();
    expect(warn).toHaveBeenCalledWith('[test] offset commit failed [COMMIT_FAILED]');
    expect(error).toHaveBeenCalledWith('[test] batch failed {"points":3}');
  });

  it('prints every level from `level` up, to `write` when given', () => {
    spyOnOutput();
    const lines: string[] = [];
    const logger = consoleLogger({
      level: 'debug',
      prefix: 'm1:',
      write: (line, level) => lines.push(`${level} ${line}`),
    });
    logger.debug({}, 'detail');
    logger.info({ err: new Error('cause') }, 'progress');
    expect(lines).toEqual(['debug m1: detail', 'info m1: progress cause']);
  });
});

describe('onWarning, the deprecated callback', () => {
  it('receives the very KandleError the logger gets, and the logger still gets it', () => {
    const logger = recordingLogger();
    const received: KandleError[] = [];
    const adapted = withWarningCallback(logger, (e) => received.push(e));
    const error = commitFailed();
    logWarning(adapted, error);
    expect(received).toHaveLength(1);
    expect(received[0]).toBe(error);
    expect(received[0]?.code).toBe('COMMIT_FAILED');
    expect(received[0]?.retriable).toBe(true);
    expect(logger.calls).toEqual([['warn', { err: error, code: 'COMMIT_FAILED', retriable: true }, error.message]]);
  });

  it('is not called for log entries without a KandleError, nor for other levels', () => {
    const received: KandleError[] = [];
    const adapted = withWarningCallback(undefined, (e) => received.push(e));
    adapted.warn({ points: 3 }, 'no error here');
    adapted.error({ err: commitFailed() }, 'an error, not a warning');
    adapted.warn({ err: new Error('plain') }, 'not a KandleError');
    expect(received).toEqual([]);
  });

  it('leaves the logger as it is when there is no callback', () => {
    const logger = recordingLogger();
    expect(withWarningCallback(logger, undefined)).toBe(logger);
    expect(withWarningCallback(undefined, undefined)).toBe(silentLogger);
  });
});

/** pino's own `LogFn` (pino/pino.d.ts), overloads as published: a pino `Logger` has one per level. */
interface PinoLogFn {
  // biome-ignore lint/suspicious/noExplicitAny: pino's declaration, copied as published
  <T extends object>(obj: T, msg?: string, ...args: any[]): void;
  // biome-ignore lint/suspicious/noExplicitAny: pino's declaration, copied as published
  (obj: unknown, msg?: string, ...args: any[]): void;
  // biome-ignore lint/suspicious/noExplicitAny: pino's declaration, copied as published
  (msg: string, ...args: any[]): void;
}

describe('pino-shaped loggers', () => {
  it('type-check as a KandleLogger as they are (tsc fails this file otherwise)', () => {
    const calls: unknown[][] = [];
    const log: PinoLogFn = (...args: unknown[]) => void calls.push(args);
    const pinoTyped: { debug: PinoLogFn; info: PinoLogFn; warn: PinoLogFn; error: PinoLogFn; level: string } = {
      debug: log,
      info: log,
      warn: log,
      error: log,
      level: 'warn',
    };
    const logger: KandleLogger = pinoTyped;
    logWarning(logger, commitFailed());
    expect(calls).toHaveLength(1);
    expect(calls[0]?.[1]).toBe('offset commit failed');
  });

  it('are called as methods with (obj, msg), so a logger that relies on `this` works', () => {
    const seen: unknown[] = [];
    const pinoLike = {
      bindings: { name: 'kandle' },
      debug(this: { bindings: object }, obj: object, msg?: string) {
        seen.push(['debug', this.bindings, obj, msg]);
      },
      info(this: { bindings: object }, obj: object, msg?: string) {
        seen.push(['info', this.bindings, obj, msg]);
      },
      warn(this: { bindings: object }, obj: object, msg?: string) {
        seen.push(['warn', this.bindings, obj, msg]);
      },
      error(this: { bindings: object }, obj: object, msg?: string) {
        seen.push(['error', this.bindings, obj, msg]);
      },
    };
    const error = commitFailed();
    logWarning(
      withWarningCallback(pinoLike, () => undefined),
      error,
    );
    expect(seen).toEqual([
      ['warn', { name: 'kandle' }, { err: error, code: 'COMMIT_FAILED', retriable: true }, 'offset commit failed'],
    ]);
  });
});
