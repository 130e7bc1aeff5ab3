// Admin wire: codec and request layouts against byte strings written from Kafka's message definitions, SCRAM against RFC 7677, and socket faults.
import { createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { Reader, WireFormatError, Writer } from '../src/admin/wire/codec';
import { Connection } from '../src/admin/wire/connection';
import { BrokerConnectionError, describeErrorCode, KafkaProtocolError } from '../src/admin/wire/errors';
import {
  type Api,
  createTopics,
  decodeMemberAssignment,
  describeConfigs,
  describeGroups,
  EARLIEST,
  LATEST,
  listOffsets,
  metadata,
  offsetFetch,
} from '../src/admin/wire/requests';
import { ScramClient } from '../src/admin/wire/sasl';

// Independent spellings of the primitives, as hex: the expected bytes must not come from the code under test.
const hex = (...parts: string[]) => parts.join('').replace(/\s/g, '');
const i8 = (n: number) => (n & 0xff).toString(16).padStart(2, '0');
const i16 = (n: number) => (n & 0xffff).toString(16).padStart(4, '0');
const i32 = (n: number) => (n >>> 0).toString(16).padStart(8, '0');
const i64 = (n: number) => BigInt.asUintN(64, BigInt(n)).toString(16).padStart(16, '0');
const str = (s: string | null) => (s === null ? 'ffff' : i16(Buffer.byteLength(s)) + Buffer.from(s).toString('hex'));
const bytes = (h: string) => i32(h.length / 2) + h;

function encoded<A>(api: Api<A, unknown>, version: number, args: A): string {
  const w = new Writer();
  api.encode(w, version, args);
  return w.toBuffer().toString('hex');
}

const decoded = <R>(api: Api<never, R>, version: number, h: string): R =>
  api.decode(new Reader(Buffer.from(h, 'hex')), version);

describe('codec', () => {
  it('writes big-endian primitives, strings, bytes and arrays, nulls as −1', () => {
    const w = new Writer()
      .int8(-1)
      .int16(258)
      .int32(-2)
      .int64(2 ** 40 + 5)
      .string('hé')
      .string(null)
      .bytes(Buffer.from([1, 2]))
      .bytes(null)
      .array([7, 8], (a, n) => a.int32(n))
      .array(null, () => undefined);
    expect(w.toBuffer().toString('hex')).toBe(
      hex(i8(-1), i16(258), i32(-2), i64(2 ** 40 + 5), '0003', '68c3a9', 'ffff', bytes('0102'), 'ffffffff').concat(
        i32(2),
        i32(7),
        i32(8),
        'ffffffff',
      ),
    );
  });

  it('reads back what it wrote', () => {
    const w = new Writer()
      .int16(-3)
      .int64(-1)
      .string('topic')
      .string(null)
      .array(['a', 'b'], (a, s) => a.string(s));
    const r = new Reader(w.toBuffer());
    expect([r.int16(), r.int64(), r.string(), r.nullableString(), r.array((a) => a.string())]).toEqual([
      -3,
      -1,
      'topic',
      null,
      ['a', 'b'],
    ]);
    expect(r.remaining()).toBe(0);
  });

  it('throws WireFormatError, not a RangeError, on a short or lying answer', () => {
    expect(() => new Reader(Buffer.from('0005616263', 'hex')).string()).toThrow(WireFormatError);
    expect(() => new Reader(Buffer.from('0001', 'hex')).int32()).toThrow(WireFormatError);
    // An array that claims a billion elements in a 4-byte answer is refused before allocating.
    expect(() => new Reader(Buffer.from('3b9aca00', 'hex')).array((r) => r.int8())).toThrow(/exceeds the answer/);
    expect(() => new Reader(Buffer.from('fffe', 'hex')).nullableString()).toThrow(WireFormatError);
    expect(() => new Reader(Buffer.from('ffff', 'hex')).string()).toThrow(/null where a string/);
  });
});

describe('request layouts', () => {
  it('Metadata v4 and v8: topics (null: all), no auto-creation, no authorized operations', () => {
    expect(encoded(metadata, 4, { topics: ['t'] })).toBe(hex(i32(1), str('t'), '00'));
    expect(encoded(metadata, 8, { topics: null })).toBe(hex('ffffffff', '00', '00', '00'));
  });

  it('DescribeGroups v1 and v4', () => {
    expect(encoded(describeGroups, 1, { groupIds: ['g'] })).toBe(hex(i32(1), str('g')));
    expect(encoded(describeGroups, 4, { groupIds: ['g'] })).toBe(hex(i32(1), str('g'), '00'));
  });

  it('OffsetFetch v5: group, topics with partition numbers', () => {
    expect(encoded(offsetFetch, 5, { groupId: 'g', topics: [{ name: 't', partitions: [0, 1] }] })).toBe(
      hex(str('g'), i32(1), str('t'), i32(2), i32(0), i32(1)),
    );
  });

  it('ListOffsets v1 and v5: a client replica id, READ_COMMITTED from v2, leader epoch −1 from v4', () => {
    expect(encoded(listOffsets, 1, { topic: 't', partitions: [0], timestamp: EARLIEST })).toBe(
      hex(i32(-1), i32(1), str('t'), i32(1), i32(0), i64(-2)),
    );
    expect(encoded(listOffsets, 5, { topic: 't', partitions: [0], timestamp: LATEST })).toBe(
      hex(i32(-1), i8(1), i32(1), str('t'), i32(1), i32(0), i32(-1), i64(-1)),
    );
  });

  it('DescribeConfigs v1 and v3: one topic resource, no synonyms, no documentation', () => {
    expect(encoded(describeConfigs, 1, { topic: 't', names: ['a'] })).toBe(
      hex(i32(1), i8(2), str('t'), i32(1), str('a'), '00'),
    );
    expect(encoded(describeConfigs, 3, { topic: 't', names: null })).toBe(
      hex(i32(1), i8(2), str('t'), 'ffffffff', '00', '00'),
    );
  });

  it('CreateTopics v4; v2 refuses the broker defaults (−1) it cannot express', () => {
    const topic = { name: 't', partitions: 3, replicationFactor: 1, configs: [{ name: 'a', value: 'b' }] };
    expect(encoded(createTopics, 4, { topics: [topic], timeoutMs: 10_000 })).toBe(
      hex(i32(1), str('t'), i32(3), i16(1), i32(0), i32(1), str('a'), str('b'), i32(10_000), '00'),
    );
    expect(() =>
      encoded(createTopics, 2, { topics: [{ ...topic, partitions: -1, replicationFactor: -1 }], timeoutMs: 1 }),
    ).toThrow(WireFormatError);
  });
});

describe('answer layouts', () => {
  it('DescribeGroups v4 with a consumer-protocol member assignment', () => {
    const assignment = hex(i16(1), i32(1), str('t'), i32(2), i32(0), i32(1), 'ffffffff');
    const answer = hex(
      i32(0), // throttle
      i32(1),
      i16(0),
      str('g'),
      str('Stable'),
      str('consumer'),
      str('range'),
      i32(1),
      str('m'),
      str(null), // group instance id (v4)
      str('c'),
      str('/127.0.0.1'),
      bytes(''),
      bytes(assignment),
      i32(0), // authorized operations (v3+)
    );
    const [group] = decoded(describeGroups, 4, answer);
    expect(group).toMatchObject({ errorCode: 0, groupId: 'g', state: 'Stable', protocolType: 'consumer' });
    expect(group?.members).toMatchObject([{ memberId: 'm', clientId: 'c', clientHost: '/127.0.0.1' }]);
    expect(decodeMemberAssignment(group?.members[0]?.assignment ?? Buffer.alloc(0))).toEqual([
      { topic: 't', partition: 0 },
      { topic: 't', partition: 1 },
    ]);
    // The same answer cut short is a typed error.
    expect(() => decoded(describeGroups, 4, answer.slice(0, -12))).toThrow(WireFormatError);
  });

  it('DescribeGroups v1: a per-group error code is kept, not a crash', () => {
    const answer = hex(i32(0), i32(1), i16(14), str('g'), str(''), str(''), str(''), i32(0));
    expect(decoded(describeGroups, 1, answer)).toEqual([
      { errorCode: 14, groupId: 'g', state: '', protocolType: '', protocol: '', members: [] },
    ]);
  });

  it('OffsetFetch v5 and v1', () => {
    const partition = (epoch: boolean) => hex(i32(0), i64(42), epoch ? i32(3) : '', str('md'), i16(0));
    expect(decoded(offsetFetch, 5, hex(i32(0), i32(1), str('t'), i32(1), partition(true), i16(16)))).toEqual({
      errorCode: 16,
      topics: [{ name: 't', partitions: [{ partition: 0, offset: 42, metadata: 'md', errorCode: 0 }] }],
    });
    expect(decoded(offsetFetch, 1, hex(i32(1), str('t'), i32(1), partition(false)))).toMatchObject({ errorCode: 0 });
  });

  it('ListOffsets v5', () => {
    const answer = hex(i32(0), i32(1), str('t'), i32(1), i32(0), i16(6), i64(-1), i64(7), i32(0));
    expect(decoded(listOffsets, 5, answer)).toEqual([{ topic: 't', partition: 0, errorCode: 6, offset: 7 }]);
  });

  it('Metadata v8', () => {
    const answer = hex(
      i32(0),
      i32(1),
      i32(1),
      str('127.0.0.1'),
      i32(9092),
      str(null),
      str('cluster'),
      i32(1),
      i32(1),
      i16(0),
      str('t'),
      '00',
      i32(1),
      i16(0),
      i32(0),
      i32(1),
      i32(5), // leader epoch (v7+)
      i32(1),
      i32(1),
      i32(1),
      i32(1),
      i32(0), // offline replicas (v5+)
      i32(0), // topic authorized operations (v8)
      i32(0), // cluster authorized operations (v8)
    );
    expect(decoded(metadata, 8, answer)).toEqual({
      brokers: [{ nodeId: 1, host: '127.0.0.1', port: 9092 }],
      controllerId: 1,
      topics: [
        { errorCode: 0, name: 't', partitions: [{ errorCode: 0, partition: 0, leader: 1, replicas: [1], isr: [1] }] },
      ],
    });
  });

  it('DescribeConfigs v3', () => {
    const answer = hex(
      i32(0),
      i32(1),
      i16(0),
      str(null),
      i8(2),
      str('t'),
      i32(1),
      str('min.insync.replicas'),
      str('2'),
      '00',
      i8(5),
      '00',
      i32(1),
      str('min.insync.replicas'),
      str('2'),
      i8(5),
      i8(3),
      str(null),
    );
    expect(decoded(describeConfigs, 3, answer)).toEqual([
      { errorCode: 0, errorMessage: null, name: 't', configs: [{ name: 'min.insync.replicas', value: '2' }] },
    ]);
  });

  it('CreateTopics v4: per-topic error and message', () => {
    const answer = hex(
      i32(0),
      i32(1),
      str('t'),
      i16(38),
      str('Replication factor: 3 larger than available brokers: 1.'),
    );
    expect(decoded(createTopics, 4, answer)).toEqual([
      { name: 't', errorCode: 38, errorMessage: 'Replication factor: 3 larger than available brokers: 1.' },
    ]);
  });
});

describe('Kafka error codes', () => {
  it('carry Kafka names and retriability', () => {
    expect(describeErrorCode(16)).toEqual({ type: 'NOT_COORDINATOR', retriable: true });
    expect(describeErrorCode(3)).toEqual({ type: 'UNKNOWN_TOPIC_OR_PARTITION', retriable: true });
    expect(describeErrorCode(41)).toEqual({ type: 'NOT_CONTROLLER', retriable: true });
    expect(describeErrorCode(58)).toEqual({ type: 'SASL_AUTHENTICATION_FAILED', retriable: false });
    expect(describeErrorCode(30)).toEqual({ type: 'GROUP_AUTHORIZATION_FAILED', retriable: false });
    expect(describeErrorCode(999)).toEqual({ type: 'KAFKA_ERROR_999', retriable: false });
    expect(new KafkaProtocolError(14, 'DescribeGroups', 'loading')).toMatchObject({
      retriable: true,
      message: 'DescribeGroups: COORDINATOR_LOAD_IN_PROGRESS (14): loading',
    });
  });
});

describe('SCRAM', () => {
  it('matches the SCRAM-SHA-256 exchange of RFC 7677 §3', () => {
    const scram = new ScramClient('sha256', 'user', 'pencil', 'rOprNGfwEbeRWgbNEkqO');
    expect(scram.clientFirst()).toBe('n,,n=user,r=rOprNGfwEbeRWgbNEkqO');
    const serverFirst = 'r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096';
    expect(scram.clientFinal(serverFirst)).toBe(
      'c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=',
    );
    expect(() => scram.verifyServerFinal('v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=')).not.toThrow();
    expect(() => scram.verifyServerFinal('v=AAAATRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=')).toThrow(
      /signature does not match/,
    );
  });

  it('refuses a server nonce that does not extend its own', () => {
    const scram = new ScramClient('sha512', 'user', 'pencil', 'abc');
    scram.clientFirst();
    expect(() => scram.clientFinal('r=xyz,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096')).toThrow(KafkaProtocolError);
  });
});

/** Fault injectors on loopback (not brokers): a peer that hangs up, and one that answers garbage. */
describe('connection faults', () => {
  let server: Server | undefined;
  afterEach(async () => {
    await new Promise((resolve) => server?.close(resolve) ?? resolve(undefined));
  });

  async function peer(onData: (socket: Socket, data: Buffer) => void): Promise<number> {
    server = createServer((socket) => socket.on('data', (data) => onData(socket, data)));
    await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    if (!address || typeof address === 'string') throw new Error('no port');
    return address.port;
  }

  const options = { clientId: 'test', connectTimeoutMs: 2_000, requestTimeoutMs: 2_000 };

  it('a peer that hangs up mid-request rejects it with a retriable BrokerConnectionError', async () => {
    const port = await peer((socket) => socket.destroy());
    const error = await new Connection('127.0.0.1', port, options).open().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BrokerConnectionError);
    expect(error).toMatchObject({ retriable: true, message: expect.stringMatching(/closed|failed/) });
  });

  it('a truncated answer rejects its request with WireFormatError', async () => {
    // Correlation id 1, then an ApiVersions answer that stops inside its array.
    const port = await peer((socket) => socket.write(Buffer.from(hex(i32(10), i32(1), i16(0), i32(5)), 'hex')));
    const connection = new Connection('127.0.0.1', port, options);
    await expect(connection.open()).rejects.toBeInstanceOf(WireFormatError);
    connection.close();
  });

  it('a nonsense frame size fails the connection instead of buffering forever', async () => {
    const port = await peer((socket) => socket.write(Buffer.from(i32(-5), 'hex')));
    const error = await new Connection('127.0.0.1', port, options).open().catch((e: unknown) => e);
    expect(error).toMatchObject({ retriable: true, message: expect.stringMatching(/announces -5 bytes/) });
  });

  it('nobody listening is a retriable BrokerConnectionError', async () => {
    const port = await peer(() => undefined);
    await new Promise((resolve) => server?.close(resolve));
    server = undefined;
    await expect(new Connection('127.0.0.1', port, options).open()).rejects.toMatchObject({ retriable: true });
  });
});
