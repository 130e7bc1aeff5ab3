// Notebook test set-up: a cached Python venv with nbclient, a private Deno kernelspec, and a headless notebook run.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The Python packages the headless run needs (nbclient drives the kernel through jupyter_client). */
const PYTHON_PACKAGES = ['nbclient', 'nbformat', 'jupyter_client'];
const EXECUTE_SCRIPT = fileURLToPath(new URL('./execute_notebook.py', import.meta.url));
const KERNEL_NAME = 'deno';

/** Where the runner lives: everything under `<repo>/.kandle/notebook` (git-ignored), nothing in the user's home. */
export interface NotebookRunner {
  /** `<repo>/.kandle/notebook`. */
  dir: string;
  /** The venv's interpreter, with nbclient, nbformat and jupyter_client importable. */
  python: string;
  /** Environment for the run: Jupyter's and Deno's directories all point inside `dir`. */
  env: NodeJS.ProcessEnv;
  /** Whether this call had to create the venv and pip-install (the slow first run). */
  installed: boolean;
}

/** The parts of an executed nbformat-4 notebook the test reads. */
export interface NotebookOutput {
  output_type: 'stream' | 'display_data' | 'execute_result' | 'error';
  name?: string;
  text?: string | string[];
  data?: Record<string, string | string[]>;
  ename?: string;
  evalue?: string;
}
export interface NotebookCell {
  cell_type: 'code' | 'markdown' | 'raw';
  source: string | string[];
  execution_count?: number | null;
  outputs?: NotebookOutput[];
}
export interface ExecutedNotebook {
  cells: NotebookCell[];
}

/** Joins nbformat's multiline strings (stored either as one string or as a list of lines). */
export function joinText(text: string | string[] | undefined): string {
  return Array.isArray(text) ? text.join('') : (text ?? '');
}

interface RunResult {
  stdout: string;
  stderr: string;
}

function run(command: string, args: string[], options: { env?: NodeJS.ProcessEnv; timeoutMs: number }) {
  return new Promise<RunResult>((resolve, reject) => {
    execFile(
      command,
      args,
      { env: options.env ?? process.env, timeout: options.timeoutMs, maxBuffer: 32 * 1024 * 1024 },
      (error, stdout, stderr) => {
        if (error === null) return resolve({ stdout, stderr });
        const why = error.killed ? `killed after ${options.timeoutMs} ms` : `exit ${error.code ?? error.signal}`;
        // The tail of stderr carries the reason (pip's error, or nbclient's CellExecutionError with the cell).
        const detail = stderr.trim() === '' ? error.message : stderr.slice(-8000);
        reject(new Error(`\`${command} ${args.join(' ')}\` failed (${why}):\n${detail}`, { cause: error }));
      },
    );
  });
}

async function pythonImports(python: string): Promise<boolean> {
  if (!existsSync(python)) return false;
  try {
    await run(python, ['-c', `import ${PYTHON_PACKAGES.join(', ')}`], { timeoutMs: 60_000 });
    return true;
  } catch {
    return false;
  }
}

/**
 * Makes the headless runner ready and returns it: creates `<repo>/.kandle/notebook/venv` and pip-installs nbclient,
 * nbformat and jupyter_client only when they do not import from it yet, then (re)writes a `deno` kernelspec whose
 * argv runs the repository's own `node_modules/.bin/deno`. pip uses the machine's configured index.
 *
 * @throws Error with the failing command's stderr when python3, venv or pip is unavailable, or Deno is not installed.
 *
 * @example
 * ```ts
 * const runner = await prepareNotebookRunner('/path/to/kandle');
 * const nb = await executeNotebook(runner, '/path/to/kandle/examples/notebook/candles.ipynb');
 * ```
 */
