// Consumer / dead letter: writes a record that cannot be decoded to the dead-letter topic, with where it came from.
import { type KandleError, kandleErrorFrom, PoisonRecordError } from '../errors';
import type { Message } from '../rdkafka';
import { DecodeError } from '../schema/avro';
import type { PoisonRecord } from './options';
import { backoffMs, sleep } from '../retry';
import type { SideProducer } from './side-producer';

/** Dead-letters one record; resolves once it is durable (retrying for as long as it takes). */
export type DeadLetterWriter = (message: Message, error: Error) => Promise<void>;

export function createDeadLetterWriter(options: {
  producer: SideProducer;
  topic: string;
  warn: (e: KandleError) => void;
  onPoison: (record: PoisonRecord) => void;
}): DeadLetterWriter {
  return async (message, error) => {
    const reason = error instanceof DecodeError ? error.reason : 'corrupt-body';
    const coordinates = { topic: message.topic, partition: message.partition, offset: String(message.offset) };
    const headers = [
      { 'kandle.error': error.message },
      { 'kandle.reason': reason },
      { 'kandle.source.topic': message.topic },
      { 'kandle.source.partition': String(message.partition) },
      { 'kandle.source.offset': String(message.offset) },
      ...(error instanceof DecodeError && error.schemaId !== undefined
        ? [{ 'kandle.schema.id': String(error.schemaId) }]
        : []),
    ];
    for (let attempt = 0; ; attempt++) {
      try {
        await options.producer.send({
          topic: options.topic,
          partition: null,
          key: message.key ?? null,
          value: message.value ?? null,
          timestamp: message.timestamp ?? Date.now(),
          headers,
        });
        break;
      } catch (e) {
        // Losing a poison record would lose evidence: keep trying, the batch waits.
        options.warn(
          kandleErrorFrom('DEAD_LETTER_FAILED', `dead-letter write failed (attempt ${attempt + 1})`, e, {
            retriable: true,
          }),
        );
        await sleep(backoffMs(attempt));
      }
    }
    options.onPoison({ ...coordinates, reason, error: new PoisonRecordError(error.message, coordinates, error) });
  };
}
