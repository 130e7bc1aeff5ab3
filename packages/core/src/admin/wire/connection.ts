// Admin wire / connection: one TCP or TLS socket to one broker; frames requests, matches answers by correlation id.
//
// Every way this can fail ends as a rejected promise of the request concerned, never as an uncaught exception: a
// socket error or close rejects every pending request with a retriable BrokerConnectionError, an answer that does
// not parse rejects its request with a WireFormatError, and a request without an answer in time is rejected and
// forgotten (a late answer is dropped).
import { isIP, type Socket, connect as tcpConnect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { Reader, WireFormatError, Writer } from './codec';
import { BrokerConnectionError, KafkaProtocolError } from './errors';
import { type Api, apiVersions } from './requests';

/** How to reach and talk to brokers; shared by every connection of a client. */
export interface ConnectionOptions {
  clientId: string;
  /** TLS on; `ca` replaces the system CAs when given. */
  tls?: { ca?: string };
  /** Runs after ApiVersions and before any other request (SASL). */
  authenticate?: (connection: Connection) => Promise<void>;
  connectTimeoutMs: number;
  requestTimeoutMs: number;
}

interface Pending {
  decode: (r: Reader) => unknown;
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

// An answer larger than this is a corrupt size prefix, not an admin answer.
const MAX_FRAME = 100 * 1024 * 1024;

export class Connection {
  private socket: Socket | undefined;
  private readonly pending = new Map<number, Pending>();
  private nextCorrelationId = 1;
  private inbound: Buffer = Buffer.alloc(0);
  private versions = new Map<number, { min: number; max: number }>();
  private failure: Error | undefined;

  constructor(
    readonly host: string,
    readonly port: number,
    private readonly options: ConnectionOptions,
  ) {}

  get address(): string {
    return `${this.host}:${this.port}`;
  }

  /** False once the socket failed or closed: the client then opens a new one. */
  get usable(): boolean {
    return this.socket !== undefined && this.failure === undefined;
  }

  /** Opens the socket, learns the broker's API versions, then authenticates. */
  async open(): Promise<void> {
    await this.openSocket();
    const answer = await this.sendAt(apiVersions, 0, undefined);
    // UNSUPPORTED_VERSION still lists the versions (in v0 layout, which is what v0 asked for).
    if (answer.errorCode !== 0 && answer.errorCode !== 35)
      throw new KafkaProtocolError(answer.errorCode, `ApiVersions from ${this.address}`);
    this.versions = new Map(answer.apis.map((a) => [a.key, { min: a.min, max: a.max }]));
    await this.options.authenticate?.(this);
  }

  private openSocket(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const { tls, connectTimeoutMs } = this.options;
      const onConnected = () => {
        clearTimeout(timer);
        resolve();
      };
      const socket = tls
        ? tlsConnect(
            // SNI carries host names only (RFC 6066); certificates are still checked against the IP.
            { host: this.host, port: this.port, ...(isIP(this.host) ? {} : { servername: this.host }), ca: tls.ca },
            onConnected,
          )
        : tcpConnect({ host: this.host, port: this.port }, onConnected);
      this.socket = socket;
      const timer = setTimeout(() => {
        const error = new BrokerConnectionError(`connecting to ${this.address} took over ${connectTimeoutMs} ms`);
        this.fail(error);
        reject(error);
      }, connectTimeoutMs);
      socket.setNoDelay(true);
      socket.on('data', (chunk: Buffer) => this.receive(chunk));
      socket.on('error', (e) => {
        clearTimeout(timer);
        const error = new BrokerConnectionError(`connection to ${this.address} failed: ${e.message}`, { cause: e });
        this.fail(error);
        reject(error);
      });
      socket.on('close', () => {
        clearTimeout(timer);
        const error = new BrokerConnectionError(`connection to ${this.address} closed`);
        this.fail(error);
        reject(error);
      });
    });
  }

  /** Sends one request at the highest version both sides speak. */
  send<A, R>(api: Api<A, R>, args: A): Promise<R> {
    const broker = this.versions.get(api.key);
    const version = broker ? Math.min(api.max, broker.max) : -1;
    if (!broker || version < Math.max(api.min, broker.min))
      return Promise.reject(
        new KafkaProtocolError(35, `${api.name} v${api.min}..${api.max} at ${this.address}`, 'no common version'),
      );
    return this.sendAt(api, version, args);
  }

  private sendAt<A, R>(api: Api<A, R>, version: number, args: A): Promise<R> {
    const socket = this.socket;
    if (!socket || this.failure) return Promise.reject(this.failure ?? new BrokerConnectionError('not connected'));
    const correlationId = this.nextCorrelationId++ & 0x7fffffff;
    let frame: Buffer;
    try {
      // Request header v1: api key, version, correlation id, client id.
      const body = new Writer().int16(api.key).int16(version).int32(correlationId).string(this.options.clientId);
      api.encode(body, version, args);
      const payload = body.toBuffer();
      frame = new Writer().int32(payload.length).raw(payload).toBuffer();
    } catch (e) {
      return Promise.reject(e);
    }
    return new Promise<R>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(correlationId);
        reject(
          new BrokerConnectionError(
            `${api.name} to ${this.address} got no answer within ${this.options.requestTimeoutMs} ms`,
          ),
        );
      }, this.options.requestTimeoutMs);
      this.pending.set(correlationId, {
        decode: (r) => api.decode(r, version),
        resolve: resolve as (value: unknown) => void,
        reject,
        timer,
      });
      socket.write(frame);
    });
  }

  /** Cuts the inbound stream into size-prefixed answers and hands each to its request. */
  private receive(chunk: Buffer): void {
    this.inbound = this.inbound.length ? Buffer.concat([this.inbound, chunk]) : chunk;
    while (this.inbound.length >= 4) {
      const size = this.inbound.readInt32BE(0);
      if (size < 4 || size > MAX_FRAME) {
        this.fail(new WireFormatError(`answer from ${this.address} announces ${size} bytes`));
        return;
      }
      if (this.inbound.length < 4 + size) return;
      const frame = this.inbound.subarray(4, 4 + size);
      this.inbound = this.inbound.subarray(4 + size);
      this.answer(frame);
    }
  }

  private answer(frame: Buffer): void {
    const reader = new Reader(frame);
    const request = this.pending.get(reader.int32());
    if (!request) return; // timed out already
    this.pending.delete(frame.readInt32BE(0));
    clearTimeout(request.timer);
    try {
      request.resolve(request.decode(reader));
    } catch (e) {
      request.reject(e instanceof Error ? e : new WireFormatError(String(e)));
    }
  }

  /** Marks the connection broken and rejects every pending request with `error`. */
  private fail(error: Error): void {
    this.failure ??= error;
    this.socket?.destroy();
    for (const [id, request] of this.pending) {
      clearTimeout(request.timer);
      this.pending.delete(id);
      request.reject(
        error instanceof BrokerConnectionError ? error : new BrokerConnectionError(error.message, { cause: error }),
      );
    }
  }

  close(): void {
    this.fail(new BrokerConnectionError(`connection to ${this.address} closed by the client`));
  }
}
