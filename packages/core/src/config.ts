// Config: one typed connection for producer, consumer and admin, mapped to librdkafka and registry options.
import { ConfigError, redactObject } from './errors';

/** librdkafka settings passed through verbatim (see librdkafka's CONFIGURATION.md). */
export type RdkafkaSettings = Record<string, string | number | boolean>;

/** SASL credentials for a secured cluster (Confluent Cloud, MSK, Aiven, Redpanda Cloud, …). */
export type SaslConfig =
  | { mechanism: 'PLAIN' | 'SCRAM-SHA-256' | 'SCRAM-SHA-512'; username: string; password: string }
  | {
      mechanism: 'OAUTHBEARER';
      /** OIDC client-credentials flow run by librdkafka itself. */
      oidc: { tokenEndpointUrl: string; clientId: string; clientSecret: string; scope?: string; extensions?: string };
    };

/**
 * How to reach Kafka. One object is shared by producer, consumer and admin so the same code runs
 * against the local stack and a hosted cluster.
 *
 * @example Hosted Kafka with SASL_SSL
 * ```ts
 * const kafka: KafkaConnection = {
 *   brokers: 'pkc-xxxx.europe-west1.gcp.confluent.cloud:9092',
 *   security: { protocol: 'sasl_ssl', sasl: { mechanism: 'PLAIN', username: process.env.KAFKA_KEY!, password: process.env.KAFKA_SECRET! } },
 * };
 * ```
 */
export interface KafkaConnection {
  /** Bootstrap servers, `host:port` list. Default: `$KAFKA_BROKERS`. */
  brokers?: string | string[];
  /** `client.id`, shown in broker logs and group descriptions. Default `kandle`. */
  clientId?: string;
  /** Transport security. Default plaintext. */
  security?: {
    protocol: 'plaintext' | 'ssl' | 'sasl_plaintext' | 'sasl_ssl';
    sasl?: SaslConfig;
    /** PEM CA certificate(s) for brokers with a private CA. */
    caPem?: string;
  };
  /** How long to wait for the first broker before failing with `BrokerUnreachableError`. Default 15000 ms. */
  connectTimeoutMs?: number;
  /** Raw librdkafka settings; they win over everything kandle derives. */
  rdkafka?: RdkafkaSettings;
}

/**
 * How to reach the Schema Registry (Confluent API; Apicurio's `/apis/ccompat/v7` works too).
 *
 * @example
 * ```ts
 * const registry: RegistryConnection = { url: 'https://psrc-xxxx.confluent.cloud', auth: { basic: { username: key, password: secret } } };
 * ```
 */
export interface RegistryConnection {
  /** Base URL. Default `$SCHEMA_REGISTRY_URL`. */
  url?: string;
  auth?: { basic: { username: string; password: string } } | { bearer: { token: string } };
  /**
   * Time budget of one registry call, its retries included: a registry that accepts the connection and never
   * answers fails the call with `RegistryUnreachableError` after this long instead of hanging it. Default 10000 ms.
   */
  timeoutMs?: number;
  /**
   * Retries, within `timeoutMs`, of a request that failed on the network or got 429/5xx, with jittered
   * exponential backoff (1 s base). A request that timed out is not retried. Default 3.
   */
  retries?: number;
}

/** Resolved Kafka connection with defaults applied. */
export interface ResolvedKafkaConnection {
  brokers: string;
  clientId: string;
  connectTimeoutMs: number;
  rdkafka: RdkafkaSettings;
}

