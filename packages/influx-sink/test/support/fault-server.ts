// Test double of an InfluxDB write endpoint: records requests and answers with scripted statuses to inject faults.
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';

export interface RecordedRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  gzipped: boolean;
  lines: string[];
  at: number;
}

/** What the server does with one request: answer with a status, or drop the connection without answering. */
export type Reply = { status: number; body?: string; headers?: Record<string, string> } | 'drop';

export type ReplyFn = (request: RecordedRequest, index: number) => Reply | Promise<Reply>;

export interface FaultServer {
  url: string;
  requests: RecordedRequest[];
  /** Replaces how later requests are answered (default: 204 to everything). */
  reply(fn: ReplyFn): void;
  close(): Promise<void>;
}

export async function startFaultServer(initial: ReplyFn = () => ({ status: 204 })): Promise<FaultServer> {
  let replyFn = initial;
  const requests: RecordedRequest[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', async () => {
      const raw = Buffer.concat(chunks);
      const gzipped = req.headers['content-encoding'] === 'gzip';
      const body = (gzipped ? gunzipSync(raw) : raw).toString('utf8');
      const url = new URL(req.url ?? '/', 'http://localhost');
      const recorded: RecordedRequest = {
        method: req.method ?? '',
        path: url.pathname,
        query: url.searchParams,
        headers: req.headers,
        gzipped,
        lines: body.split('\n').filter((l) => l !== ''),
        at: Date.now(),
      };
      requests.push(recorded);
      const reply = await replyFn(recorded, requests.length - 1);
      if (reply === 'drop') {
        req.socket.destroy();
        return;
      }
      res.writeHead(reply.status, { 'content-type': 'application/json', ...reply.headers });
      res.end(reply.body ?? '');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    reply(fn) {
      replyFn = fn;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
