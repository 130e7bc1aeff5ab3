// Producer client errors: librdkafka's event.error reaches the logger as a retriable KandleError, throttled per code.
import { EventEmitter } from 'node:events';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { KandleError } from '../src/errors';
import type { KandleLogger } from '../src/logger';
import { reportClientErrors } from '../src/producer/index';
import type { Producer } from '../src/rdkafka';

afterEach(() => {
  vi.useRealTimers();
});

describe('reportClientErrors', () => {
  it('logs the first error of each code at once and holds repeats back for 5 s, counting them', () => {
    vi.useFakeTimers({ now: 0 });
    const warned: Array<[Record<string, unknown>, string | undefined]> = [];
    const ignore = () => undefined;
    const logger: KandleLogger = {
      debug: ignore,
      info: ignore,
      error: ignore,
      warn: (obj, msg) => warned.push([obj, msg]),
    };
    const producer = new EventEmitter();
    reportClientErrors(producer as unknown as Pick<Producer, 'on'>, logger);
    const transport = Object.assign(new Error('Local: Broker transport failure'), { code: -195 });
    for (let i = 0; i < 4; i++) producer.emit('event.error', transport);
    expect(warned).toHaveLength(1);
    const [obj, msg] = warned[0] ?? [];
    expect(obj?.err).toBeInstanceOf(KandleError);
    expect(obj).toMatchObject({ code: 'BROKER_UNREACHABLE', retriable: true });
    expect(msg).toContain('Broker transport failure');
    vi.setSystemTime(5_000);
    producer.emit('event.error', transport);
    expect(warned).toHaveLength(2);
    expect(warned[1]?.[1]).toContain('(and 3 more like it)');
  });
});
