// Tests for the schema step: kandle's Avro encoder writes exactly the bytes @confluentinc/schemaregistry's AvroSerializer writes.
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { AvroDeserializer, AvroSerializer, MockClient, SerdeType } from '@confluentinc/schemaregistry';
import { beforeAll, describe, expect, it } from 'vitest';
import { createAvroDecoder, createAvroEncoder, type SchemaRegistryHandle } from '../src/schema/avro';
import type { Ticker, Trade } from '../src/schema/types.generated';

const schemasDir = resolve(__dirname, '..', '..', '..', 'schemas');
/** The schema text exactly as users register it: the .avsc files, not kandle's generated copy. */
const avsc = (name: string): string => readFileSync(join(schemasDir, `${name}.avsc`), 'utf8');
const tickerAvsc = avsc('ticker');
const tradeAvsc = avsc('trade');

/** avsc's largest long without precision loss: 2^53 − 2 (it refuses Number.MAX_SAFE_INTEGER itself). */
const AVSC_MAX_LONG = 9_007_199_254_740_990;
/**
 * avsc reads longs whose zigzag form needs more than 53 bits in float arithmetic, so negative longs below
 * −2^52 come back with the wrong sign (both libraries share avsc). This is the smallest that round-trips.
 */
const AVSC_MIN_EXACT_LONG = -(2 ** 52);

const ticker = (overrides: Partial<Ticker>): Ticker => ({
  symbol: 'tBTCUSD',
  bid: 97_123.1,
  bidSize: 12.345678,
  ask: 97_124.2,
  askSize: 8.7654321,
  dailyChange: -321.5,
  dailyChangeRelative: -0.0033,
  lastPrice: 97_123.7,
  volume: 1_234.56789,
  high: 98_000.01,
  low: 96_500.99,
  eventTime: 1_735_689_600_123,
  ...overrides,
});

const trade = (overrides: Partial<Trade>): Trade => ({
  id: 1_712_345_678,
  symbol: 'tETHUSD',
  time: 1_735_689_600_456,
  amount: -0.25,
  price: 3_345.6,
  ...overrides,
});

const tickers: Array<[string, Ticker]> = [
  ['a typical BTC ticker', ticker({})],
  ['zeros everywhere and event time 0', ticker({ bid: 0, bidSize: 0, ask: 0, askSize: 0, lastPrice: 0, eventTime: 0 })],
  ['negative zero, subnormal and max doubles', ticker({ dailyChange: -0, bidSize: 5e-324, volume: Number.MAX_VALUE })],
  [
    'NaN and infinities (Avro doubles carry them)',
    ticker({ dailyChangeRelative: Number.NaN, high: Infinity, low: -Infinity }),
  ],
  ['the largest event time avsc writes', ticker({ eventTime: AVSC_MAX_LONG })],
  ['a negative event time (before 1970)', ticker({ eventTime: -1 })],
  ['an empty symbol', ticker({ symbol: '' })],
  ['a non-ASCII symbol (UTF-8 length prefix ≠ UTF-16 length)', ticker({ symbol: 'tÜSD€💰:USTF0' })],
  ['a long symbol (multi-byte varint length)', ticker({ symbol: `t${'X'.repeat(300)}` })],
];

const trades: Array<[string, Trade]> = [
  ['a typical sell', trade({})],
  ['a buy', trade({ id: 1, amount: 0.001, price: 97_000 })],
  ['id 0 and time 0', trade({ id: 0, time: 0 })],
  ['varint boundaries: 63, 64, -64, -65', trade({ id: 63, time: 64, amount: -64, price: 65 })],
  ['negative id', trade({ id: -65 })],
  ['the largest and smallest longs avsc writes', trade({ id: AVSC_MAX_LONG, time: AVSC_MIN_EXACT_LONG })],
  ['extreme doubles', trade({ amount: -Number.MAX_VALUE, price: Number.MIN_VALUE })],
];

/** A kandle registry handle over the same MockClient, so kandle's decoder resolves ids the way it does in production. */
function handleOver(client: MockClient): SchemaRegistryHandle {
  const avroModule = import('avsc');
  return {
    url: 'mock://',
    client: client as never,
    register: (subject, schema) => client.register(subject, { schemaType: 'AVRO', schema: JSON.stringify(schema) }),
    setCompatibility: async () => undefined,
    schemaById: async (id, subject = '') => {
      const info = await client.getBySubjectAndId(subject, id);
      return (await avroModule).default.Type.forSchema(JSON.parse(info.schema));
    },
  };
}

