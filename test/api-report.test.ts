// API review: the check `npm test` runs passes on the committed report and fails once the surface and report differ.
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
// @ts-expect-error: a plain .mjs script without type declarations
import { checkApiReport } from '../scripts/api-report.mjs';

const committed = new URL('../packages/influx-sink/etc/influx-sink.api.md', import.meta.url);
const work = mkdtempSync(join(tmpdir(), 'kandle-api-check-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('the API report check', () => {
  it('passes when the report matches the built surface', () => {
    const folder = join(work, 'same');
    copyFileSync(committed, join(mkdirp(folder), 'influx-sink.api.md'));
    expect(checkApiReport('influx-sink', { reportFolder: folder })).toBe(true);
  }, 180_000);

  it('fails when the public surface changed without an updated report', () => {
    const folder = join(work, 'stale');
    const report = readFileSync(committed, 'utf8');
    // As if flush() had resolved to a number before: the built surface no longer matches the report.
    const stale = report.replace('flush(): Promise<void>;', 'flush(): Promise<number>;');
    expect(stale).not.toBe(report);
    writeFileSync(join(mkdirp(folder), 'influx-sink.api.md'), stale);
    expect(checkApiReport('influx-sink', { reportFolder: folder })).toBe(false);
  }, 180_000);
});

function mkdirp(folder: string): string {
  mkdirSync(folder, { recursive: true });
  return folder;
}
