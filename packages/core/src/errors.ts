// Errors: the typed failures every kandle step throws, one class per kind, secrets redacted.

/**
 * Stable machine-readable codes carried by every {@link KandleError}; each names one way to fail (see the table in
 * docs/connection.md). Whether retrying can help is `KandleError.retriable`, not the code.
 */
export type KandleErrorCode =
  | 'CONFIG_INVALID'
  | 'NATIVE_CLIENT_UNAVAILABLE'
  | 'BROKER_UNREACHABLE'
  | 'AUTHENTICATION_FAILED'
  | 'TOPIC_CREATE_FAILED'
  | 'CLIENT_CLOSED'
  | 'ASSIGNMENT_TIMEOUT'
  | 'COMMIT_FAILED'
  | 'CHECKPOINT_FAILED'
  | 'DEAD_LETTER_FAILED'
  | 'HANDLER_FAILED'
  | 'CONSUMER_FAILED'
  | 'LOCAL_STACK_FAILED'
  | 'UNKNOWN_TOPIC'
  | 'TOPIC_MISMATCH'
  | 'NOT_ENOUGH_REPLICAS'
  | 'DELIVERY_FAILED'
  | 'REGISTRY_UNREACHABLE'
  | 'SCHEMA_INCOMPATIBLE'
  | 'POISON_RECORD'
  | 'FEED_MESSAGE_INVALID'
  | 'ASSIGNMENT_INVALID'
  | 'SINK_WRITE_FAILED'
  | 'GROUP_REQUEST_FAILED'
  | 'TRANSACTION_ABORTED'
  | 'ADMIN_REQUEST_FAILED';

/**
 * Base class of every error kandle throws. Check `code` (or `instanceof` a subclass)
 * instead of parsing messages.
 *
 * @example
 * ```ts
 * try { await producer.send(tick) } catch (e) {
 *   if (e instanceof KandleError && e.code === 'NOT_ENOUGH_REPLICAS') retryLater(tick);
 * }
 * ```
 */
export class KandleError extends Error {
  readonly code: KandleErrorCode;
  /** Extra context (topic, partition, offset, …); never secrets. */
  readonly details: Readonly<Record<string, unknown>>;
  /** True when the same call may succeed later unchanged (a coordinator moving, a broker restarting). */
  readonly retriable: boolean;

  constructor(
    code: KandleErrorCode,
    message: string,
    options: { cause?: unknown; details?: Record<string, unknown>; retriable?: boolean } = {},
  ) {
    super(redactSecrets(message), options.cause === undefined ? undefined : { cause: scrubCause(options.cause) });
    this.name = new.target.name;
    this.code = code;
    this.retriable = options.retriable ?? false;
    this.details = Object.freeze(redactObject(options.details ?? {}));
  }
}

/**
 * The one mapper from an underlying client's failure (librdkafka, the admin wire client, a handler) to a
 * {@link KandleError} of `code`: the message keeps the cause's text, and `retriable` comes from the cause
 * (`retriable` in the wire client, `isRetriable` in librdkafka) unless the caller knows better.
 */
export function kandleErrorFrom(
  code: KandleErrorCode,
  what: string,
  cause: unknown,
  options: { retriable?: boolean; details?: Record<string, unknown> } = {},
): KandleError {
  if (cause instanceof KandleError && cause.code === code) return cause;
  const text = (cause as Error)?.message ?? String(cause);
  const flagged = cause as { retriable?: unknown; isRetriable?: unknown } | undefined;
  const retriable = options.retriable ?? (flagged?.retriable === true || flagged?.isRetriable === true);
  return new KandleError(code, `${what}: ${text}`, {
    cause,
    retriable,
    ...(options.details ? { details: options.details } : {}),
  });
}

/**
 * Whether `error` is librdkafka's `ERR__FATAL` (−150), raw or inside a `KandleError`'s details: the client instance
 * (typically an idempotent producer after a broker lost its state) can do nothing more and must be replaced.
 */
