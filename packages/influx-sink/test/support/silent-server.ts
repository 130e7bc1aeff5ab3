// Test double of a hung database: a TCP server that accepts connections, reads what arrives and never answers.
import { createServer, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';

export interface SilentServer {
  url: string;
  /** Connections accepted so far. */
  readonly accepted: number;
  /** Connections still open (the client has not given them up). */
  readonly open: number;
  /** Bytes received over all connections: proves the request was actually sent. */
  readonly bytesReceived: number;
  close(): Promise<void>;
}

export async function startSilentServer(): Promise<SilentServer> {
  const sockets = new Set<Socket>();
  let accepted = 0;
  let bytesReceived = 0;
  const server = createServer((socket) => {
    accepted += 1;
    sockets.add(socket);
    socket.on('data', (chunk: Buffer) => {
      bytesReceived += chunk.length;
    });
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    get accepted() {
      return accepted;
    },
    get open() {
      return sockets.size;
    },
    get bytesReceived() {
      return bytesReceived;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
