// Error taxonomy proof: one code per way to fail, and `retriable` carried over from the client that failed.
import { describe, expect, it } from 'vitest';
import { ConfigError, GroupRequestError, KandleError, kandleErrorFrom } from '../src/errors';
import { DecodeError } from '../src/schema/avro';

describe('kandleErrorFrom', () => {
  it('keeps the cause and its text, and reads retriable from KafkaJS (retriable) or librdkafka (isRetriable)', () => {
    const kafkajs = Object.assign(new Error('The coordinator is loading'), { retriable: true });
    const librdkafka = Object.assign(new Error('Broker: Not coordinator'), { isRetriable: true, code: 16 });
    const plain = new Error('Broker: Group authorization failed');
    for (const [cause, retriable] of [
      [kafkajs, true],
      [librdkafka, true],
      [plain, false],
    ] as const) {
      const error = kandleErrorFrom('COMMIT_FAILED', 'offset commit failed', cause);
      expect(error).toBeInstanceOf(KandleError);
      expect(error.code).toBe('COMMIT_FAILED');
      expect(error.retriable).toBe(retriable);
      expect(error.message).toBe(`offset commit failed: ${cause.message}`);
      expect((error.cause as Error).message).toBe(cause.message);
    }
  });

  it("keeps the cause's code, type and retriable flags, so callers can branch on them rather than on its text", () => {
    const wire = Object.assign(new Error('Metadata for t: UNKNOWN_TOPIC_OR_PARTITION (3)'), {
      errorCode: 3,
      type: 'UNKNOWN_TOPIC_OR_PARTITION',
      retriable: true,
      brokers: ['secret-host:9092'],
    });
    const cause = kandleErrorFrom('ADMIN_REQUEST_FAILED', 'describe configs of t', wire).cause;
    expect(cause).toMatchObject({ errorCode: 3, type: 'UNKNOWN_TOPIC_OR_PARTITION', retriable: true });
    // Only those scalar fields travel: anything else on the original stays behind.
    expect(cause).not.toHaveProperty('brokers');
  });

  it('lets the caller decide retriable, and passes an error of the same code through unchanged', () => {
    expect(kandleErrorFrom('HANDLER_FAILED', 'onCandles failed', 'boom', { retriable: true }).retriable).toBe(true);
    const same = new KandleError('CHECKPOINT_FAILED', 'x', { retriable: true });
    expect(kandleErrorFrom('CHECKPOINT_FAILED', 'again', same)).toBe(same);
  });

  it('defaults to not retriable; a group request says what it was', () => {
    expect(new ConfigError('bad').retriable).toBe(false);
    const group = new GroupRequestError('describe group', 'g1', true, new Error('NOT_COORDINATOR'));
    expect(group).toMatchObject({ code: 'GROUP_REQUEST_FAILED', retriable: true, details: { groupId: 'g1' } });
  });

  it('a record that cannot be decoded is a KandleError too: POISON_RECORD, never retriable, with its reason', () => {
    const error = new DecodeError('unknown-schema-id', 'schema id 32767 is not in the registry', 32767);
    expect(error).toBeInstanceOf(KandleError);
    expect(error).toMatchObject({
      name: 'DecodeError',
      code: 'POISON_RECORD',
      retriable: false,
      reason: 'unknown-schema-id',
      details: { reason: 'unknown-schema-id', schemaId: 32767 },
    });
  });
});