export function isFatalClientError(error: unknown): boolean {
  const e = error as { code?: unknown; details?: { code?: unknown }; message?: unknown } | undefined;
  return e?.code === -150 || e?.details?.code === -150 || /Local: Fatal error/.test(String(e?.message));
}

/** A configuration value is missing, malformed or contradictory. */
export class ConfigError extends KandleError {
  constructor(message: string, details?: Record<string, unknown>) {
    super('CONFIG_INVALID', message, details ? { details } : {});
  }
}

/** No broker answered within the connection timeout. */
export class BrokerUnreachableError extends KandleError {
  constructor(brokers: string, timeoutMs: number, cause?: unknown) {
    super('BROKER_UNREACHABLE', `no Kafka broker reachable at ${brokers} within ${timeoutMs} ms`, {
      cause,
      details: { brokers, timeoutMs },
    });
  }
}

/**
 * A broker answered but refused the credentials (SASL). Retrying with the same ones cannot help; the message names the
 * user and mechanism, never the password.
 */
export class AuthenticationError extends KandleError {
  constructor(brokers: string, mechanism: string, username: string, cause?: unknown) {
    super(
      'AUTHENTICATION_FAILED',
      `the Kafka brokers at ${brokers} refused SASL ${mechanism} authentication as "${username}": check the user and password`,
      { cause, details: { brokers, mechanism, username }, retriable: false },
    );
  }
}

/** The topic does not exist and auto-creation is off. */
export class UnknownTopicError extends KandleError {
  constructor(topic: string) {
    super('UNKNOWN_TOPIC', `topic "${topic}" does not exist; create it with ensureTopic()`, { details: { topic } });
  }
}

/** An existing topic differs from what the caller asked for. */
export class TopicMismatchError extends KandleError {
  constructor(topic: string, differences: string[]) {
    super('TOPIC_MISMATCH', `topic "${topic}" exists but differs: ${differences.join('; ')}`, {
      details: { topic, differences },
    });
  }
}

/** `acks=all` could not be honoured because fewer than `min.insync.replicas` are in sync. */
export class NotEnoughReplicasError extends KandleError {
  constructor(topic: string, cause?: unknown, state?: { partition: number; isr: number[]; minInsyncReplicas: number }) {
    super(
      'NOT_ENOUGH_REPLICAS',
      `not enough in-sync replicas for "${topic}"${
        state ? `[${state.partition}] (ISR ${state.isr.length}, min.insync.replicas ${state.minInsyncReplicas})` : ''
      }: the write was refused rather than acknowledged unsafely`,
      { cause, details: { topic, ...state } },
    );
  }
}

/** A record could not be delivered for another reason (timeout, authorization, …). */
export class DeliveryError extends KandleError {
  constructor(message: string, details: Record<string, unknown>, cause?: unknown) {
    super('DELIVERY_FAILED', message, { cause, details });
  }
}

/** The schema registry could not be reached or answered with an unexpected error. */
export class RegistryUnreachableError extends KandleError {
  constructor(url: string, cause?: unknown) {
    super('REGISTRY_UNREACHABLE', `schema registry unreachable at ${url}`, { cause, details: { url } });
  }
}

/** The registry refused a schema because it breaks the subject's compatibility rule. */
export class SchemaIncompatibleError extends KandleError {
  constructor(subject: string, reason: string, cause?: unknown) {
    super('SCHEMA_INCOMPATIBLE', `schema for subject "${subject}" is incompatible: ${reason}`, {
      cause,
      details: { subject },
    });
  }
}

/** A Kafka record could not be decoded; it is routed to the dead-letter topic. */
export class PoisonRecordError extends KandleError {
  constructor(reason: string, coordinates: { topic: string; partition: number; offset: string }, cause?: unknown) {
    super(
      'POISON_RECORD',
      `poison record at ${coordinates.topic}[${coordinates.partition}]@${coordinates.offset}: ${reason}`,
      {
        cause,
        details: { ...coordinates, reason },
      },
    );
  }
}

