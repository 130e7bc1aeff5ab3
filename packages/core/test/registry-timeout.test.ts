// Registry connection: a silent registry fails calls after timeoutMs; failing ones are retried `retries` times.
import { createServer as createHttpServer } from 'node:http';
import { createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, connectSchemaRegistry, RegistryUnreachableError } from '../src/index';

/** Fault injectors on loopback, not registries: one never answers, one answers every request with 503. */
let silent: Server;
let unavailable: ReturnType<typeof createHttpServer>;
let silentUrl = '';
let unavailableUrl = '';
let silentConnections = 0;
let unavailableRequests = 0;
const sockets: Socket[] = [];

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('no port');
  return `http://127.0.0.1:${address.port}`;
}

beforeAll(async () => {
  silent = createServer((socket) => {
    silentConnections++;
    sockets.push(socket);
    socket.on('error', () => undefined);
  });
  unavailable = createHttpServer((_request, response) => {
    unavailableRequests++;
    response.writeHead(503, { 'content-type': 'text/plain' }).end('maintenance');
  });
  silentUrl = await listen(silent);
  unavailableUrl = await listen(unavailable);
});

afterAll(async () => {
  for (const socket of sockets) socket.destroy();
  await new Promise<void>((resolve) => silent.close(() => resolve()));
  await new Promise<void>((resolve) => unavailable.close(() => resolve()));
});

describe('registry timeouts and retries', () => {
  it('a registry that accepts the connection and never answers fails with RegistryUnreachableError', async () => {
    silentConnections = 0;
    const registry = connectSchemaRegistry({ url: silentUrl, timeoutMs: 300 });
    const error = await registry.register('t-value', { type: 'string' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RegistryUnreachableError);
    expect((error as Error).message).toContain(silentUrl);
    expect(silentConnections).toBe(1);
  }, 20_000);

  it('a 503 is retried `retries` times, then reported as RegistryUnreachableError', async () => {
    unavailableRequests = 0;
    const registry = connectSchemaRegistry({ url: unavailableUrl, timeoutMs: 15_000, retries: 2 });
    const error = await registry.schemaById(1, 't-value').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RegistryUnreachableError);
    expect(unavailableRequests).toBe(3);
  }, 20_000);

  it('retries: 0 asks once', async () => {
    unavailableRequests = 0;
    const registry = connectSchemaRegistry({ url: unavailableUrl, retries: 0 });
    const error = await registry.register('t-value', { type: 'string' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RegistryUnreachableError);
    expect(unavailableRequests).toBe(1);
  }, 20_000);

  it('rejects a non-positive timeout and a negative or fractional retry count with ConfigError', () => {
    expect(() => connectSchemaRegistry({ url: silentUrl, timeoutMs: 0 })).toThrow(ConfigError);
    expect(() => connectSchemaRegistry({ url: silentUrl, retries: -1 })).toThrow(ConfigError);
    expect(() => connectSchemaRegistry({ url: silentUrl, retries: 1.5 })).toThrow(ConfigError);
  });
});
