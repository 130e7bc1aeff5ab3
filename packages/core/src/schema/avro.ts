// Schema: Avro encode/decode in the Confluent wire format, with the registry used only for ids and resolution.
import type { SchemaInfo, SchemaRegistryClient } from '@confluentinc/schemaregistry';
import type * as avro from 'avsc';
import { type RegistryConnection, resolveRegistryConnection } from '../config';
import { KandleError, RegistryUnreachableError, SchemaIncompatibleError } from '../errors';
import { loadAvsc } from '../lazy-deps';

/** Confluent wire format: magic byte 0, then the 4-byte big-endian schema id, then the Avro body. */
const MAGIC_BYTE = 0;
const HEADER_BYTES = 5;

/**
 * Why a payload could not be decoded (code `POISON_RECORD`, not retriable: the same bytes never decode); the
 * consumer turns it into a dead-letter record. A registry that cannot be reached is a `RegistryUnreachableError`
 * instead, and the record is read again later.
 */
export class DecodeError extends KandleError {
  constructor(
    readonly reason: 'not-avro' | 'unknown-schema-id' | 'wrong-schema' | 'corrupt-body',
    message: string,
    readonly schemaId?: number,
  ) {
    super('POISON_RECORD', message, { details: { reason, ...(schemaId === undefined ? {} : { schemaId }) } });
  }
}

/**
 * The registry as kandle uses it: register and look up schemas, check compatibility, and hand out
 * cached `avsc` types. Per-record work never calls the registry library (it re-serializes the schema
 * on every record, about 20x slower than the encoding itself).
 */
export interface SchemaRegistryHandle {
  readonly url: string;
  /**
   * The underlying `@confluentinc/schemaregistry` client, for anything kandle does not wrap. Loaded on first use:
   * that package pulls in cloud KMS clients and costs over a second to import, which `import '@kandle/core'` and
   * programs that never talk to a registry should not pay.
   */
  client(): Promise<SchemaRegistryClient>;
  /** Registers `schema` under `subject` (idempotent) and returns its id. Throws `SchemaIncompatibleError` on 409. */
  register(subject: string, schema: object): Promise<number>;
  /** Sets the subject's compatibility level (BACKWARD, FORWARD, FULL, NONE, …). */
  setCompatibility(
    subject: string,
    level: 'BACKWARD' | 'BACKWARD_TRANSITIVE' | 'FORWARD' | 'FULL' | 'FULL_TRANSITIVE' | 'NONE',
  ): Promise<void>;
  /** The writer schema for an id, cached. */
  schemaById(id: number, subject?: string): Promise<avro.Type>;
}

let registryModule: Promise<typeof import('@confluentinc/schemaregistry')> | undefined;

/** Internal: `registry` itself when it is already a handle (shared, with its cache), else a new handle for it. */
export function registryHandleFor(
  registry: RegistryConnection | SchemaRegistryHandle | undefined,
): SchemaRegistryHandle {
  const isHandle = !!registry && typeof (registry as SchemaRegistryHandle).register === 'function';
  return isHandle ? (registry as SchemaRegistryHandle) : connectSchemaRegistry((registry as RegistryConnection) ?? {});
}

/** Connects to the registry (no request is made, and the registry client is not even loaded, until first use). */
export function connectSchemaRegistry(connection: RegistryConnection = {}): SchemaRegistryHandle {
  const resolved = resolveRegistryConnection(connection);
  let loaded: Promise<SchemaRegistryClient> | undefined;
  const client = (): Promise<SchemaRegistryClient> => {
    registryModule ??= import('@confluentinc/schemaregistry');
    loaded ??= registryModule.then((module) => new module.SchemaRegistryClient(resolved.clientConfig));
    return loaded;
  };
  const byId = new Map<number, Promise<avro.Type>>();
  const wrap = async <T>(subject: string, call: (client: SchemaRegistryClient) => Promise<T>): Promise<T> => {
    const registry = await client();
    try {
      return await call(registry);
    } catch (e) {
      throw registryError(resolved.url, subject, e);
    }
  };
  return {
    url: resolved.url,
    client,
    register: (subject, schema) =>
      wrap(subject, (c) => c.register(subject, { schemaType: 'AVRO', schema: JSON.stringify(schema) }, false)),
    setCompatibility: async (subject, level) => {
      await wrap(subject, (c) => c.updateConfig(subject, { compatibility: level as never }));
    },
    schemaById(id, subject = '') {
      let type = byId.get(id);
      if (!type) {
        type = wrap(subject, (c) => c.getBySubjectAndId(subject, id)).then((info: SchemaInfo) =>
          loadAvsc().Type.forSchema(JSON.parse(info.schema)),
        );
        byId.set(id, type);
        type.catch(() => byId.delete(id));
      }
      return type;
    },
  };
}

