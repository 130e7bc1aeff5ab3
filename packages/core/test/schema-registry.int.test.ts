// Testing / schema registry: proves @confluentinc/schemaregistry works against the real local registry, and that no JVM is orphaned.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import {
  AvroDeserializer,
  AvroSerializer,
  Compatibility,
  type SchemaRegistryClient,
  SerdeType,
} from '@confluentinc/schemaregistry';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Ticker } from '../src/schema/types.generated';
import { isAlive, type SchemaRegistry, sleep, startSchemaRegistry } from '@kandle/local-stack';
import { byTopicName, confluentClient } from './support/confluent-serde';

const repoRoot = resolve(__dirname, '..', '..', '..');
const tickerAvsc = readFileSync(join(repoRoot, 'schemas', 'ticker.avsc'), 'utf8');
const tickerSchema = JSON.parse(tickerAvsc) as { fields: Array<Record<string, unknown>> };

/** ticker.avsc with one more field appended. */
function tickerWith(field: Record<string, unknown>): string {
  return JSON.stringify({ ...tickerSchema, fields: [...tickerSchema.fields, field] });
}

const sampleTicker: Ticker = {
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
};

describe('local Confluent-compatible schema registry (Apicurio)', () => {
  let registry: SchemaRegistry;
  let client: SchemaRegistryClient;

  beforeAll(async () => {
    registry = await startSchemaRegistry({ port: 0 });
    client = confluentClient(registry.url);
  });

  afterAll(async () => {
    await registry?.stop();
  });

  it('serves the Confluent API on loopback and starts empty', async () => {
    expect(registry.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/apis\/ccompat\/v7$/);
    expect(await client.getAllSubjects()).toEqual([]);
  });

  it('registers ticker.avsc and returns it by id', async () => {
    const id = await client.register('prices-value', { schemaType: 'AVRO', schema: tickerAvsc });
    expect(id).toBeGreaterThan(0);
    const fetched = await client.getBySubjectAndId('prices-value', id);
    expect(JSON.parse(fetched.schema)).toEqual(tickerSchema);
    // Registering the same schema again is idempotent: same id, no new version.
    expect(await client.register('prices-value', { schemaType: 'AVRO', schema: tickerAvsc })).toBe(id);
    expect(await client.getAllVersions('prices-value')).toEqual([1]);
  });

  it('enforces BACKWARD compatibility: refuses a new field without default, accepts one with a default', async () => {
    expect(await client.updateCompatibility('prices-value', Compatibility.BACKWARD)).toBe(Compatibility.BACKWARD);
    expect(await client.getCompatibility('prices-value')).toBe(Compatibility.BACKWARD);

    const breaking = tickerWith({ name: 'exchange', type: 'string' });
    expect(await client.testCompatibility('prices-value', -1, { schemaType: 'AVRO', schema: breaking })).toBe(false);
    await expect(client.register('prices-value', { schemaType: 'AVRO', schema: breaking })).rejects.toMatchObject({
      status: 409,
    });

    const compatible = tickerWith({ name: 'exchange', type: 'string', default: 'bitfinex' });
    expect(await client.testCompatibility('prices-value', -1, { schemaType: 'AVRO', schema: compatible })).toBe(true);
    const newId = await client.register('prices-value', { schemaType: 'AVRO', schema: compatible });
    expect(await client.getAllVersions('prices-value')).toEqual([1, 2]);
    expect((await client.getLatestSchemaMetadata('prices-value')).id).toBe(newId);
  });

  it('round-trips through AvroSerializer/AvroDeserializer with autoRegisterSchemas', async () => {
    const serializer = new AvroSerializer(client, SerdeType.VALUE, { autoRegisterSchemas: true, ...byTopicName });
    // A fresh client so the deserializer really fetches the writer schema from the registry, not a shared cache.
    const reader = confluentClient(registry.url);
    const deserializer = new AvroDeserializer(reader, SerdeType.VALUE, byTopicName);
    const value = { symbol: 'tETHUSD', trades: 42, open: true };

    const bytes = await serializer.serialize('auto-registered', value);
    expect(bytes[0]).toBe(0); // Confluent wire format: magic byte, then the 4-byte schema id
    const schemaId = bytes.readInt32BE(1);
    expect(await client.getAllSubjects()).toContain('auto-registered-value');
    expect((await client.getLatestSchemaMetadata('auto-registered-value')).id).toBe(schemaId);
    expect({ ...(await deserializer.deserialize('auto-registered', bytes)) }).toEqual(value);
  });

  it('round-trips a Ticker exactly with the registered ticker.avsc (useLatestVersion)', async () => {
    // autoRegisterSchemas infers the schema from the value (numbers become float): use the real schema instead.
    await client.register('tickers-value', { schemaType: 'AVRO', schema: tickerAvsc });
    const serializer = new AvroSerializer(client, SerdeType.VALUE, { useLatestVersion: true, ...byTopicName });
    const reader = confluentClient(registry.url);
    const deserializer = new AvroDeserializer(reader, SerdeType.VALUE, byTopicName);

    const bytes = await serializer.serialize('tickers', sampleTicker);
    expect({ ...(await deserializer.deserialize('tickers', bytes)) }).toEqual(sampleTicker);
  });

  it('stop() ends the JVM and closes the port', async () => {
    const second = await startSchemaRegistry({ port: 0 });
    expect(isAlive(second.pid)).toBe(true);
    await second.stop();
    expect(isAlive(second.pid)).toBe(false);
    await expect(fetch(`${second.url}/subjects`)).rejects.toThrow();
    await second.stop(); // idempotent
  });

  it('leaves no orphan JVM when the Node process that started it is SIGKILLed', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kandle-registry-orphan-'));
    // .mts: ES module for tsx whatever package.json is (or is not) above the temp dir, so top-level await works.
    const script = join(dir, 'start.mts');
    const modulePath = resolve(__dirname, '..', '..', 'local-stack', 'src', 'schema-registry.ts');
    writeFileSync(
      script,
      `import { startSchemaRegistry } from ${JSON.stringify(modulePath)};
const registry = await startSchemaRegistry({ port: 0, logDir: ${JSON.stringify(dir)} });
process.stdout.write('PID ' + registry.pid + '\\n');
setInterval(() => undefined, 1000);
`,
    );
    const tsx = join(repoRoot, 'node_modules', '.bin', 'tsx');
    const parent = spawn(tsx, [script], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'inherit'] });
    let jvmPid = 0;
    try {
      jvmPid = await new Promise<number>((resolvePid, reject) => {
        let out = '';
        parent.stdout.on('data', (chunk: Buffer) => {
          out += chunk.toString();
          const match = /PID (\d+)/.exec(out);
          if (match) resolvePid(Number(match[1]));
        });
        parent.once('exit', (code) => reject(new Error(`starter exited early with ${code}: ${out}`)));
      });
      expect(isAlive(jvmPid)).toBe(true);
      // Kill only the Node processes (tsx and the node it forks), hard, as a crashed test runner would die.
      killNodeProcesses(parent.pid as number);
      const deadline = Date.now() + 10_000;
      while (isAlive(jvmPid) && Date.now() < deadline) await sleep(200);
      expect(isAlive(jvmPid)).toBe(false);
    } finally {
      if (parent.pid !== undefined) killNodeProcesses(parent.pid);
      if (jvmPid > 0 && isAlive(jvmPid)) process.kill(jvmPid, 'SIGKILL'); // never leave our own orphan behind
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/** SIGKILLs every `node` process in the tree under (and including) `pid`; the JVM and its watchdog are left alone. */
function killNodeProcesses(pid: number): void {
  const readProc = (file: string): string => {
    try {
      return readFileSync(`/proc/${pid}/${file}`, 'utf8').trim();
    } catch {
      return '';
    }
  };
  const children = readProc(`task/${pid}/children`).split(/\s+/).filter(Boolean).map(Number);
  if (readProc('comm') !== 'node') return;
  for (const child of children) killNodeProcesses(child);
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // gone already
  }
}
