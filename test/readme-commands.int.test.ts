// README proof: every example command the README prints runs, as printed, on a fresh stack of its own, and leaves no JVM.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { isAlive } from '@kandle/local-stack';

const repoRoot = fileURLToPath(new URL('../', import.meta.url));
const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');

// The user's shell: none of the variables that would point an example at an existing stack.
const userEnv = Object.fromEntries(
  Object.entries(process.env).filter(
    ([key]) => !/^(KAFKA_BROKERS|SCHEMA_REGISTRY_URL|INFLUX_|KANDLE_(?!CACHE_DIR|JAVA|CHROMIUM))/.test(key),
  ),
) as NodeJS.ProcessEnv;

/**
 * Running JVMs started under `tag`: each command runs with its own `KANDLE_README_RUN` value, which every process it
 * starts inherits, so JVMs of other work on a shared machine are never mistaken for a leak.
 */
function javaPids(tag: string): number[] {
  const out = spawnSync('pgrep', ['-x', 'java'], { encoding: 'utf8' }).stdout ?? '';
  return out
    .split('\n')
    .filter(Boolean)
    .map(Number)
    .filter((pid) => isAlive(pid) && environOf(pid).includes(`KANDLE_README_RUN=${tag}`));
}

function environOf(pid: number): string[] {
  try {
    return readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
  } catch {
    return [];
  }
}

async function leftoverJvms(tag: string): Promise<number[]> {
  // stop() awaits each JVM's exit, so anything still here after a short grace period was leaked.
  for (let i = 0; i < 30 && javaPids(tag).length > 0; i++) await new Promise((r) => setTimeout(r, 500));
  return javaPids(tag);
}

const running = new Set<ChildProcess>();
afterAll(() => {
  for (const child of running) if (child.pid) killGroup(child.pid, 'SIGKILL');
});

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // gone
  }
}

/**
 * Runs `command` through the shell, in its own process group like a terminal job. `done` resolves once every process
 * of the job has let go of its output (not just the shell), with the shell's exit code.
 */
function shell(command: string): {
  tag: string;
  child: ChildProcess;
  output: () => string;
  done: Promise<number | null>;
} {
  const tag = randomBytes(6).toString('hex');
  const child = spawn('sh', ['-c', command], {
    cwd: repoRoot,
    env: { ...userEnv, KANDLE_README_RUN: tag },
    detached: true,
    stdio: 'pipe',
  });
  running.add(child);
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const done = new Promise<number | null>((resolve) =>
    child.once('close', (code, signal) => {
      running.delete(child);
      resolve(signal ? 128 : code);
    }),
  );
  return { tag, child, output: () => output, done };
}

const exampleCommands = [...readme.matchAll(/`(npx tsx examples\/[\w/.-]+\.ts)`/g)].map((m) => m[1] as string);

// What each example prints once it has shown its concept (its last narration), so "exit 0" is not the only check.
const finalWords: Record<string, RegExp> = {
  'npx tsx examples/concepts/src/partitioning.ts': /round-robin/,
  'npx tsx examples/concepts/src/acks.ts': /acks=all/,
  'npx tsx examples/concepts/src/group-strategies.ts': /sticky/i,
  'npx tsx examples/concepts/src/offsets.ts': /latest/,
  'npx tsx examples/custom-assignor/src/main.ts': /dedicated-btc/,
};

describe('README commands, as printed, each on a stack it starts itself', () => {
  it('the README prints every example command this suite runs', () => {
    expect([...new Set(exampleCommands)].sort()).toEqual(Object.keys(finalWords).sort());
  });

  for (const command of Object.keys(finalWords)) {
    it(`${command}`, async () => {
      const run = shell(command);
      // A bound, not a speed check: on a busy 2-core machine one example took 270 s (about 100 s alone).
      const timer = setTimeout(() => run.child.pid && killGroup(run.child.pid, 'SIGKILL'), 540_000);
      const code = await run.done;
      clearTimeout(timer);
      expect(code, run.output()).toBe(0);
      expect(run.output()).toMatch(/starting a local 3-broker cluster/);
      expect(run.output()).toMatch(finalWords[command] as RegExp);
      expect(await leftoverJvms(run.tag), 'JVMs left running').toEqual([]);
    }, 600_000);
  }

  it('npm start serves the page with candles, and Ctrl-C stops everything it started', async () => {
    expect(readme).toMatch(/^npm start\b/m);
    // KANDLE_PORT=0: the printed default (8080) may be taken on a CI machine; everything else is the user's.
    const run = shell('KANDLE_PORT=0 npm start');
    const timer = setTimeout(() => run.child.pid && killGroup(run.child.pid, 'SIGKILL'), 540_000);
    try {
      const url = await new Promise<string>((resolve, reject) => {
        const poll = setInterval(() => {
          const match = /live candlestick page: (http:\/\/127\.0\.0\.1:\d+)/.exec(run.output());
          if (match) {
            clearInterval(poll);
            resolve(match[1] as string);
          }
        }, 250);
        void run.done.then((code) => {
          clearInterval(poll);
          reject(new Error(`npm start exited (${code}) before serving the page:\n${run.output()}`));
        });
      });
      let candles = 0;
      for (let i = 0; i < 120 && candles === 0; i++) {
        const config = (await (await fetch(`${url}/api/config`)).json()) as { symbols?: string[] };
        const symbol = config.symbols?.[0] ?? 'tBTCUSD';
        const body = (await (await fetch(`${url}/api/candles?symbol=${symbol}&interval=1m`)).json()) as unknown;
        candles = Array.isArray(body) ? body.length : ((body as { candles?: unknown[] }).candles?.length ?? 0);
        if (candles === 0) await new Promise((r) => setTimeout(r, 1000));
      }
      expect(candles, run.output()).toBeGreaterThan(0);
      // A terminal's Ctrl-C: SIGINT to the whole foreground job (npm, tsx, node).
      if (run.child.pid) killGroup(run.child.pid, 'SIGINT');
      const code = await run.done;
      expect(run.output()).toMatch(/stopped/);
      // The shell itself dies of the SIGINT (128); what matters is that the job drained and stopped its stack.
      expect([0, 128, 130], run.output()).toContain(code);
      expect(await leftoverJvms(run.tag), 'JVMs left running').toEqual([]);
    } finally {
      clearTimeout(timer);
    }
  }, 600_000);

  it('npm run stack:up, stack:status, stack:down: a stack that outlives its command, then nothing left', async () => {
    for (const command of ['npm run stack:up', 'npm run stack:status', 'npm run stack:down'])
      expect(readme, command).toContain(command);
    let tag = '';
    try {
      const up = shell('npm run stack:up');
      tag = up.tag;
      expect(await up.done, up.output()).toBe(0);
      expect(up.output()).toMatch(/KAFKA_BROKERS=127\.0\.0\.1:\d+/);
      // Detached on purpose: the JVMs live on after `stack:up` returned.
      expect(javaPids(up.tag).length).toBeGreaterThanOrEqual(5);
      const status = shell('npm run stack:status');
      expect(await status.done, status.output()).toBe(0);
      expect(status.output()).toMatch(/broker \d+ +127\.0\.0\.1:\d+ +running/);
      expect(status.output()).not.toMatch(/STOPPED/);
    } finally {
      const down = shell('npm run stack:down');
      expect(await down.done, down.output()).toBe(0);
    }
    expect(await leftoverJvms(tag), 'JVMs left running').toEqual([]);
  }, 600_000);
});
