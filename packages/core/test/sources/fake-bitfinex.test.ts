// Tests / the fake Bitfinex itself, with a raw WebSocket client: it must keep the documented manners the source tests rely on.
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { CONF_FLAG_SEQ_ALL, CONF_FLAG_TIMESTAMP } from '../../src/sources/bitfinex-frames';
import { type FakeBitfinex, type FakeBitfinexOptions, startFakeBitfinex } from '@kandle/local-stack';

let server: FakeBitfinex | undefined;
const sockets: WebSocket[] = [];
afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.terminate();
  await server?.close();
  server = undefined;
});

interface RawClient {
  frames: unknown[];
  send(message: unknown): void;
  /** Frames on channel `chanId`, without the id. */
  on(chanId: number): unknown[][];
  event(name: string): Record<string, unknown>[];
}

async function rawClient(options: FakeBitfinexOptions = {}): Promise<{ server: FakeBitfinex; client: RawClient }> {
  server = await startFakeBitfinex({ heartbeatIntervalMs: 0, ...options });
  const socket = new WebSocket(server.url);
  sockets.push(socket);
  const frames: unknown[] = [];
  socket.on('message', (data) => frames.push(JSON.parse(String(data))));
  await new Promise((resolve) => socket.once('open', resolve));
  const client: RawClient = {
    frames,
    send: (message) => socket.send(JSON.stringify(message)),
    on: (chanId) => frames.flatMap((f) => (Array.isArray(f) && f[0] === chanId ? [f.slice(1) as unknown[]] : [])),
    event: (name) =>
      frames.flatMap((f) =>
        !Array.isArray(f) && (f as Record<string, unknown>).event === name ? [f as Record<string, unknown>] : [],
      ),
  };
  const s = server;
  await s.waitFor(() => client.event('info').length === 1);
  return { server: s, client };
}

/** Subscribes and returns the chanId of the confirmation. */
async function subscribe(server: FakeBitfinex, client: RawClient, channel: string, symbol: string, subId?: number) {
  client.send({ event: 'subscribe', channel, symbol, ...(subId === undefined ? {} : { subId }) });
  const echo = () => client.event('subscribed').find((e) => e.channel === channel && e.symbol === symbol);
  await server.waitFor(() => echo() !== undefined);
  return echo()?.chanId as number;
}

