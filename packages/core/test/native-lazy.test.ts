// Native client loading: importing @kandle/core loads no addon; creating a Kafka client loads librdkafka's.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const repoRoot = fileURLToPath(new URL('../../..', import.meta.url));

// Run in a fresh Node process: vitest's worker may already hold the addon from another test file.
const probe = `
const dlopen = process.dlopen;
const addons = [];
process.dlopen = function (module, filename, ...rest) {
  addons.push(filename);
  return dlopen.call(this, module, filename, ...rest);
};
const kafkaAddons = () => addons.filter((file) => file.includes('kafka-javascript')).length;
const core = await import('./packages/core/src/index.ts');
const afterImport = kafkaAddons();
const error = await core.createKafkaAdmin({ brokers: '127.0.0.1:1', connectTimeoutMs: 500 }).catch((e) => e);
console.log(JSON.stringify({ afterImport, afterAdmin: kafkaAddons(), error: error?.name }));
`;

function runProbe(): Promise<{ afterImport: number; afterAdmin: number; error: string }> {
  return new Promise((resolve, reject) =>
    execFile(
      process.execPath,
      ['--import', 'tsx', '--input-type=module', '-e', probe],
      { cwd: repoRoot, timeout: 60_000 },
      (error, stdout, stderr) => {
        if (error) return reject(new Error(`probe failed: ${error.message}\n${stderr}`));
        const line = stdout.trim().split('\n').at(-1) ?? '';
        resolve(JSON.parse(line));
      },
    ),
  );
}

describe('native client loading', () => {
  it('importing @kandle/core loads no native addon; the first Kafka client loads librdkafka', async () => {
    const result = await runProbe();
    expect(result.afterImport).toBe(0);
    expect(result.afterAdmin).toBe(1);
    expect(result.error).toBe('BrokerUnreachableError');
  }, 60_000);
});
