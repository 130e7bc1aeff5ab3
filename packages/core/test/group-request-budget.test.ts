// Group requests: a per-call budget bounds the whole call, the request in flight included, against a broker that never answers.
import { createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GroupRequestError } from '../src/index';
import { PureAdmin } from '../src/admin/groups';

/** A fault injector on loopback, not a broker: it accepts connections and never says a word. */
let silent: Server;
let address = '';
const sockets: Socket[] = [];

beforeAll(async () => {
  silent = createServer((socket) => sockets.push(socket));
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  const bound = silent.address();
  if (!bound || typeof bound === 'string') throw new Error('no port');
  address = `127.0.0.1:${bound.port}`;
});

afterAll(async () => {
  for (const socket of sockets) socket.destroy();
  await new Promise((resolve) => silent.close(resolve));
});

describe('group requests with budgetMs', () => {
  it('give up within the budget with a retriable GroupRequestError, though the request timeout is 15 s', async () => {
    const admin = new PureAdmin({ brokers: address }, address, 15_000);
    const started = Date.now();
    const error = await admin.describeGroup('g', { budgetMs: 800 }).catch((e: unknown) => e);
    const elapsed = Date.now() - started;
    expect(error).toBeInstanceOf(GroupRequestError);
    expect(error).toMatchObject({ retriable: true, message: expect.stringMatching(/no answer within 800 ms/) });
    // A bound, not a speed check: far below the 15 s the silent broker would hold the call without the budget.
    expect(elapsed).toBeLessThan(6_000);
    const lag = await admin.committedOffsets('g', 't', { budgetMs: 500 }).catch((e: unknown) => e);
    expect(lag).toMatchObject({ retriable: true, message: expect.stringMatching(/no answer within 500 ms/) });
    void admin.close().catch(() => undefined);
  });

  it('refuse a budget that is not positive', async () => {
    const admin = new PureAdmin({ brokers: address }, address, 15_000);
    await expect(admin.describeGroup('g', { budgetMs: 0 })).rejects.toThrow(/budgetMs must be > 0/);
  });
});
