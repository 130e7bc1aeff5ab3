// Connection: connects a librdkafka client, and says why it could not (credentials refused, or no broker answered).
import type { ResolvedKafkaConnection } from './config';
import { AuthenticationError, BrokerUnreachableError, type KandleError } from './errors';
import { WireClient } from './admin/wire/client';
import { KafkaProtocolError } from './admin/wire/errors';
import { saslAuthenticator } from './admin/wire/sasl';

/** Kafka's SASL_AUTHENTICATION_FAILED. */
const SASL_AUTHENTICATION_FAILED = 58;
/** How long the diagnosis of a failed connect may take, on top of the connect timeout. */
const DIAGNOSIS_TIMEOUT_MS = 5_000;

/** The part of a librdkafka client (producer, consumer) that connects. */
interface Connectable {
  connect(options: { timeout: number }, callback: (err: unknown) => void): unknown;
}

/**
 * Connects `client` within `resolved.connectTimeoutMs`. A failure is an {@link AuthenticationError} when the brokers
 * refused the SASL credentials, else a {@link BrokerUnreachableError}: librdkafka's connect reports both as
 * "broker transport failure" after the whole timeout, so a wrong password read as an unreachable cluster.
 */
export async function connectNative(client: Connectable, resolved: ResolvedKafkaConnection): Promise<void> {
  try {
    await new Promise<void>((resolve, reject) =>
      client.connect({ timeout: resolved.connectTimeoutMs }, (err) => (err ? reject(err) : resolve())),
    );
  } catch (e) {
    throw await connectFailure(resolved, e);
  }
}

/**
 * What a failed connect to `resolved` means. With SASL PLAIN or SCRAM, one bootstrap broker is asked again from JS
 * (kandle's wire client, which sees Kafka's error code): a refusal becomes an {@link AuthenticationError}. Anything
 * else (no answer, TLS, OAUTHBEARER, which librdkafka authenticates itself) stays "unreachable".
 */
export async function connectFailure(resolved: ResolvedKafkaConnection, cause: unknown): Promise<KandleError> {
  const unreachable = new BrokerUnreachableError(resolved.brokers, resolved.connectTimeoutMs, cause);
  const settings = resolved.rdkafka;
  const mechanism = settings['sasl.mechanisms'];
  const protocol = String(settings['security.protocol'] ?? '');
  if (!protocol.startsWith('sasl') || (mechanism !== 'PLAIN' && !String(mechanism).startsWith('SCRAM-')))
    return unreachable;
  const username = String(settings['sasl.username'] ?? '');
  const probe = new WireClient(resolved.brokers, {
    clientId: resolved.clientId,
    connectTimeoutMs: DIAGNOSIS_TIMEOUT_MS,
    requestTimeoutMs: DIAGNOSIS_TIMEOUT_MS,
    ...(protocol === 'sasl_ssl' ? { tls: settings['ssl.ca.pem'] ? { ca: String(settings['ssl.ca.pem']) } : {} } : {}),
    authenticate: saslAuthenticator({
      mechanism: mechanism as 'PLAIN',
      username,
      password: String(settings['sasl.password'] ?? ''),
    }),
  });
  try {
    await probe.metadata([]);
    return unreachable;
  } catch (e) {
    return e instanceof KafkaProtocolError && e.errorCode === SASL_AUTHENTICATION_FAILED
      ? new AuthenticationError(resolved.brokers, String(mechanism), username, cause)
      : unreachable;
  } finally {
    probe.close();
  }
}
