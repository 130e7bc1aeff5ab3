// One Kafka client library: @kandle/core depends on the native binding only; its admin runs with kafkajs unresolvable.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const coreDir = fileURLToPath(new URL('..', import.meta.url));
const KAFKA_CLIENTS = ['kafkajs', '@platformatic/kafka', 'node-rdkafka', '@confluentinc/kafka-javascript'];

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? sources(path) : /\.(c|m)?ts$/.test(name) ? [path] : [];
  });
}

describe('@kandle/core and Kafka client libraries', () => {
  it('declares exactly one Kafka client library among its dependencies', () => {
    const manifest = JSON.parse(readFileSync(join(coreDir, 'package.json'), 'utf8'));
    const declared = Object.keys({ ...manifest.dependencies, ...manifest.peerDependencies });
    expect(declared.filter((name) => KAFKA_CLIENTS.includes(name))).toEqual(['@confluentinc/kafka-javascript']);
  });

  it('imports kafkajs nowhere in its sources', () => {
    const files = sources(join(coreDir, 'src'));
    expect(files.length).toBeGreaterThan(20);
    const importing = files.filter((file) =>
      /(from\s+|import\s*\(\s*|require\s*\(\s*)['"]kafkajs(\/[^'"]*)?['"]/.test(readFileSync(file, 'utf8')),
    );
    expect(importing).toEqual([]);
  });

  it('runs an admin call in a process where kafkajs cannot be resolved', () => {
    // A loader hook makes any import of kafkajs fail, as in an install without it; the call goes to a port nobody
    // listens on, so the answer is the typed retriable error, proving the whole path ran.
    const hook = `data:text/javascript,${encodeURIComponent(
      'export async function resolve(s, c, next) { if (s === "kafkajs" || s.startsWith("kafkajs/")) throw new Error("kafkajs is absent"); return next(s, c); }',
    )}`;
    const script = `
      import { register } from 'node:module';
      register(${JSON.stringify(hook)});
      const { PureAdmin } = await import(${JSON.stringify(join(coreDir, 'src/admin/groups.ts'))});
      const admin = new PureAdmin({ brokers: '127.0.0.1:1' }, '127.0.0.1:1', 2000);
      const error = await admin.describeGroup('g', { budgetMs: 1500 }).catch((e) => e);
      await admin.close();
      let kafkajs = 'resolvable';
      await import('kafkajs').catch(() => { kafkajs = 'absent'; });
      console.log(JSON.stringify({ name: error?.name, code: error?.code, retriable: error?.retriable, kafkajs }));
    `;
    const out = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: coreDir,
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(JSON.parse(out.trim().split('\n').pop() ?? '{}')).toEqual({
      name: 'GroupRequestError',
      code: 'GROUP_REQUEST_FAILED',
      retriable: true,
      kafkajs: 'absent',
    });
  });
});