/** A market-feed frame did not match the documented layout. */
export class FeedMessageError extends KandleError {
  constructor(reason: string, frame: unknown) {
    super('FEED_MESSAGE_INVALID', `malformed feed message: ${reason}`, { details: { frame: preview(frame) } });
  }
}

/** An assignor returned an assignment that breaks the group contract. */
export class AssignmentError extends KandleError {
  constructor(message: string, details?: Record<string, unknown>) {
    super('ASSIGNMENT_INVALID', message, details ? { details } : {});
  }
}

/**
 * A group or offset request (describe a group, read committed or end offsets) failed. `retriable` says whether the
 * same request can succeed later: true while a coordinator is loading or moving, a broker restarts or a request
 * times out; false for authorization or a malformed request.
 */
export class GroupRequestError extends KandleError {
  constructor(request: string, groupId: string, retriable: boolean, cause?: unknown) {
    super(
      'GROUP_REQUEST_FAILED',
      `${request} for group "${groupId}" failed${retriable ? ' (retriable)' : ''}: ${(cause as Error)?.message ?? cause}`,
      { cause, retriable, details: { request, groupId } },
    );
  }
}

const SECRET_KEY =
  /(password|passwd|secret|token|api[-_.]?key|sasl\.oauthbearer\.config|basic\.auth\.user\.info|authorization|credentials?)/i;
const SECRET_INLINE =
  /((?:password|passwd|secret|token|api[-_.]?key|basic\.auth\.user\.info)["']?\s*[:=]\s*["']?)([^"'\s,;}&]+)/gi;
const BEARER = /(Bearer|Basic|Token)\s+[A-Za-z0-9._~+/=-]{4,}/g;
const URL_CREDENTIALS = /(\w+:\/\/)([^:/@\s]+):([^@/\s]+)@/g;

/** Replaces anything that looks like a credential in `text` with `[redacted]`. */
export function redactSecrets(text: string): string {
  return text
    .replace(URL_CREDENTIALS, '$1[redacted]@')
    .replace(BEARER, '$1 [redacted]')
    .replace(SECRET_INLINE, '$1[redacted]');
}

/** Deep-copies `value`, replacing values of secret-looking keys and credential-looking strings. */
export function redactObject<T extends Record<string, unknown>>(value: T): T {
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) {
    if (SECRET_KEY.test(key)) out[key] = '[redacted]';
    else if (typeof v === 'string') out[key] = redactSecrets(v);
    else if (v && typeof v === 'object' && !Array.isArray(v) && Object.getPrototypeOf(v) === Object.prototype)
      out[key] = redactObject(v as Record<string, unknown>);
    else out[key] = v;
  }
  return out as T;
}

// Underlying client errors sometimes echo the config they were given; keep only what is safe.
function scrubCause(cause: unknown): unknown {
  if (cause instanceof KandleError) return cause;
  if (cause instanceof Error) {
    const safe = new Error(redactSecrets(cause.message));
    safe.name = cause.name;
    // The fields callers branch on (librdkafka's numeric `code`, the wire client's `type` and `errorCode`, either's
    // retriable flag) are kept as scalars (strings redacted like the message), so a cause can be read by type, not text.
    const from = cause as unknown as Record<string, unknown>;
    const to = safe as unknown as Record<string, unknown>;
    for (const field of ['code', 'errorCode', 'type', 'retriable', 'isRetriable']) {
      const value = from[field];
      if (typeof value === 'number' || typeof value === 'boolean') to[field] = value;
      else if (typeof value === 'string') to[field] = redactSecrets(value);
    }
    return safe;
  }
  if (typeof cause === 'string') return redactSecrets(cause);
  return cause;
}

function preview(frame: unknown): string {
  let text: string;
  try {
    text = typeof frame === 'string' ? frame : (JSON.stringify(frame) ?? String(frame));
  } catch {
    text = String(frame);
  }
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}