describe('startFakeBitfinex (raw protocol)', () => {
  it('echoes subId, sends heartbeats only on channels silent for the period, and none on a busy one', async () => {
    const { server, client } = await rawClient({ heartbeatIntervalMs: 200 });
    const quiet = await subscribe(server, client, 'ticker', 'tETHUSD', 7);
    const busy = await subscribe(server, client, 'ticker', 'tBTCUSD', 8);
    expect(client.event('subscribed').map((e) => e.subId)).toEqual([7, 8]);
    const values = [1, 1, 2, 1, 0, 0, 1.5, 10, 2, 1];
    // Keep one channel busy well past several heartbeat periods.
    for (let i = 0; i < 60; i += 1) {
      server.pushTicker('tBTCUSD', values);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    expect(client.on(quiet).filter((f) => f[0] === 'hb').length).toBeGreaterThanOrEqual(2);
    expect(client.on(busy).filter((f) => f[0] === 'hb')).toEqual([]);
  });

  it('sends tu only after the configured delay, te at once', async () => {
    const { server, client } = await rawClient({ tradeUpdateDelayMs: 150 });
    const chanId = await subscribe(server, client, 'trades', 'tBTCUSD');
    expect(server.pushTrade('tBTCUSD', [5, Date.now(), 1, 95_000])).toBe(1);
    await server.waitFor(() => client.on(chanId).some((f) => f[0] === 'te'));
    expect(client.on(chanId).some((f) => f[0] === 'tu')).toBe(false);
    await server.waitFor(() => client.on(chanId).some((f) => f[0] === 'tu'));
  });

  it('answers the documented error codes: 10401 unsubscribing an unknown channel, 10301 a duplicate, 10300 an unknown symbol', async () => {
    const { server, client } = await rawClient();
    await subscribe(server, client, 'ticker', 'tBTCUSD');
    client.send({ event: 'unsubscribe', chanId: 424_242 });
    client.send({ event: 'subscribe', channel: 'ticker', symbol: 'tBTCUSD', subId: 3 });
    client.send({ event: 'subscribe', channel: 'ticker', symbol: 'tNOPEUSD' });
    await server.waitFor(() => client.event('error').length === 3);
    expect(client.event('error').map((e) => e.code)).toEqual([10401, 10301, 10300]);
    expect(client.event('error')[1]).toMatchObject({ channel: 'ticker', symbol: 'tBTCUSD', subId: 3 });
  });

  it('appends the sequence number, then the timestamp, to every channel frame once asked by conf', async () => {
    const { server, client } = await rawClient({ heartbeatIntervalMs: 30 });
    client.send({ event: 'conf', flags: CONF_FLAG_SEQ_ALL | CONF_FLAG_TIMESTAMP });
    await server.waitFor(() => client.event('conf').length === 1);
    expect(client.event('conf')[0]).toMatchObject({ status: 'OK' });
    const chanId = await subscribe(server, client, 'trades', 'tBTCUSD');
    await server.waitFor(() => client.on(chanId).filter((f) => f[0] === 'hb').length >= 2);
    const frames = client.on(chanId);
    const seqs = frames.map((f) => f.at(-2) as number);
    expect(seqs).toEqual(seqs.map((_, i) => (seqs[0] as number) + i));
    expect(frames.every((f) => typeof f.at(-1) === 'number' && (f.at(-1) as number) > 1_600_000_000_000)).toBe(true);
    expect(frames[0]?.length).toBe(3); // snapshot, seq, ts
    expect(frames.find((f) => f[0] === 'hb')?.length).toBe(3); // hb, seq, ts
  });

  it('serves funding frames: a 16-value fUSD ticker and fte with RATE and PERIOD', async () => {
    const { server, client } = await rawClient({ tradeUpdateDelayMs: 10 });
    const ticker = await subscribe(server, client, 'ticker', 'fUSD');
    const trades = await subscribe(server, client, 'trades', 'fUSD');
    expect(client.event('subscribed').find((e) => e.chanId === ticker)).toMatchObject({ currency: 'USD' });
    await server.waitFor(() => client.on(ticker).length === 1 && client.on(trades).length === 1);
    expect(client.on(ticker)[0]?.[0]).toHaveLength(16);
    server.pushTrade('fUSD', [900_000_002, Date.now(), 1_000, 0.00021, 30]);
    await server.waitFor(() => client.on(trades).some((f) => f[0] === 'ftu'));
    expect(client.on(trades).find((f) => f[0] === 'fte')?.[1]).toHaveLength(5);
  });

  it('answers /v2/platform/status with the maintenance state', async () => {
    const { server } = await rawClient();
    const status = async () => (await fetch(`${server.restUrl}/v2/platform/status`)).json();
    expect(await status()).toEqual([1]);
    server.sendInfo(20060);
    expect(await status()).toEqual([0]);
    server.sendInfo(20061);
    expect(await status()).toEqual([1]);
  });

  it('serves trades and candles history with the documented field orders, limit, sort and inclusive start/end', async () => {
    server = await startFakeBitfinex({ heartbeatIntervalMs: 0, symbols: ['tBTCUSD'] });
    const base = 1_700_000_040_000; // a whole minute
    server.pushTrade('tBTCUSD', [1, base, 0.5, 100], { update: false });
    server.pushTrade('tBTCUSD', [2, base + 30_000, -0.25, 120], { update: false });
    server.pushTrade('tBTCUSD', [3, base + 59_999, 1, 90], { update: false });
    server.pushTrade('tBTCUSD', [4, base + 60_000, 2, 110], { update: false });
    const fake = server;
    const get = async (path: string) => {
      const response = await fetch(`${fake.restUrl}${path}`);
      return { status: response.status, body: await response.json(), retryAfter: response.headers.get('retry-after') };
    };
    const range = `start=${base}&end=${base + 60_000}`;
    // [ID, MTS, AMOUNT, PRICE], oldest first with sort=1, newest first by default; limit counts from that end.
    expect((await get(`/v2/trades/tBTCUSD/hist?${range}&sort=1&limit=2`)).body).toEqual([
      [1, base, 0.5, 100],
      [2, base + 30_000, -0.25, 120],
    ]);
    expect((await get(`/v2/trades/tBTCUSD/hist?${range}&limit=2`)).body).toEqual([
      [4, base + 60_000, 2, 110],
      [3, base + 59_999, 1, 90],
    ]);
    expect((await get(`/v2/trades/tBTCUSD/hist?start=${base + 1}&end=${base + 59_999}&sort=1`)).body).toHaveLength(2);
    // [MTS, OPEN, CLOSE, HIGH, LOW, VOLUME]
    expect((await get(`/v2/candles/trade:1m:tBTCUSD/hist?${range}&sort=1`)).body).toEqual([
      [base, 100, 90, 120, 90, 1.75],
      [base + 60_000, 110, 110, 110, 110, 2],
    ]);
    expect((await get('/v2/trades/tBTCUSD/hist?limit=10001')).status).toBe(500);
    expect((await get('/v2/trades/tNOPE/hist')).body).toEqual(['error', 10020, 'symbol: invalid']);
    fake.failRest(429, { times: 1, retryAfterSeconds: 7 });
    expect(await get('/v2/trades/tBTCUSD/hist')).toEqual({
      status: 429,
      body: { error: 'ERR_RATE_LIMIT' },
      retryAfter: '7',
    });
    expect((await get('/v2/trades/tBTCUSD/hist')).status).toBe(200);
  });

  it('seeds a past of trades for the history endpoints when asked, with ids rising in time', async () => {
    server = await startFakeBitfinex({ heartbeatIntervalMs: 0, history: { durationMs: 3_600_000 } });
    const trades = server.tradeHistory('tBTCUSD');
    expect(trades.length).toBeGreaterThan(100);
    expect(trades[0]?.[1] as number).toBeLessThan(Date.now() - 3_500_000);
    const idsInTimeOrder = trades.map((t) => t[0] as number);
    expect(idsInTimeOrder).toEqual([...idsInTimeOrder].sort((a, b) => a - b));
  });
});
