// Tests of the stack step: configured brokers win, and a broken stack record is a clear error, not a silent restart.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '@kandle/core';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config';
import { resolveStack } from '../src/stack';

const silent = { log: () => {} };

function stackFileWith(content: string): string {
  const file = join(mkdtempSync(join(tmpdir(), 'kandle-stack-')), 'stack.json');
  writeFileSync(file, content);
  return file;
}

describe('resolveStack', () => {
  it('uses KAFKA_BROKERS and SCHEMA_REGISTRY_URL when set, and has nothing to stop', async () => {
    const config = loadConfig({ KAFKA_BROKERS: '10.0.0.1:9092', SCHEMA_REGISTRY_URL: 'http://10.0.0.1:8081' });
    const stack = await resolveStack(config, { ...silent, stackFile: stackFileWith('not json') });
    expect(stack).toMatchObject({ brokers: '10.0.0.1:9092', registryUrl: 'http://10.0.0.1:8081', origin: 'env' });
    await stack.stop();
  });

  it('refuses a stack record that is not JSON', async () => {
    await expect(resolveStack(loadConfig({}), { ...silent, stackFile: stackFileWith('{oops') })).rejects.toThrow(
      ConfigError,
    );
  });

  it('refuses a stack record without brokers or registry', async () => {
    await expect(resolveStack(loadConfig({}), { ...silent, stackFile: stackFileWith('{"kafka":{}}') })).rejects.toThrow(
      /does not describe a stack/,
    );
  });
});