/** Applies defaults and env fallbacks and validates; throws `ConfigError` with the field at fault. */
export function resolveKafkaConnection(connection: KafkaConnection = {}): ResolvedKafkaConnection {
  const list = connection.brokers ?? process.env.KAFKA_BROKERS;
  const brokers = (Array.isArray(list) ? list : (list ?? '').split(',')).map((b) => b.trim()).filter(Boolean);
  if (brokers.length === 0)
    throw new ConfigError('kafka.brokers is required (or set KAFKA_BROKERS), e.g. "127.0.0.1:9092"');
  for (const b of brokers) {
    if (!/^[^\s:]+:\d{1,5}$/.test(b.replace(/^\w+:\/\//, '')))
      throw new ConfigError(`kafka.brokers entry "${b}" is not host:port`);
  }
  const connectTimeoutMs = connection.connectTimeoutMs ?? 15_000;
  if (!(connectTimeoutMs > 0)) throw new ConfigError('kafka.connectTimeoutMs must be > 0');
  const rdkafka: RdkafkaSettings = {
    'bootstrap.servers': brokers.join(','),
    'client.id': connection.clientId ?? 'kandle',
  };
  const security = connection.security;
  if (security) {
    rdkafka['security.protocol'] = security.protocol;
    if (security.caPem) rdkafka['ssl.ca.pem'] = security.caPem;
    const sasl = security.sasl;
    if (sasl && !security.protocol.startsWith('sasl')) {
      throw new ConfigError(`kafka.security.sasl needs protocol sasl_ssl or sasl_plaintext, not ${security.protocol}`);
    }
    if (sasl?.mechanism === 'OAUTHBEARER') {
      Object.assign(rdkafka, {
        'sasl.mechanisms': 'OAUTHBEARER',
        'sasl.oauthbearer.method': 'oidc',
        'sasl.oauthbearer.token.endpoint.url': sasl.oidc.tokenEndpointUrl,
        'sasl.oauthbearer.client.id': sasl.oidc.clientId,
        'sasl.oauthbearer.client.secret': sasl.oidc.clientSecret,
        ...(sasl.oidc.scope ? { 'sasl.oauthbearer.scope': sasl.oidc.scope } : {}),
        ...(sasl.oidc.extensions ? { 'sasl.oauthbearer.extensions': sasl.oidc.extensions } : {}),
      });
    } else if (sasl) {
      Object.assign(rdkafka, {
        'sasl.mechanisms': sasl.mechanism,
        'sasl.username': sasl.username,
        'sasl.password': sasl.password,
      });
    }
  }
  Object.assign(rdkafka, connection.rdkafka ?? {});
  return { brokers: brokers.join(','), clientId: String(rdkafka['client.id']), connectTimeoutMs, rdkafka };
}

/** Registry connection with defaults applied, in `@confluentinc/schemaregistry`'s `ClientConfig` shape. */
export interface ResolvedRegistryConnection {
  url: string;
  timeoutMs: number;
  retries: number;
  clientConfig: {
    baseURLs: string[];
    // @confluentinc/schemaregistry takes the request timeout only through its axios defaults; a top-level
    // `timeout` is silently ignored (and a silent registry then hung every call).
    createAxiosDefaults: { timeout: number };
    maxRetries: number;
    basicAuthCredentials?: { credentialsSource: 'USER_INFO'; userInfo: string };
    bearerAuthCredentials?: { credentialsSource: 'STATIC_TOKEN'; token: string };
    cacheCapacity: number;
  };
}

/** Applies defaults and env fallbacks for the registry; throws `ConfigError`. */
export function resolveRegistryConnection(connection: RegistryConnection = {}): ResolvedRegistryConnection {
  const url = connection.url ?? process.env.SCHEMA_REGISTRY_URL;
  if (!url) throw new ConfigError('registry.url is required (or set SCHEMA_REGISTRY_URL)');
  try {
    new URL(url);
  } catch {
    throw new ConfigError(`registry.url "${url}" is not a URL`);
  }
  const timeoutMs = connection.timeoutMs ?? 10_000;
  if (!(timeoutMs > 0)) throw new ConfigError('registry.timeoutMs must be > 0');
  const retries = connection.retries ?? 3;
  if (!Number.isInteger(retries) || retries < 0) throw new ConfigError('registry.retries must be an integer ≥ 0');
  const clientConfig: ResolvedRegistryConnection['clientConfig'] = {
    baseURLs: [url],
    createAxiosDefaults: { timeout: timeoutMs },
    maxRetries: retries,
    cacheCapacity: 1000,
  };
  const auth = connection.auth;
  if (auth && 'basic' in auth) {
    clientConfig.basicAuthCredentials = {
      credentialsSource: 'USER_INFO',
      userInfo: `${auth.basic.username}:${auth.basic.password}`,
    };
  } else if (auth && 'bearer' in auth) {
    clientConfig.bearerAuthCredentials = { credentialsSource: 'STATIC_TOKEN', token: auth.bearer.token };
  }
  return { url, timeoutMs, retries, clientConfig };
}

/** A printable view of librdkafka settings with every credential replaced by `[redacted]`. */
export function describeSettings(settings: RdkafkaSettings): Record<string, unknown> {
  return redactObject(settings as Record<string, unknown>);
}
