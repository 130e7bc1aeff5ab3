// Secrets never leak: credentials given to the connection config do not appear in errors, causes or logged settings.
import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import {
  BrokerUnreachableError,
  connectSchemaRegistry,
  createKafkaAdmin,
  describeSettings,
  type KafkaConnection,
  RegistryUnreachableError,
  resolveKafkaConnection,
} from '../src/index';

const KAFKA_SECRET = 'kafka-S3cr3t-9f8e7d';
const REGISTRY_SECRET = 'registry-S3cr3t-1a2b3c';
const OIDC_SECRET = 'oidc-S3cr3t-77aa';

/** Every way an error reaches a log: message, stack, inspect (with causes), JSON, and the cause chain. */
function everythingPrintable(error: unknown): string {
  const parts: string[] = [inspect(error, { depth: 10 }), JSON.stringify(error), String(error)];
  for (let e: unknown = error; e; e = (e as { cause?: unknown }).cause) {
    parts.push(
      String((e as Error).message),
      String((e as Error).stack),
      JSON.stringify((e as { details?: unknown }).details),
    );
  }
  return parts.join('\n');
}

const closedPort = '127.0.0.1:1';

describe('secrets stay out of errors and logs', () => {
  it('an unreachable SASL cluster fails with BrokerUnreachableError that does not contain the password', async () => {
    const connection: KafkaConnection = {
      brokers: closedPort,
      connectTimeoutMs: 1500,
      security: {
        protocol: 'sasl_plaintext',
        sasl: { mechanism: 'SCRAM-SHA-512', username: 'svc', password: KAFKA_SECRET },
      },
    };
    const error = await createKafkaAdmin(connection).catch((e) => e);
    expect(error).toBeInstanceOf(BrokerUnreachableError);
    expect(everythingPrintable(error)).not.toContain(KAFKA_SECRET);
  });

  it('the resolved librdkafka settings carry the secret, but describeSettings (what kandle logs) does not', () => {
    const resolved = resolveKafkaConnection({
      brokers: closedPort,
      security: {
        protocol: 'sasl_ssl',
        sasl: {
          mechanism: 'OAUTHBEARER',
          oidc: { tokenEndpointUrl: 'https://idp.example/token', clientId: 'c', clientSecret: OIDC_SECRET },
        },
      },
      rdkafka: { 'sasl.password': KAFKA_SECRET },
    });
    expect(JSON.stringify(resolved.rdkafka)).toContain(OIDC_SECRET);
    const printed = JSON.stringify(describeSettings(resolved.rdkafka));
    expect(printed).not.toContain(OIDC_SECRET);
    expect(printed).not.toContain(KAFKA_SECRET);
    expect(printed).toContain('sasl_ssl');
  });

  // Unreachable-registry cases: the registry client retries with backoff before giving up, seconds on a busy machine.
  it('an unreachable registry with basic auth fails with RegistryUnreachableError without the password', async () => {
    const registry = connectSchemaRegistry({
      url: `http://${closedPort}`,
      auth: { basic: { username: 'key', password: REGISTRY_SECRET } },
      timeoutMs: 1500,
    });
    const error = await registry.register('t-value', { type: 'string' }).catch((e) => e);
    expect(error).toBeInstanceOf(RegistryUnreachableError);
    expect(everythingPrintable(error)).not.toContain(REGISTRY_SECRET);
  }, 30_000);

  it('credentials embedded in a registry URL are redacted too', async () => {
    const registry = connectSchemaRegistry({ url: `http://key:${REGISTRY_SECRET}@${closedPort}`, timeoutMs: 1500 });
    const error = await registry.register('t-value', { type: 'string' }).catch((e) => e);
    expect(error).toBeInstanceOf(RegistryUnreachableError);
    expect(everythingPrintable(error)).not.toContain(REGISTRY_SECRET);
  }, 30_000);
});
