// Local stack start-up: fixed ports already taken fail fast and say so, instead of handing out somebody else's brokers.
import { createServer, type Server } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { startKafkaCluster, startSchemaRegistry } from '../src/index';

let holder: Server | undefined;

afterEach(async () => {
  await new Promise((resolve) => (holder ? holder.close(resolve) : resolve(undefined)));
  holder = undefined;
});

/** Listens on a free port of 127.0.0.1, as another stack's broker or registry would; returns it. */
async function occupyPort(): Promise<number> {
  holder = createServer();
  await new Promise<void>((resolve) => holder?.listen(0, '127.0.0.1', resolve));
  const address = holder.address();
  return typeof address === 'object' && address ? address.port : 0;
}

describe('fixed ports of the local stack', () => {
  it('a Kafka base port in use fails at once with LOCAL_STACK_FAILED naming it and the way out', async () => {
    const port = await occupyPort();
    const started = startKafkaCluster({ basePort: port, brokers: 1 });
    await expect(started).rejects.toMatchObject({ code: 'LOCAL_STACK_FAILED', details: { ports: [port] } });
    await expect(started).rejects.toThrow(/already in use.*KANDLE_KAFKA_BASE_PORT/);
  });

  it('a registry port in use fails with LOCAL_STACK_FAILED naming it', async () => {
    const port = await occupyPort();
    await expect(startSchemaRegistry({ port })).rejects.toMatchObject({
      code: 'LOCAL_STACK_FAILED',
      message: expect.stringMatching(new RegExp(`port ${port} on 127\\.0\\.0\\.1 already in use`)),
    });
  });
});