function registryError(url: string, subject: string, e: unknown): KandleError {
  const status = (e as { status?: number }).status;
  const message = (e as Error)?.message ?? String(e);
  if (status === 409) return new SchemaIncompatibleError(subject, message, e);
  if (status === 404 && /schema.*not found|40403/i.test(message)) {
    return new KandleError('SCHEMA_INCOMPATIBLE', `schema not found in registry for "${subject}": ${message}`, {
      cause: e,
    });
  }
  if (status === undefined || status >= 500) return new RegistryUnreachableError(url, e);
  return new KandleError(
    'REGISTRY_UNREACHABLE',
    `schema registry at ${url} refused the request (${status}): ${message}`,
    {
      cause: e,
      details: { status, subject },
    },
  );
}

/** Encodes values of one schema id. Byte-identical to `AvroSerializer` for the same schema and id. */
export interface AvroEncoder<T> {
  readonly schemaId: number;
  encode(value: T): Buffer;
}

/** Builds an encoder for `schema` registered as `schemaId`. */
export function createAvroEncoder<T>(schema: object, schemaId: number): AvroEncoder<T> {
  const type = loadAvsc().Type.forSchema(schema as avro.Schema);
  // Records are written behind the header in one reused scratch buffer, then copied out once: toBuffer plus a
  // header concat cost two allocations and two copies per record, measurable in producer throughput.
  let scratch = Buffer.allocUnsafe(1024);
  scratch.writeUInt8(MAGIC_BYTE, 0);
  scratch.writeUInt32BE(schemaId, 1);
  return {
    schemaId,
    encode(value) {
      // avsc checks types as it writes; a wrong field type throws here, before Kafka.
      let end = type.encode(value, scratch, HEADER_BYTES);
      if (end < 0) {
        // Too small: avsc returns minus the bytes missing.
        const grown = Buffer.allocUnsafe(Math.max(scratch.length * 2, scratch.length - end));
        scratch.copy(grown, 0, 0, HEADER_BYTES);
        scratch = grown;
        end = type.encode(value, scratch, HEADER_BYTES);
      }
      return Buffer.from(scratch.subarray(0, end));
    },
  };
}

/**
 * Decodes Confluent-framed Avro into the reader schema `readerSchema`, resolving from whatever
 * compatible writer schema the id names (schema evolution). Resolvers are cached per writer id.
 */
export interface AvroDecoder<T> {
  decode(payload: Buffer): Promise<T>;
  /** Synchronous fast path once the writer schema of `payload` is cached; undefined otherwise. */
  decodeCached(payload: Buffer): T | undefined;
}

export function createAvroDecoder<T>(
  registry: SchemaRegistryHandle,
  readerSchema: object,
  subject = '',
): AvroDecoder<T> {
  const reader = loadAvsc().Type.forSchema(readerSchema as avro.Schema);
  const resolvers = new Map<number, avro.Resolver | null>();

  const schemaIdOf = (payload: Buffer): number => {
    if (!payload || payload.length < HEADER_BYTES || payload[0] !== MAGIC_BYTE) {
      throw new DecodeError('not-avro', 'payload is not in the Confluent Avro wire format (magic byte 0 + schema id)');
    }
    return payload.readUInt32BE(1);
  };
  const read = (payload: Buffer, id: number, resolver: avro.Resolver | null): T => {
    try {
      return (
        resolver
          ? reader.fromBuffer(payload.subarray(HEADER_BYTES), resolver)
          : reader.fromBuffer(payload.subarray(HEADER_BYTES))
      ) as T;
    } catch (e) {
      throw new DecodeError(
        'corrupt-body',
        `Avro body does not match writer schema ${id}: ${(e as Error).message}`,
        id,
      );
    }
  };
  return {
    decodeCached(payload) {
      const id = schemaIdOf(payload);
      const resolver = resolvers.get(id);
      if (resolver === undefined) return undefined;
      return read(payload, id, resolver);
    },
    async decode(payload) {
      const id = schemaIdOf(payload);
      let resolver = resolvers.get(id);
      if (resolver === undefined) {
        let writer: avro.Type;
        try {
          writer = await registry.schemaById(id, subject);
        } catch (e) {
          if (e instanceof RegistryUnreachableError) throw e;
          throw new DecodeError('unknown-schema-id', `schema id ${id} is unknown to the registry`, id);
        }
        try {
          resolver = writer.equals(reader) ? null : reader.createResolver(writer);
        } catch (e) {
          throw new DecodeError(
            'wrong-schema',
            `writer schema ${id} cannot be read as ${String(reader.name)}: ${(e as Error).message}`,
            id,
          );
        }
        resolvers.set(id, resolver);
      }
      return read(payload, id, resolver);
    },
  };
}

/** TopicNameStrategy: the value subject of `topic`. */
export function valueSubject(topic: string): string {
  return `${topic}-value`;
}
