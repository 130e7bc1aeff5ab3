// Admin wire / SASL: authenticates a fresh connection (SaslHandshake v1, then SaslAuthenticate) with PLAIN, SCRAM or OAUTHBEARER.
import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto';
import type { SaslConfig } from '../../config';
import { ConfigError } from '../../errors';
import type { Connection } from './connection';
import { KafkaProtocolError } from './errors';
import { saslAuthenticate, saslHandshake } from './requests';

/** The authenticate step of {@link Connection} for `sasl`. */
export function saslAuthenticator(sasl: SaslConfig): (connection: Connection) => Promise<void> {
  return async (connection) => {
    const handshake = await connection.send(saslHandshake, { mechanism: sasl.mechanism });
    if (handshake.errorCode !== 0)
      throw new KafkaProtocolError(
        handshake.errorCode,
        `SASL ${sasl.mechanism} at ${connection.address}`,
        `the broker offers ${handshake.mechanisms.join(', ') || 'no mechanism'}`,
      );
    const step = async (bytes: Buffer): Promise<Buffer> => {
      const answer = await connection.send(saslAuthenticate, { authBytes: bytes });
      if (answer.errorCode !== 0)
        throw new KafkaProtocolError(
          answer.errorCode,
          `SASL ${sasl.mechanism} at ${connection.address}`,
          answer.errorMessage,
        );
      return answer.authBytes;
    };
    if (sasl.mechanism === 'PLAIN') {
      await step(Buffer.from(`\u0000${sasl.username}\u0000${sasl.password}`, 'utf8'));
    } else if (sasl.mechanism === 'OAUTHBEARER') {
      const token = await oidcToken(sasl.oidc);
      await step(Buffer.from(`n,,\u0001auth=Bearer ${token}\u0001\u0001`, 'utf8'));
    } else {
      const scram = new ScramClient(
        sasl.mechanism === 'SCRAM-SHA-512' ? 'sha512' : 'sha256',
        sasl.username,
        sasl.password,
      );
      const serverFirst = await step(Buffer.from(scram.clientFirst(), 'utf8'));
      const serverFinal = await step(Buffer.from(scram.clientFinal(serverFirst.toString('utf8')), 'utf8'));
      scram.verifyServerFinal(serverFinal.toString('utf8'));
    }
  };
}

/**
 * The client side of SCRAM (RFC 5802, RFC 7677): client-first, then client-final with the proof, then a check of
 * the server's signature so a broker that does not know the password cannot pass as one that does.
 */
export class ScramClient {
  private clientFirstBare = '';
  private authMessage = '';
  private saltedPassword = Buffer.alloc(0);

  constructor(
    private readonly hash: 'sha256' | 'sha512',
    private readonly username: string,
    private readonly password: string,
    private readonly nonce = randomBytes(24).toString('base64'),
  ) {}

  clientFirst(): string {
    // saslname: ',' and '=' are escaped (RFC 5802 §5.1).
    const name = this.username.replace(/=/g, '=3D').replace(/,/g, '=2C');
    this.clientFirstBare = `n=${name},r=${this.nonce}`;
    return `n,,${this.clientFirstBare}`;
  }

  clientFinal(serverFirst: string): string {
    const fields = scramFields(serverFirst);
    const nonce = fields.get('r') ?? '';
    const salt = Buffer.from(fields.get('s') ?? '', 'base64');
    const iterations = Number(fields.get('i'));
    if (!nonce.startsWith(this.nonce) || salt.length === 0 || !(iterations >= 1))
      throw new KafkaProtocolError(58, 'SCRAM', `unexpected server-first message "${serverFirst}"`);
    this.saltedPassword = pbkdf2Sync(this.password, salt, iterations, this.hash === 'sha256' ? 32 : 64, this.hash);
    const withoutProof = `c=biws,r=${nonce}`;
    this.authMessage = `${this.clientFirstBare},${serverFirst},${withoutProof}`;
    const clientKey = this.hmac(this.saltedPassword, 'Client Key');
    const storedKey = createHash(this.hash).update(clientKey).digest();
    const signature = this.hmac(storedKey, this.authMessage);
    const proof = Buffer.from(clientKey.map((byte, i) => byte ^ (signature[i] ?? 0)));
    return `${withoutProof},p=${proof.toString('base64')}`;
  }

  verifyServerFinal(serverFinal: string): void {
    const fields = scramFields(serverFinal);
    if (fields.has('e')) throw new KafkaProtocolError(58, 'SCRAM', `the broker refused: ${fields.get('e')}`);
    const expected = this.hmac(this.hmac(this.saltedPassword, 'Server Key'), this.authMessage);
    const got = Buffer.from(fields.get('v') ?? '', 'base64');
    if (got.length !== expected.length || !timingSafeEqual(got, expected))
      throw new KafkaProtocolError(
        58,
        'SCRAM',
        'the broker signature does not match: not the broker that knows the password',
      );
  }

  private hmac(key: Buffer, text: string): Buffer {
    return createHmac(this.hash, key).update(text, 'utf8').digest();
  }
}

function scramFields(message: string): Map<string, string> {
  return new Map(
    message.split(',').map((field) => {
      const at = field.indexOf('=');
      return [field.slice(0, at), field.slice(at + 1)] as [string, string];
    }),
  );
}

/** The OIDC client-credentials exchange librdkafka runs for `sasl.oauthbearer.method=oidc`: a bearer token. */
async function oidcToken(oidc: Extract<SaslConfig, { mechanism: 'OAUTHBEARER' }>['oidc']): Promise<string> {
  const { tokenEndpointUrl, clientId, clientSecret, scope } = oidc;
  const body = new URLSearchParams({ grant_type: 'client_credentials', ...(scope ? { scope } : {}) });
  const response = await fetch(tokenEndpointUrl, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: `Basic ${Buffer.from(`${clientId}:${clientSecret}`).toString('base64')}`,
    },
    body,
    signal: AbortSignal.timeout(10_000),
  });
  const token = response.ok ? ((await response.json()) as { access_token?: string }).access_token : undefined;
  if (!token) throw new ConfigError(`OIDC token endpoint ${tokenEndpointUrl} answered ${response.status}`);
  return token;
}
