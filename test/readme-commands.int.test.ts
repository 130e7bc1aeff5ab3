// README proof: every example command the README prints runs, as printed, on a fresh stack of its own, and leaves no JVM.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { isAlive } from '../packages/core/src/testing/jvm';

const repoRoot = fileURLToPath(new URL('../', import.meta.url));
const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');

// The user's shell: none of the variables that would point an example at an existing stack.
const userEnv = Object.fromEntries(
  Object.entries(process.env).filter(
    ([key]) => !/^(KAFKA_BROKERS|SCHEMA_REGISTRY_URL|INFLUX_|KANDLE_(?!CACHE_DIR|JAVA|CHROMIUM))/.test(key),
  ),
) as NodeJS.ProcessEnv;

/** Pids of every running JVM (ours or not): a command must not leave a new one behind. */
function javaPids(): Set<number> {
  const out = spawnSync('pgrep', ['-x', 'java'], { encoding: 'utf8' }).stdout ?? '';
  return new Set(out.split('\n').filter(Boolean).map(Number).filter(isAlive));
}

async function leftoverJvms(before: Set<number>): Promise<number[]> {
  // stop() awaits each JVM's exit, so anything still here after a short grace period was leaked.
  for (let i = 0; i < 30; i++) {
    const left = [...javaPids()].filter((pid) => !before.has(pid));
    if (left.length === 0) return [];
    await new Promise((r) => setTimeout(r, 500));
  }
  return [...javaPids()].filter((pid) => !before.has(pid));
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

/** Runs `command` through the shell, in its own process group like a terminal job. */
function shell(command: string): { child: ChildProcess; output: () => string; exit: Promise<number | null> } {
  const child = spawn('sh', ['-c', command], { cwd: repoRoot, env: userEnv, detached: true, stdio: 'pipe' });
  running.add(child);
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exit = new Promise<number | null>((resolve) =>
    child.once('exit', (code, signal) => {
      running.delete(child);
      resolve(signal ? 128 : code);
    }),
  );
  return { child, output: () => output, exit };
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
      const before = javaPids();
      const run = shell(command);
      const timer = setTimeout(() => run.child.pid && killGroup(run.child.pid, 'SIGKILL'), 270_000);
      const code = await run.exit;
      clearTimeout(timer);
      expect(code, run.output()).toBe(0);
      expect(run.output()).toMatch(/starting a local 3-broker cluster/);
      expect(run.output()).toMatch(finalWords[command] as RegExp);
      expect(await leftoverJvms(before), 'JVMs left running').toEqual([]);
    }, 300_000);
  }

  it('npm start serves the page with candles, and Ctrl-C stops everything it started', async () => {
    expect(readme).toMatch(/^npm start\b/m);
    const before = javaPids();
    // KANDLE_PORT=0: the printed default (8080) may be taken on a CI machine; everything else is the user's.
    const run = shell('KANDLE_PORT=0 npm start');
    const timer = setTimeout(() => run.child.pid && killGroup(run.child.pid, 'SIGKILL'), 270_000);
    try {
      const url = await new Promise<string>((resolve, reject) => {
        const poll = setInterval(() => {
          const match = /live candlestick page: (http:\/\/127\.0\.0\.1:\d+)/.exec(run.output());
          if (match) {
            clearInterval(poll);
            resolve(match[1] as string);
          }
        }, 250);
        void run.exit.then((code) => {
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
      const code = await run.exit;
      expect(run.output()).toMatch(/stopped/);
      expect([0, 130], run.output()).toContain(code);
      expect(await leftoverJvms(before), 'JVMs left running').toEqual([]);
    } finally {
      clearTimeout(timer);
    }
  }, 300_000);
});
