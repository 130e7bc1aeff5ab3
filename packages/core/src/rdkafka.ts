// Native client: the one place that loads librdkafka's bindings, on first use rather than on import.
import type * as KafkaJavascript from '@confluentinc/kafka-javascript';
import { KandleError } from './errors';

export type { Message } from '@confluentinc/kafka-javascript';
type NativeModule = typeof KafkaJavascript;
export type KafkaConsumer = InstanceType<NativeModule['RdKafka']['KafkaConsumer']>;
export type Producer = InstanceType<NativeModule['RdKafka']['Producer']>;
/** librdkafka's error codes (`CODES.ERRORS`), available once {@link loadNativeClient} resolved. */
export type NativeCodes = NativeModule['RdKafka']['CODES'];

/**
 * How often a producer's delivery reports are served (`setPollInterval`): the period is the floor of the time
 * between an acknowledgement and the promise that waits for it. The consumer awaits its checkpoint's acknowledgement
 * before committing, with its loop stopped; at 50 ms this wait put the tick → candle p99 at about 110 ms.
 */
export const DELIVERY_POLL_INTERVAL_MS = 5;

/** Whether `code` is librdkafka's "unknown topic": the broker's UNKNOWN_TOPIC_OR_PART or the client's ERR__UNKNOWN_TOPIC. */
export function isUnknownTopicCode(code: unknown): boolean {
  const { ERRORS } = nativeCodes();
  return code === ERRORS.ERR__UNKNOWN_TOPIC || code === ERRORS.ERR_UNKNOWN_TOPIC_OR_PART;
}

/**
 * Disconnects a producer whose delivery reports are polled with `setPollInterval`. The poll stops first: the binding
 * polls from the main thread without a lock while its disconnect destroys the native handle on a worker thread, and
 * a poll landing there reads freed memory (a test worker died silently once the poll ran every 5 ms).
 */
export function disconnectProducer(producer: Producer): Promise<void> {
  producer.setPollInterval(0);
  return new Promise<void>((resolve) => producer.disconnect(() => resolve()));
}

let native: NativeModule | undefined;
let loading: Promise<NativeModule> | undefined;

/**
 * Loads `@confluentinc/kafka-javascript` (a nan addon) the first time a Kafka client is created. Importing
 * `@kandle/core` stays free of it, so the pure parts (assignors, candles, sources, Avro) run where the addon
 * cannot load: Deno, bundlers, browsers' test runners, machines whose native build failed.
 */
export function loadNativeClient(): Promise<NativeModule> {
  loading ??= import('@confluentinc/kafka-javascript').then(
    (module) => {
      // Node's ESM loader exposes the CommonJS exports both as named exports and as `default`.
      const exports = ('RdKafka' in module ? module : (module as { default: NativeModule }).default) as NativeModule;
      native = exports;
      return exports;
    },
    (e: unknown) => {
      loading = undefined;
      throw new KandleError(
        'NATIVE_CLIENT_UNAVAILABLE',
        `the native Kafka client (@confluentinc/kafka-javascript) could not be loaded: ${(e as Error)?.message ?? e}. ` +
          'Run `npm run setup` to build it; the pure parts of @kandle/core work without it.',
        { cause: e },
      );
    },
  );
  return loading;
}

/** librdkafka's codes; only called on paths that run after a client was created (so the module is loaded). */
export function nativeCodes(): NativeCodes {
  if (!native)
    throw new KandleError('NATIVE_CLIENT_UNAVAILABLE', 'the native Kafka client is used before it was loaded');
  return native.RdKafka.CODES;
}