export async function prepareNotebookRunner(repoRoot: string): Promise<NotebookRunner> {
  const dir = join(repoRoot, '.kandle', 'notebook');
  const venv = join(dir, 'venv');
  const python = join(venv, 'bin', 'python');
  const deno = join(repoRoot, 'node_modules', '.bin', 'deno');
  if (!existsSync(deno)) {
    throw new Error(
      `Deno is missing at ${deno}: it is a root devDependency, run \`npm install\` at the repository root`,
    );
  }

  let installed = false;
  if (!(await pythonImports(python))) {
    try {
      // --clear: a venv left half-made by an interrupted first run is rebuilt, not patched.
      await run('python3', ['-m', 'venv', '--clear', venv], { timeoutMs: 120_000 });
      await run(python, ['-m', 'pip', 'install', '--disable-pip-version-check', '--quiet', ...PYTHON_PACKAGES], {
        timeoutMs: 180_000,
      });
    } catch (error) {
      throw new Error(
        `Cannot set up the notebook runner's Python venv at ${venv} (needs python3 with the venv module and a ` +
          `reachable package index for ${PYTHON_PACKAGES.join(', ')}): ${(error as Error).message}`,
        { cause: error },
      );
    }
    if (!(await pythonImports(python))) {
      throw new Error(`pip installed into ${venv}, but ${PYTHON_PACKAGES.join(', ')} still do not import`);
    }
    installed = true;
  }

  // Generated on every run (cheap), so the absolute Deno path is never stale and never committed.
  const jupyterPath = join(dir, 'jupyter');
  const kernelDir = join(jupyterPath, 'kernels', KERNEL_NAME);
  await mkdir(kernelDir, { recursive: true });
  const kernelSpec = {
    argv: [deno, 'jupyter', '--kernel', '--conn', '{connection_file}'],
    display_name: 'Deno (kandle test)',
    language: 'typescript',
  };
  await writeFile(join(kernelDir, 'kernel.json'), `${JSON.stringify(kernelSpec, null, 2)}\n`);

  const env: NodeJS.ProcessEnv = {
    ...process.env,
    // JUPYTER_PATH is searched first; the data/config dirs replace ~/.local/share/jupyter and ~/.jupyter, so a
    // kernel the user registered elsewhere cannot shadow this one.
    JUPYTER_PATH: jupyterPath,
    JUPYTER_DATA_DIR: join(dir, 'jupyter-data'),
    JUPYTER_CONFIG_DIR: join(dir, 'jupyter-config'),
    JUPYTER_RUNTIME_DIR: join(dir, 'jupyter-runtime'),
    JUPYTER_PLATFORM_DIRS: '1',
    DENO_DIR: join(dir, 'deno-cache'),
    NO_COLOR: '1',
  };
  return { dir, python, env, installed };
}

/**
 * Executes `notebookPath` headlessly on the Deno kernel (working directory: the notebook's folder) and returns the
 * executed notebook, also written to `<runner.dir>/<name>.executed.ipynb`; the notebook in the repository is untouched.
 *
 * @throws Error carrying nbclient's CellExecutionError text (the failing cell and its error) when a cell fails.
 *
 * @example
 * ```ts
 * const nb = await executeNotebook(runner, notebookPath, { cellTimeoutSeconds: 60 });
 * nb.cells.filter((c) => c.cell_type === 'code').length;
 * ```
 */
export async function executeNotebook(
  runner: NotebookRunner,
  notebookPath: string,
  options: {
    /** Per-cell limit nbclient enforces. Default 120. */
    cellTimeoutSeconds?: number;
    /** Limit for the whole run, kernel start included. Default 150 000. */
    timeoutMs?: number;
  } = {},
): Promise<ExecutedNotebook> {
  const name =
    notebookPath
      .split('/')
      .at(-1)
      ?.replace(/\.ipynb$/, '') ?? 'notebook';
  const target = join(runner.dir, `${name}.executed.ipynb`);
  await run(
    runner.python,
    [EXECUTE_SCRIPT, notebookPath, target, KERNEL_NAME, String(options.cellTimeoutSeconds ?? 120)],
    { env: runner.env, timeoutMs: options.timeoutMs ?? 150_000 },
  );
  return JSON.parse(await readFile(target, 'utf8')) as ExecutedNotebook;
}
