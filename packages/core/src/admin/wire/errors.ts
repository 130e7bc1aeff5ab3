// Admin wire / errors: a Kafka error code in an answer becomes a typed, named error that says whether a retry can help.
//
// Names and retriability follow Kafka's own table (org.apache.kafka.common.protocol.Errors); only the codes the
// admin requests kandle speaks can answer are listed, any other code keeps its number and is not retriable.

/** [name, retriable] by Kafka error code. */
const CODES: Record<number, [string, boolean]> = {
  [-1]: ['UNKNOWN_SERVER_ERROR', false],
  1: ['OFFSET_OUT_OF_RANGE', false],
  2: ['CORRUPT_MESSAGE', true],
  3: ['UNKNOWN_TOPIC_OR_PARTITION', true],
  5: ['LEADER_NOT_AVAILABLE', true],
  6: ['NOT_LEADER_OR_FOLLOWER', true],
  7: ['REQUEST_TIMED_OUT', true],
  8: ['BROKER_NOT_AVAILABLE', false],
  9: ['REPLICA_NOT_AVAILABLE', true],
  13: ['NETWORK_EXCEPTION', true],
  14: ['COORDINATOR_LOAD_IN_PROGRESS', true],
  15: ['COORDINATOR_NOT_AVAILABLE', true],
  16: ['NOT_COORDINATOR', true],
  17: ['INVALID_TOPIC_EXCEPTION', false],
  19: ['NOT_ENOUGH_REPLICAS', true],
  24: ['INVALID_GROUP_ID', false],
  29: ['TOPIC_AUTHORIZATION_FAILED', false],
  30: ['GROUP_AUTHORIZATION_FAILED', false],
  31: ['CLUSTER_AUTHORIZATION_FAILED', false],
  33: ['UNSUPPORTED_SASL_MECHANISM', false],
  34: ['ILLEGAL_SASL_STATE', false],
  35: ['UNSUPPORTED_VERSION', false],
  36: ['TOPIC_ALREADY_EXISTS', false],
  37: ['INVALID_PARTITIONS', false],
  38: ['INVALID_REPLICATION_FACTOR', false],
  39: ['INVALID_REPLICA_ASSIGNMENT', false],
  40: ['INVALID_CONFIG', false],
  41: ['NOT_CONTROLLER', true],
  42: ['INVALID_REQUEST', false],
  44: ['POLICY_VIOLATION', false],
  45: ['OUT_OF_ORDER_SEQUENCE_NUMBER', false],
  56: ['KAFKA_STORAGE_ERROR', true],
  58: ['SASL_AUTHENTICATION_FAILED', false],
  69: ['GROUP_ID_NOT_FOUND', false],
  71: ['TOO_MANY_REQUESTS', true],
  74: ['FENCED_LEADER_EPOCH', true],
  75: ['UNKNOWN_LEADER_EPOCH', true],
  76: ['UNSUPPORTED_COMPRESSION_TYPE', false],
  87: ['UNSTABLE_OFFSET_COMMIT', true],
  89: ['THROTTLING_QUOTA_EXCEEDED', true],
  90: ['PRODUCER_FENCED', false],
  101: ['UNKNOWN_TOPIC_ID', true],
  103: ['OFFSET_MOVED_TO_TIERED_STORAGE', false],
};

/** A broker answered with a Kafka error code (per request, group, topic or partition). */
export class KafkaProtocolError extends Error {
  override readonly name = 'KafkaProtocolError';
  /** Kafka's name of the code, e.g. `NOT_COORDINATOR`. */
  readonly type: string;
  readonly retriable: boolean;

  constructor(
    readonly errorCode: number,
    context: string,
    brokerMessage?: string | null,
  ) {
    const [type, retriable] = CODES[errorCode] ?? [`KAFKA_ERROR_${errorCode}`, false];
    super(`${context}: ${type} (${errorCode})${brokerMessage ? `: ${brokerMessage}` : ''}`);
    this.type = type;
    this.retriable = retriable;
  }
}

/** Kafka's name and retriability of `code`. */
export function describeErrorCode(code: number): { type: string; retriable: boolean } {
  const [type, retriable] = CODES[code] ?? [`KAFKA_ERROR_${code}`, false];
  return { type, retriable };
}

/** Throws a {@link KafkaProtocolError} unless `code` is 0 (no error). */
export function throwIfError(code: number, context: string, brokerMessage?: string | null): void {
  if (code !== 0) throw new KafkaProtocolError(code, context, brokerMessage);
}

/**
 * The connection to a broker failed or closed, or an answer did not come in time: always retriable, as a broker
 * that restarts or moves comes back.
 */
export class BrokerConnectionError extends Error {
  override readonly name = 'BrokerConnectionError';
  readonly retriable = true;
}
