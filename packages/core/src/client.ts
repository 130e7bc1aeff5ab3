// Client: one resolved connection, one registry handle and one admin shared by every producer and consumer made from it.
import { createKafkaAdmin, type KafkaAdmin } from './admin';
import {
  type KafkaConnection,
  type RegistryConnection,
  type ResolvedKafkaConnection,
  resolveKafkaConnection,
} from './config';
import { type CandleConsumer, type CandleConsumerOptions, openCandleConsumer } from './consumer';
import { KandleError } from './errors';
import type { KandleLogger } from './logger';
import { type CryptoProducer, type CryptoProducerOptions, openCryptoProducer } from './producer';
import { registryHandleFor, type SchemaRegistryHandle } from './schema/avro';

/** Options of {@link createKandle}: what every producer and consumer made from the client has in common. */
export interface KandleOptions {
  /** Kafka connection, resolved and validated once (a `ConfigError` is thrown by `createKandle`). Default: `$KAFKA_BROKERS`. */
  connection?: KafkaConnection;
  /** Schema Registry connection, or a handle to share with code outside this client. Default: `$SCHEMA_REGISTRY_URL`. */
  registry?: RegistryConnection | SchemaRegistryHandle;
  /**
   * Where every producer and consumer made from this client reports what it handles by itself (their own `logger`
   * option wins). Pino-shaped; a pino instance can be passed as is. Default: silent (see docs/logging.md).
   */
  logger?: KandleLogger;
  /**
   * Default `onWarning` of the consumers made from this client (a consumer's own option wins). Default: none.
   * @deprecated Use `logger`: its `warn` receives the same errors.
   */
  onWarning?: CandleConsumerOptions['onWarning'];
}

/** Producer options the client supplies itself. */
export type KandleProducerOptions = Omit<CryptoProducerOptions, 'connection' | 'registry'>;
/** Consumer options the client supplies itself. */
export type KandleConsumerOptions = Omit<CandleConsumerOptions, 'connection' | 'registry'>;

/**
 * A kandle client: the connection is resolved once, and every producer and consumer made from it shares one schema
 * registry handle (its schema cache) and one admin (metadata, topics, groups) instead of opening their own.
 * `close()` closes what it made, consumers first, then the admin.
 *
 * @example
 * ```ts
 * const kandle = createKandle({ connection: { brokers: '127.0.0.1:9092' }, registry: { url: registryUrl } });
 * await (await kandle.admin()).ensureTopic({ name: 'trades', partitions: 6, replicationFactor: 3 });
 * const producer = await kandle.producer({ topics: { trades: 'trades' } });
 * const consumer = await kandle.consumer({ groupId: 'candles', onCandles: (updates) => draw(updates) });
 * await kandle.close();
 * ```
 */
export interface Kandle {
  /** The connection as every client made from here uses it (secrets included: never log it). */
  readonly connection: ResolvedKafkaConnection;
  readonly registry: SchemaRegistryHandle;
  /** The shared admin, connected on first use. Its `close()` does nothing: `Kandle.close()` closes it. */
  admin(): Promise<KafkaAdmin>;
  producer(options?: KandleProducerOptions): Promise<CryptoProducer>;
  consumer(options: KandleConsumerOptions): Promise<CandleConsumer>;
  /** Closes every consumer and producer made from this client that is still open, then the admin. */
  close(): Promise<void>;
}

/** Creates a {@link Kandle} client; throws `ConfigError` at once on a malformed connection. Connects lazily. */
export function createKandle(options: KandleOptions = {}): Kandle {
  const connection = options.connection ?? {};
  const resolved = resolveKafkaConnection(connection);
  const registry = registryHandleFor(options.registry);
  const producers = new Set<CryptoProducer>();
  const consumers = new Set<CandleConsumer>();
  // The admin itself (closed by close()) and the view handed out (whose close() does nothing).
  let admin: Promise<{ own: KafkaAdmin; lent: KafkaAdmin }> | undefined;
  let closed = false;

  const openAdmin = async (): Promise<KafkaAdmin> => {
    if (closed) throw new KandleError('CLIENT_CLOSED', 'kandle client is closed');
    admin ??= createKafkaAdmin({ ...connection, brokers: resolved.brokers }).then(
      (own) => ({ own, lent: { ...own, close: async () => undefined } }),
      (e: unknown) => {
        admin = undefined; // the next call tries again (the cluster may have been starting)
        throw e;
      },
    );
    return (await admin).lent;
  };
  const ensureOpen = () => {
    if (closed) throw new KandleError('CLIENT_CLOSED', 'kandle client is closed');
  };

  return {
    connection: resolved,
    registry,
    admin: openAdmin,
    async producer(producerOptions = {}) {
      ensureOpen();
      const made = await openCryptoProducer(
        { ...inherited(options), ...producerOptions, connection, registry },
        { resolved, admin: await openAdmin() },
      );
      producers.add(made);
      return forgetOnClose(made, producers);
    },
    async consumer(consumerOptions) {
      ensureOpen();
      const made = await openCandleConsumer(
        {
          ...inherited(options),
          ...(options.onWarning ? { onWarning: options.onWarning } : {}),
          ...consumerOptions,
          connection,
          registry,
        },
        { resolved, admin: await openAdmin() },
      );
      consumers.add(made);
      return forgetOnClose(made, consumers);
    },
    async close() {
      if (closed) return;
      closed = true;
      await Promise.allSettled([...consumers].map((c) => c.close()));
      await Promise.allSettled([...producers].map((p) => p.close()));
      const shared = await admin?.catch(() => undefined);
      await shared?.own.close();
    },
  };
}

/** The options a client's producers and consumers take from it unless they set their own. */
function inherited(options: KandleOptions): { logger?: KandleLogger } {
  return options.logger ? { logger: options.logger } : {};
}

/** Removes a client from `open` when its owner closes it, so `Kandle.close()` does not close it twice. */
function forgetOnClose<T extends { close(): Promise<void> }>(made: T, open: Set<T>): T {
  const close = made.close.bind(made);
  made.close = async () => {
    open.delete(made);
    await close();
  };
  return made;
}
