// Lazy dependencies: importing @kandle/core loads neither avsc nor ws; the first Avro encoder loads avsc.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const repoRoot = fileURLToPath(new URL('../../..', import.meta.url));

// A fresh Node process: vitest's worker may already hold both packages from other test files.
const probe = `
import { createRequire } from 'node:module';
const cache = createRequire(import.meta.url)('module')._cache;
const loaded = (pkg) => Object.keys(cache).some((file) => file.includes('/node_modules/' + pkg + '/'));
const core = await import('./packages/core/src/index.ts');
const afterImport = { avsc: loaded('avsc'), ws: loaded('ws') };
core.createAvroEncoder(core.tickerSchema, 1);
console.log(JSON.stringify({ afterImport, avscAfterEncoder: loaded('avsc') }));
`;

function runProbe(): Promise<{ afterImport: { avsc: boolean; ws: boolean }; avscAfterEncoder: boolean }> {
  return new Promise((resolve, reject) =>
    execFile(
      process.execPath,
      ['--import', 'tsx', '--input-type=module', '-e', probe],
      { cwd: repoRoot, timeout: 60_000 },
      (error, stdout, stderr) => {
        if (error) return reject(new Error(`probe failed: ${error.message}\n${stderr}`));
        resolve(JSON.parse(stdout.trim().split('\n').at(-1) ?? ''));
      },
    ),
  );
}

describe('lazy dependencies', () => {
  it('importing @kandle/core loads neither avsc nor ws; building an Avro encoder loads avsc', async () => {
    const result = await runProbe();
    expect(result.afterImport).toEqual({ avsc: false, ws: false });
    expect(result.avscAfterEncoder).toBe(true);
  }, 60_000);
});