describe('Avro wire compatibility with @confluentinc/schemaregistry', () => {
  const client = new MockClient({ baseURLs: ['mock://'] });
  const ids = { tickers: 0, trades: 0 };

  beforeAll(async () => {
    // A decoy first, so the ids under test are not 1 and a swapped or hard-coded id would show.
    await client.register('decoy-value', { schemaType: 'AVRO', schema: '"string"' });
    ids.tickers = await client.register('tickers-value', { schemaType: 'AVRO', schema: tickerAvsc });
    ids.trades = await client.register('trades-value', { schemaType: 'AVRO', schema: tradeAvsc });
    expect(new Set([ids.tickers, ids.trades]).size).toBe(2);
  });

  const cases: Array<{ topic: 'tickers' | 'trades'; schema: () => object; records: Array<[string, Ticker | Trade]> }> =
    [
      { topic: 'tickers', schema: () => JSON.parse(tickerAvsc), records: tickers },
      { topic: 'trades', schema: () => JSON.parse(tradeAvsc), records: trades },
    ];

  for (const { topic, schema, records } of cases) {
    describe(topic, () => {
      it.each(records)('encodes %s byte for byte like AvroSerializer', async (_name, record) => {
        const id = ids[topic];
        const serializer = new AvroSerializer(client, SerdeType.VALUE, { useSchemaId: id });
        const theirs = await serializer.serialize(topic, { ...record });
        const ours = createAvroEncoder<Ticker | Trade>(schema(), id).encode(record);
        expect(ours.toString('hex')).toBe(theirs.toString('hex'));
        expect(ours[0]).toBe(0);
        expect(ours.readUInt32BE(1)).toBe(id);
      });

      it.each(records)('AvroDeserializer reads kandle bytes of %s back to the same record', async (_name, record) => {
        const ours = createAvroEncoder<Ticker | Trade>(schema(), ids[topic]).encode(record);
        const deserializer = new AvroDeserializer(client, SerdeType.VALUE, {});
        expect({ ...(await deserializer.deserialize(topic, ours)) }).toEqual(record);
      });

      it.each(records)('kandle decodes AvroSerializer bytes of %s to the same record', async (_name, record) => {
        const serializer = new AvroSerializer(client, SerdeType.VALUE, { useSchemaId: ids[topic] });
        const theirs = await serializer.serialize(topic, { ...record });
        const decoder = createAvroDecoder<Ticker | Trade>(handleOver(client), schema(), `${topic}-value`);
        expect({ ...(await decoder.decode(theirs)) }).toEqual(record);
      });
    });
  }

  it('both refuse the same out-of-range long (no silent precision loss on either side)', async () => {
    const record = trade({ id: Number.MAX_SAFE_INTEGER });
    const serializer = new AvroSerializer(client, SerdeType.VALUE, { useSchemaId: ids.trades });
    await expect(serializer.serialize('trades', { ...record })).rejects.toThrow(/long/);
    expect(() => createAvroEncoder<Trade>(JSON.parse(tradeAvsc), ids.trades).encode(record)).toThrow(/long/);
  });

  it('below −2^52 both still write the same bytes (only avsc decoding is inexact there)', async () => {
    const record = trade({ id: -AVSC_MAX_LONG });
    const serializer = new AvroSerializer(client, SerdeType.VALUE, { useSchemaId: ids.trades });
    const theirs = await serializer.serialize('trades', { ...record });
    const ours = createAvroEncoder<Trade>(JSON.parse(tradeAvsc), ids.trades).encode(record);
    expect(ours.toString('hex')).toBe(theirs.toString('hex'));
  });

  it('one encoder writes records larger than its scratch buffer, and smaller ones after, like AvroSerializer', async () => {
    const encoder = createAvroEncoder<Ticker>(JSON.parse(tickerAvsc), ids.tickers);
    const serializer = new AvroSerializer(client, SerdeType.VALUE, { useSchemaId: ids.tickers });
    for (const record of [ticker({}), ticker({ symbol: `t${'X'.repeat(5000)}USD` }), ticker({ symbol: 'tETHUSD' })]) {
      const theirs = await serializer.serialize('tickers', { ...record });
      const ours = encoder.encode(record);
      expect(ours.toString('hex')).toBe(theirs.toString('hex'));
    }
    // Each call returns its own copy: a later encode never changes an earlier result.
    const first = encoder.encode(ticker({ symbol: 'tBTCUSD' }));
    const before = first.toString('hex');
    encoder.encode(ticker({ symbol: 'tSOLUSD' }));
    expect(first.toString('hex')).toBe(before);
  });

  it('a different schema id changes only the 4 id bytes', async () => {
    const record = ticker({});
    const a = createAvroEncoder<Ticker>(JSON.parse(tickerAvsc), ids.tickers).encode(record);
    const b = createAvroEncoder<Ticker>(JSON.parse(tickerAvsc), ids.tickers + 1).encode(record);
    expect(a.subarray(5).equals(b.subarray(5))).toBe(true);
    expect(a.subarray(0, 5).equals(b.subarray(0, 5))).toBe(false);
  });
});
