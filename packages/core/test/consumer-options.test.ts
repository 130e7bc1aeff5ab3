// Consumer options: defaults applied once, and every wrong value refused with a ConfigError before anything connects.
import { describe, expect, it } from 'vitest';
import { resolveConsumerSettings } from '../src/consumer/options';
import { ConfigError } from '../src/index';

describe('resolveConsumerSettings', () => {
  it('defaults to at-least-once, no candles topic, a 10 s transaction timeout', () => {
    const settings = resolveConsumerSettings({ groupId: 'g' });
    expect(settings.processing).toBe('at-least-once');
    expect(settings.output).toBeNull();
    expect(settings.transactionTimeoutMs).toBe(10_000);
  });

  it('takes exactly-once with a candles topic', () => {
    const settings = resolveConsumerSettings({
      groupId: 'g',
      processing: 'exactly-once',
      output: { topic: 'candles', partitions: 6 },
    });
    expect(settings.processing).toBe('exactly-once');
    expect(settings.output).toEqual({ topic: 'candles', partitions: 6 });
  });

  it.each([
    [{ processing: 'exactly-twice' as never }, /processing/],
    [{ output: { topic: '' } }, /output\.topic/],
    [{ output: { topic: 'trades' } }, /output\.topic/],
    [{ transactionTimeoutMs: 10 }, /transactionTimeoutMs/],
  ])('refuses %j', (options, message) => {
    const attempt = () => resolveConsumerSettings({ groupId: 'g', ...options });
    expect(attempt).toThrow(ConfigError);
    expect(attempt).toThrow(message);
  });
});
