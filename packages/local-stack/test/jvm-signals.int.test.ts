// JVM launcher exit hook: a signal kills the JVMs only when the program has no handler of its own.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { isAlive } from '../src/jvm';

const jvmModule = fileURLToPath(new URL('../src/jvm.ts', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'kandle-jvm-signals-'));
// A JVM that just waits: Java's single-file source launcher, no build step.
const sleeper = join(work, 'Sleeper.java');
writeFileSync(
  sleeper,
  'public class Sleeper { public static void main(String[] a) throws Exception { Thread.sleep(600_000); } }\n',
);

afterAll(() => rmSync(work, { recursive: true, force: true }));

/** A program that starts one JVM, prints its pid, and (with `graceful`) handles SIGINT itself like the pipeline does. */
function program(graceful: boolean): string {
  return `
import { spawnJava, stopProcess, isAlive } from ${JSON.stringify(jvmModule)};
const pid = spawnJava({ args: [${JSON.stringify(sleeper)}], logFile: ${JSON.stringify(join(work, 'sleeper.log'))} });
${
  graceful
    ? `process.once('SIGINT', async () => {
  console.log('draining');
  await new Promise((r) => setTimeout(r, 300));
  console.log('jvm alive during drain: ' + isAlive(pid));
  await stopProcess(pid, 'SIGTERM', 10_000);
  console.log('stopped');
  process.exit(0);
});`
    : ''
}
console.log('pid ' + pid);
setInterval(() => {}, 1000);
`;
}

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  jvmPid: number;
}

function runAndInterrupt(graceful: boolean, signal: NodeJS.Signals = 'SIGINT'): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', program(graceful)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let jvmPid = 0;
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`no exit within 60 s; stdout: ${stdout}`));
    }, 60_000);
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      const match = /pid (\d+)/.exec(stdout);
      if (match && !jvmPid) {
        jvmPid = Number(match[1]);
        // Give the JVM a moment to exist for real before the interrupt.
        setTimeout(() => child.kill(signal), 1000);
      }
    });
    child.on('exit', (code, exitSignal) => {
      clearTimeout(timer);
      resolve({ code, signal: exitSignal, stdout, jvmPid });
    });
  });
}

async function untilGone(pid: number): Promise<boolean> {
  for (let i = 0; i < 50 && isAlive(pid); i++) await new Promise((r) => setTimeout(r, 100));
  return !isAlive(pid);
}

describe('JVM exit hook and signals', () => {
  it('leaves SIGINT to a program that handles it: the JVM lives through its drain, then it stops it', async () => {
    const run = await runAndInterrupt(true);
    expect(run.stdout).toContain('draining');
    expect(run.stdout).toContain('jvm alive during drain: true');
    expect(run.stdout).toContain('stopped');
    expect(run.code).toBe(0);
    expect(await untilGone(run.jvmPid)).toBe(true);
  }, 90_000);

  it('kills the JVMs and exits on SIGINT when the program has no handler', async () => {
    const run = await runAndInterrupt(false);
    expect(run.code).toBe(130);
    expect(await untilGone(run.jvmPid)).toBe(true);
  }, 90_000);

  // No JS runs on these: only the parent-death signal (setpriv --pdeathsig, else the watchdog) can stop the JVM.
  for (const signal of ['SIGKILL', 'SIGSEGV'] as const) {
    it(`kills the JVMs when the program dies of ${signal}`, async () => {
      const run = await runAndInterrupt(true, signal);
      expect(run.signal).toBe(signal);
      expect(run.stdout).not.toContain('draining');
      expect(run.jvmPid).toBeGreaterThan(0);
      expect(await untilGone(run.jvmPid)).toBe(true);
    }, 90_000);
  }

  it('without setpriv, the shell watchdog kills the JVMs of a SIGKILLed program', async () => {
    process.env.KANDLE_NO_PDEATHSIG = '1';
    try {
      const run = await runAndInterrupt(true, 'SIGKILL');
      expect(run.signal).toBe('SIGKILL');
      expect(await untilGone(run.jvmPid)).toBe(true);
    } finally {
      delete process.env.KANDLE_NO_PDEATHSIG;
    }
  }, 90_000);
});
