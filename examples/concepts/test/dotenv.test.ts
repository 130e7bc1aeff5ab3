// .env loading proof: the file fills what the shell left unset, the shell wins, and a missing file changes nothing.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadDotEnv } from '../src/main-runner';

const dir = mkdtempSync(join(tmpdir(), 'kandle-dotenv-'));
const names = ['KANDLE_DOTENV_FROM_FILE', 'KANDLE_DOTENV_FROM_SHELL', 'KANDLE_DOTENV_QUOTED'];
afterEach(() => {
  for (const name of names) delete process.env[name];
});

describe('loadDotEnv', () => {
  it('loads unset variables from the file; shell variables win', () => {
    const file = join(dir, '.env');
    writeFileSync(
      file,
      '# a comment\nKANDLE_DOTENV_FROM_FILE=file\nKANDLE_DOTENV_FROM_SHELL=file\nKANDLE_DOTENV_QUOTED="a b # c"\n',
    );
    process.env.KANDLE_DOTENV_FROM_SHELL = 'shell';
    expect(loadDotEnv(file)).toBe(file);
    expect(process.env.KANDLE_DOTENV_FROM_FILE).toBe('file');
    expect(process.env.KANDLE_DOTENV_FROM_SHELL).toBe('shell');
    expect(process.env.KANDLE_DOTENV_QUOTED).toBe('a b # c');
  });

  it('does nothing when there is no .env', () => {
    expect(loadDotEnv(join(dir, 'missing.env'))).toBeUndefined();
    expect(process.env.KANDLE_DOTENV_FROM_FILE).toBeUndefined();
  });
});

process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
