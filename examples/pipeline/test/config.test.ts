// Tests of the config step: environment variables → typed pipeline options, and the errors bad values give.
import { ConfigError, TOP_SYMBOLS } from '@kandle/core';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config';

/** A file that surely exists. */
const EXISTING_FILE = fileURLToPath(import.meta.url);
const STACK = {
  KAFKA_BROKERS: '127.0.0.1:19092,127.0.0.1:19093',
  SCHEMA_REGISTRY_URL: 'http://127.0.0.1:18081/apis/ccompat/v7',
};

/** The problems a ConfigError lists for `env`, or fails the test when loadConfig accepts it. */
function problemsOf(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as ConfigError).details.problems as string[];
  }
  throw new Error(`loadConfig accepted ${JSON.stringify(env)}`);
}

describe('loadConfig', () => {
  it('applies the documented defaults to an empty environment', () => {
    expect(loadConfig({})).toEqual({
      kafkaBrokers: undefined,
      schemaRegistryUrl: undefined,
      stackMode: 'auto',
      source: 'synthetic',
      symbols: [...TOP_SYMBOLS],
      speed: 1,
      replayFile: undefined,
      bitfinexUrl: undefined,
      bitfinexRestUrl: undefined,
      intervals: ['1m', '5m', '15m', '1h'],
      topics: { tickers: 'tickers', trades: 'trades' },
      groupId: 'candles',
      deadLetterTopic: 'kandle.dlq',
      assignment: 'range',
      port: 8080,
      host: '127.0.0.1',
      historyMs: 6 * 3_600_000,
      influx: undefined,
    });
  });

  it("takes the history REST URL from the WebSocket URL's host unless KANDLE_BITFINEX_REST_URL is set", () => {
    const bitfinex = { KANDLE_SOURCE: 'bitfinex' };
    expect(loadConfig(bitfinex).bitfinexRestUrl).toBeUndefined();
    expect(loadConfig({ ...bitfinex, KANDLE_BITFINEX_URL: 'wss://api-pub.bitfinex.com/ws/2' }).bitfinexRestUrl).toBe(
      'https://api-pub.bitfinex.com',
    );
    expect(loadConfig({ ...bitfinex, KANDLE_BITFINEX_URL: 'ws://127.0.0.1:4567/ws/2' }).bitfinexRestUrl).toBe(
      'http://127.0.0.1:4567',
    );
    expect(
      loadConfig({
        ...bitfinex,
        KANDLE_BITFINEX_URL: 'ws://127.0.0.1:1/ws/2',
        KANDLE_BITFINEX_REST_URL: 'http://127.0.0.1:2',
      }).bitfinexRestUrl,
    ).toBe('http://127.0.0.1:2');
  });

  it.each([
    ['0', 0],
    ['90m', 90 * 60_000],
    ['6h', 6 * 3_600_000],
    ['2d', 2 * 86_400_000],
    ['45s', 45_000],
  ])('reads KANDLE_HISTORY=%s', (text, ms) => {
    expect(loadConfig({ KANDLE_HISTORY: text }).historyMs).toBe(ms);
  });

  it('reads every variable, trimming spaces around list items', () => {
    const config = loadConfig({
      ...STACK,
      KANDLE_SOURCE: 'replay',
      KANDLE_SYMBOLS: ' tBTCUSD , tETHUSD ',
      KANDLE_SPEED: 'max',
      KANDLE_INTERVALS: '5s,1m',
      KANDLE_TICKERS_TOPIC: 'prices',
      KANDLE_TRADES_TOPIC: 'fills',
      KANDLE_GROUP: 'Coins',
      KANDLE_ASSIGNMENT: 'cooperative-sticky',
      KANDLE_PORT: '0',
      KANDLE_HOST: '0.0.0.0',
      INFLUX_HOST: 'http://127.0.0.1:8181',
      INFLUX_TOKEN: 'secret-token',
    });
    expect(config).toMatchObject({
      kafkaBrokers: STACK.KAFKA_BROKERS,
      schemaRegistryUrl: STACK.SCHEMA_REGISTRY_URL,
      source: 'replay',
      symbols: ['tBTCUSD', 'tETHUSD'],
      speed: 'max',
      intervals: ['5s', '1m'],
      topics: { tickers: 'prices', trades: 'fills' },
      groupId: 'Coins',
      assignment: 'cooperative-sticky',
      port: 0,
      host: '0.0.0.0',
      influx: {
        host: 'http://127.0.0.1:8181',
        token: 'secret-token',
        database: 'kandle',
        tickers: true,
        trades: true,
      },
    });
  });

  it('treats empty values as unset', () => {
    expect(loadConfig({ KANDLE_PORT: '', KANDLE_SOURCE: ' ', INFLUX_HOST: '' })).toMatchObject({
      port: 8080,
      source: 'synthetic',
      influx: undefined,
    });
  });

  it.each(['auto', 'jvm', 'compose'] as const)('reads KANDLE_STACK=%s', (mode) => {
    expect(loadConfig({ KANDLE_STACK: mode }).stackMode).toBe(mode);
  });

  it('turns the raw tickers and trades copies off one by one, and accepts the flags without INFLUX_HOST', () => {
    const influx = { INFLUX_HOST: 'http://127.0.0.1:8181', INFLUX_TOKEN: 't' };
    expect(loadConfig({ ...influx, KANDLE_INFLUX_TICKERS: 'false' }).influx).toMatchObject({
      tickers: false,
      trades: true,
    });
    expect(loadConfig({ ...influx, KANDLE_INFLUX_TRADES: 'false' }).influx).toMatchObject({
      tickers: true,
      trades: false,
    });
    expect(loadConfig({ KANDLE_INFLUX_TICKERS: 'true', KANDLE_INFLUX_TRADES: 'false' }).influx).toBeUndefined();
  });

  it('accepts a fractional speed', () => {
    expect(loadConfig({ KANDLE_SPEED: '0.5' }).speed).toBe(0.5);
  });

  it.each([
    [{ KANDLE_SOURCE: 'kraken' }, /KANDLE_SOURCE=kraken must be one of synthetic, replay, bitfinex/],
    [{ KANDLE_PORT: 'http' }, /KANDLE_PORT=http must be an integer 0-65535/],
    [{ KANDLE_PORT: '70000' }, /KANDLE_PORT=70000/],
    [{ KANDLE_PORT: '-1' }, /KANDLE_PORT=-1/],
    [{ KANDLE_SPEED: '0' }, /KANDLE_SPEED=0 must be a number > 0/],
    [{ KANDLE_SPEED: 'fast' }, /KANDLE_SPEED=fast/],
    [{ KANDLE_SPEED: 'max' }, /KANDLE_SPEED=max only applies to KANDLE_SOURCE=replay/],
    [{ KANDLE_SYMBOLS: 'BTCUSD' }, /"BTCUSD" is not a Bitfinex symbol/],
    [{ KANDLE_SYMBOLS: 'tbtcusd' }, /did you mean "tBTCUSD"/],
    [{ KANDLE_SYMBOLS: 'tBTC::USD' }, /"tBTC::USD" is not a Bitfinex symbol/],
    [{ KANDLE_SYMBOLS: 'fUSD' }, /"fUSD" is a funding currency, not a trading pair/],
    [{ KANDLE_SYMBOLS: ' , ' }, /KANDLE_SYMBOLS must name at least one symbol/],
    [{ KANDLE_SYMBOLS: 'tBTCUSD,tBTCUSD' }, /KANDLE_SYMBOLS contains duplicates/],
    [{ KANDLE_INTERVALS: '1w' }, /KANDLE_INTERVALS: invalid candle interval "1w"/],
    [{ KANDLE_INTERVALS: '1m,1m' }, /KANDLE_INTERVALS contains duplicates/],
    [{ KANDLE_ASSIGNMENT: 'sticky' }, /KANDLE_ASSIGNMENT=sticky must be one of range, roundrobin, cooperative-sticky/],
    [{ KANDLE_TICKERS_TOPIC: 'my topic' }, /KANDLE_TICKERS_TOPIC=my topic is not a valid topic name/],
    [{ KANDLE_TRADES_TOPIC: 'tickers' }, /KANDLE_TICKERS_TOPIC and KANDLE_TRADES_TOPIC must differ/],
    [{ KANDLE_STACK: 'docker' }, /KANDLE_STACK=docker must be one of auto, jvm, compose/],
    [{ ...STACK, KANDLE_STACK: 'compose' }, /KANDLE_STACK=compose chooses a local stack, but KAFKA_BROKERS/],
    [{ ...STACK, KANDLE_STACK: 'jvm' }, /KANDLE_STACK=jvm chooses a local stack/],
    [{ KAFKA_BROKERS: '127.0.0.1:19092' }, /KAFKA_BROKERS and SCHEMA_REGISTRY_URL go together/],
    [{ SCHEMA_REGISTRY_URL: STACK.SCHEMA_REGISTRY_URL }, /go together/],
    [{ ...STACK, KAFKA_BROKERS: 'localhost' }, /KAFKA_BROKERS: kafka.brokers entry "localhost" is not host:port/],
    [{ ...STACK, SCHEMA_REGISTRY_URL: 'registry' }, /SCHEMA_REGISTRY_URL: registry.url "registry" is not a URL/],
    [{ KANDLE_REPLAY_FILE: EXISTING_FILE }, /KANDLE_REPLAY_FILE needs KANDLE_SOURCE=replay/],
    [{ KANDLE_SOURCE: 'replay', KANDLE_REPLAY_FILE: '/nonexistent/x.ndjson' }, /no file at \/nonexistent\/x.ndjson/],
    [{ KANDLE_BITFINEX_URL: 'ws://127.0.0.1:1' }, /KANDLE_BITFINEX_URL needs KANDLE_SOURCE=bitfinex/],
    [{ KANDLE_SOURCE: 'bitfinex', KANDLE_BITFINEX_URL: 'http://x' }, /must be a ws:\/\/ or wss:\/\/ URL/],
    [{ KANDLE_BITFINEX_REST_URL: 'http://127.0.0.1:1' }, /KANDLE_BITFINEX_REST_URL needs KANDLE_SOURCE=bitfinex/],
    [{ KANDLE_SOURCE: 'bitfinex', KANDLE_BITFINEX_REST_URL: 'ws://x' }, /must be an http:\/\/ or https:\/\/ URL/],
    [{ KANDLE_DLQ_TOPIC: 'trades' }, /KANDLE_DLQ_TOPIC must differ/],
    [{ INFLUX_HOST: '127.0.0.1:8181', INFLUX_TOKEN: 't' }, /INFLUX_HOST=127.0.0.1:8181 must be an http\(s\):\/\/ URL/],
    [{ INFLUX_HOST: 'http://127.0.0.1:8181' }, /INFLUX_TOKEN is required with INFLUX_HOST/],
    [{ KANDLE_INFLUX_TICKERS: 'yes' }, /KANDLE_INFLUX_TICKERS=yes must be one of true, false/],
    [{ KANDLE_INFLUX_TRADES: '0' }, /KANDLE_INFLUX_TRADES=0 must be one of true, false/],
    [{ KANDLE_HISTORY: '6' }, /KANDLE_HISTORY=6 must be 0 or a duration like 90m/],
    [{ KANDLE_HISTORY: '1.5h' }, /KANDLE_HISTORY=1.5h/],
    [{ KANDLE_HISTORY: '-1h' }, /KANDLE_HISTORY=-1h/],
  ])('rejects %o', (env, expected) => {
    const problems = problemsOf(env);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(expected);
  });

  it('reports every bad variable at once, in the message too', () => {
    let error: unknown;
    try {
      loadConfig({ KANDLE_PORT: 'x', KANDLE_SOURCE: 'y', KANDLE_INTERVALS: 'z' });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const { message, code, details } = error as ConfigError;
    expect(code).toBe('CONFIG_INVALID');
    expect(details.problems).toHaveLength(3);
    for (const name of ['KANDLE_PORT=x', 'KANDLE_SOURCE=y', 'KANDLE_INTERVALS']) expect(message).toContain(name);
  });

  it('never repeats the Influx token in an error', () => {
    const problems = problemsOf({ INFLUX_HOST: 'ftp://influx', INFLUX_TOKEN: 'hunter2-token', KANDLE_PORT: 'x' });
    expect(problems.join('\n')).not.toContain('hunter2-token');
  });
});
