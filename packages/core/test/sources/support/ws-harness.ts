// Test support: a fake Bitfinex server plus a started WebSocket source recording everything it emits, torn down after each test.
import { afterEach } from 'vitest';
import type { Ticker, Trade } from '../../../src/schema/types.generated';
import {
  type BitfinexWsSource,
  type BitfinexWsSourceOptions,
  createBitfinexWsSource,
} from '../../../src/sources/bitfinex-ws';
import type { SourceError, SourceStatus } from '../../../src/sources/source';
import { type FakeBitfinex, type FakeBitfinexOptions, startFakeBitfinex } from '@kandle/local-stack';

/** A server, its source, and what the source delivered. */
export interface Harness {
  server: FakeBitfinex;
  source: BitfinexWsSource;
  tickers: Ticker[];
  trades: Trade[];
  errors: SourceError[];
  statuses: SourceStatus[];
}

let current: Harness | undefined;

/** Registers the per-test teardown; call once at the top of a test file. */
export function stopHarnessAfterEach(): void {
  afterEach(async () => {
    await current?.source.stop();
    await current?.server.close();
    current = undefined;
  });
}

/**
 * Starts the fake (with `faults` applied before the source connects) and a started source with fast reconnects;
 * waits for nothing else.
 */
export async function openHarness(
  options: Partial<BitfinexWsSourceOptions> = {},
  serverOptions: FakeBitfinexOptions = {},
  faults: (server: FakeBitfinex) => void = () => {},
): Promise<Harness> {
  const server = await startFakeBitfinex({ heartbeatIntervalMs: 0, ...serverOptions });
  faults(server);
  const source = createBitfinexWsSource({
    symbols: ['tBTCUSD'],
    url: server.url,
    reconnect: { initialDelayMs: 10, maxDelayMs: 50 },
    ...options,
  });
  const harness: Harness = { server, source, tickers: [], trades: [], errors: [], statuses: [] };
  current = harness;
  source.onTicker((t) => harness.tickers.push(t));
  source.onTrade((t) => harness.trades.push(t));
  source.onError((e) => harness.errors.push(e));
  source.onStatus((s) => harness.statuses.push(s));
  await source.start();
  return harness;
}
