// Compose tests: reads compose/docker-compose.yml the way Docker Compose does (merge keys, ${VAR:-default} interpolation).
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

/** The compose/ folder: relative paths in the compose file resolve against it, as Compose does. */
export const COMPOSE_DIR = join(dirname(fileURLToPath(import.meta.url)), '..');
export const COMPOSE_FILE = join(COMPOSE_DIR, 'docker-compose.yml');

export interface Healthcheck {
  test?: string | string[];
}

export interface Service {
  image?: string;
  hostname?: string;
  command?: string | string[];
  entrypoint?: string | string[];
  restart?: string;
  environment?: Record<string, string | number | boolean | null> | string[];
  env_file?: string | Array<string | { path: string }>;
  ports?: Array<string | { target: number; published?: string | number; host_ip?: string }>;
  volumes?: Array<string | { type?: string; source?: string; target: string }>;
  depends_on?: string[] | Record<string, { condition?: string }>;
  healthcheck?: Healthcheck;
}

export interface ComposeFile {
  services: Record<string, Service>;
  volumes?: Record<string, unknown>;
}

/** One `${…}` reference found while interpolating. */
export interface VariableUse {
  name: string;
  /** The text after `:-` / `-`, if the reference has one. */
  fallback?: string;
}

/**
 * Interpolates one string the way Compose does: `$$` is a literal `$`, `${VAR:-x}` / `${VAR-x}` fall back to `x`,
 * `${VAR}` / `$VAR` need the variable. Unset variables without a fallback become '' (Compose warns, we record).
 */
export function interpolate(text: string, env: Record<string, string | undefined>, uses: VariableUse[] = []): string {
  return text.replace(
    /\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?-)([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g,
    (match, braced: string | undefined, operator: string | undefined, fallback: string | undefined, bare) => {
      if (match === '$$') return '$';
      const name = (braced ?? bare) as string;
      uses.push(fallback === undefined ? { name } : { name, fallback });
      const value = env[name];
      if (operator === ':-') return value ? value : (fallback ?? '');
      if (operator === '-') return value !== undefined ? value : (fallback ?? '');
      return value ?? '';
    },
  );
}

function interpolateDeep(value: unknown, env: Record<string, string | undefined>, uses: VariableUse[]): unknown {
  if (typeof value === 'string') return interpolate(value, env, uses);
  if (Array.isArray(value)) return value.map((item) => interpolateDeep(item, env, uses));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, interpolateDeep(item, env, uses)]));
  }
  return value;
}

/** The raw text, the parsed file with `<<` merges applied, and the same file interpolated with `env`. */
export function loadCompose(env: Record<string, string | undefined> = {}, text = readFileSync(COMPOSE_FILE, 'utf8')) {
  const raw = parse(text, { merge: true }) as ComposeFile;
  const uses: VariableUse[] = [];
  const resolved = interpolateDeep(raw, env, uses) as ComposeFile;
  return { text, raw, resolved, uses };
}

/** A service's environment as a plain map, whichever of the two Compose syntaxes it uses. */
export function environmentOf(service: Service): Record<string, string> {
  const env = service.environment ?? {};
  if (Array.isArray(env)) {
    return Object.fromEntries(
      env.map((entry) => {
        const eq = entry.indexOf('=');
        return eq < 0 ? [entry, ''] : [entry.slice(0, eq), entry.slice(eq + 1)];
      }),
    );
  }
  return Object.fromEntries(Object.entries(env).map(([key, value]) => [key, value === null ? '' : String(value)]));
}

export function dependsOnOf(service: Service): Record<string, { condition?: string }> {
  const deps = service.depends_on ?? {};
  return Array.isArray(deps) ? Object.fromEntries(deps.map((name) => [name, {}])) : deps;
}

export interface PublishedPort {
  hostIp: string | undefined;
  hostPort: number;
  containerPort: number;
}

/** `[ip:]host:container[/proto]` or the long syntax, as numbers. */
export function publishedPorts(service: Service): PublishedPort[] {
  return (service.ports ?? []).map((port) => {
    if (typeof port !== 'string') {
      return { hostIp: port.host_ip, hostPort: Number(port.published), containerPort: Number(port.target) };
    }
    const parts = port.replace(/\/(tcp|udp)$/, '').split(':');
    const containerPort = Number(parts.pop());
    const hostPort = Number(parts.pop() ?? containerPort);
    return { hostIp: parts.length > 0 ? parts.join(':') : undefined, hostPort, containerPort };
  });
}

export interface Mount {
  /** A named volume, or a host path (relative paths start with `.`, `/` or `~`). */
  source: string;
  target: string;
  isHostPath: boolean;
}

export function mountsOf(service: Service): Mount[] {
  return (service.volumes ?? []).map((volume) => {
    const [source = '', target = ''] =
      typeof volume === 'string' ? volume.split(':') : [volume.source ?? '', volume.target];
    return { source, target, isHostPath: /^[./~]/.test(source) };
  });
}

/** A Kafka listener as written in `listeners` / `advertised.listeners`: `NAME://host:port`. */
export interface Listener {
  name: string;
  host: string;
  port: number;
}

export function parseListeners(value: string): Listener[] {
  return value
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '')
    .map((entry) => {
      const match = /^([A-Za-z0-9_]+):\/\/(.*):(\d+)$/.exec(entry);
      if (!match) throw new Error(`not a listener: ${entry}`);
      return { name: match[1] as string, host: match[2] as string, port: Number(match[3]) };
    });
}

/** `CONTROLLER:PLAINTEXT,INTERNAL:PLAINTEXT` → { CONTROLLER: 'PLAINTEXT', … }. */
export function parseProtocolMap(value: string): Record<string, string> {
  return Object.fromEntries(value.split(',').map((pair) => pair.trim().split(':') as [string, string]));
}

/** The brokers: services running the apache/kafka image, by service name. */
export function kafkaBrokers(compose: ComposeFile): Array<[string, Service]> {
  return Object.entries(compose.services).filter(([, service]) => service.image?.startsWith('apache/kafka:'));
}
