// Tests of the stack step: which stack KANDLE_STACK picks, the Docker probe, the compose addresses, and clear errors.
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '@kandle/core';
import { describe, expect, it, vi } from 'vitest';
import {
  environmentOf,
  kafkaBrokers,
  loadCompose,
  parseListeners,
  publishedPorts,
} from '../../../compose/test/compose-file';
import { loadConfig, type StackMode } from '../src/config';
import {
  COMPOSE_ADDRESSES,
  COMPOSE_KAFKA_SERVICES,
  chooseStack,
  type DockerProbe,
  probeDocker,
  resolveStack,
} from '../src/stack';

const silent = { log: () => {} };
/** A path where surely no program lives: what a machine without Docker installed looks like to the probe. */
const NO_DOCKER = '/nonexistent/bin/docker';
/** No engine socket and no DOCKER_HOST: the development machines, whose `docker` (if any) cannot reach an engine. */
const NO_DOCKER_ENGINE = !process.env.DOCKER_HOST && !existsSync('/var/run/docker.sock');

const DOCKER_OK: DockerProbe = {
  available: true,
  composeVersion: 'Docker Compose version v2.40.3',
  engineVersion: '28.5.1',
};
const DOCKER_MISSING: DockerProbe = { available: false, missing: 'the Docker CLI (no docker command)' };

function stackFileWith(content: string): string {
  const file = join(mkdtempSync(join(tmpdir(), 'kandle-stack-')), 'stack.json');
  writeFileSync(file, content);
  return file;
}

/** chooseStack with stubbed observations that count how often they were asked. */
async function choose(mode: StackMode, observed: { jvmStackRunning: boolean; docker: DockerProbe; env?: boolean }) {
  const jvmStackRunning = vi.fn(async () => observed.jvmStackRunning);
  const dockerAvailable = vi.fn(async () => observed.docker);
  const config = {
    kafkaBrokers: observed.env ? '10.0.0.1:9092' : undefined,
    schemaRegistryUrl: observed.env ? 'http://10.0.0.1:8081' : undefined,
    stackMode: mode,
  };
  const choice = await chooseStack({ config, jvmStackRunning, dockerAvailable });
  return { choice, jvmAsked: jvmStackRunning.mock.calls.length, dockerAsked: dockerAvailable.mock.calls.length };
}

describe('chooseStack', () => {
  // jvmAsked / dockerAsked: how often each observation was made (0: never looked at).
  const cases = [
    {
      title: 'auto: configured addresses win, and nothing else is looked at',
      mode: 'auto',
      observed: { env: true, jvmStackRunning: true, docker: DOCKER_OK },
      expected: { choice: 'env', jvmAsked: 0, dockerAsked: 0 },
    },
    {
      title: 'auto: a running JVM stack comes before Docker, which is not even asked',
      mode: 'auto',
      observed: { jvmStackRunning: true, docker: DOCKER_OK },
      expected: { choice: 'stack', jvmAsked: 1, dockerAsked: 0 },
    },
    {
      title: 'auto: no JVM stack and Docker answering → the compose stack',
      mode: 'auto',
      observed: { jvmStackRunning: false, docker: DOCKER_OK },
      expected: { choice: 'compose', jvmAsked: 1, dockerAsked: 1 },
    },
    {
      title: 'auto: no JVM stack and no Docker → JVMs started now',
      mode: 'auto',
      observed: { jvmStackRunning: false, docker: DOCKER_MISSING },
      expected: { choice: 'started', jvmAsked: 1, dockerAsked: 1 },
    },
    {
      title: 'jvm: reuses a running JVM stack and never asks Docker',
      mode: 'jvm',
      observed: { jvmStackRunning: true, docker: DOCKER_OK },
      expected: { choice: 'stack', jvmAsked: 1, dockerAsked: 0 },
    },
    {
      title: 'jvm: starts JVMs even when Docker would answer, and never asks it',
      mode: 'jvm',
      observed: { jvmStackRunning: false, docker: DOCKER_OK },
      expected: { choice: 'started', jvmAsked: 1, dockerAsked: 0 },
    },
    {
      title: 'compose: uses compose even when a JVM stack runs, without looking at it',
      mode: 'compose',
      observed: { jvmStackRunning: true, docker: DOCKER_OK },
      expected: { choice: 'compose', jvmAsked: 0, dockerAsked: 1 },
    },
  ] as const;
  for (const { title, mode, observed, expected } of cases) {
    it(title, async () => {
      expect(await choose(mode, observed)).toEqual(expected);
    });
  }

  it('compose without Docker: a ConfigError naming what is missing, no fallback', async () => {
    const failure = choose('compose', { jvmStackRunning: true, docker: DOCKER_MISSING });
    await expect(failure).rejects.toThrow(ConfigError);
    await expect(failure).rejects.toThrow(
      'KANDLE_STACK=compose needs Docker with the compose plugin, but this machine is missing the Docker CLI',
    );
    await expect(failure).rejects.toMatchObject({
      code: 'CONFIG_INVALID',
      details: { stackMode: 'compose', missing: DOCKER_MISSING.missing },
    });
  });
});

describe('probeDocker', () => {
  it('answers "no" when docker is not installed', async () => {
    const probe = await probeDocker({ dockerCommand: NO_DOCKER });
    expect(probe).toEqual({ available: false, missing: `the Docker CLI (no ${NO_DOCKER} command)` });
  });

  it.runIf(NO_DOCKER_ENGINE)('answers "no" on this machine, which has no Docker engine', async () => {
    const probe = await probeDocker();
    expect(probe.available).toBe(false);
    // Which piece is missing depends on what is installed: no CLI, a CLI without the compose plugin, or no engine.
    expect(probe.available === false && probe.missing).toMatch(/Docker CLI|Compose v2 plugin|Docker engine/);
  });
});

describe('resolveStack', () => {
  it('uses KAFKA_BROKERS and SCHEMA_REGISTRY_URL when set, and has nothing to stop', async () => {
    const config = loadConfig({ KAFKA_BROKERS: '10.0.0.1:9092', SCHEMA_REGISTRY_URL: 'http://10.0.0.1:8081' });
    const stack = await resolveStack(config, { ...silent, stackFile: stackFileWith('not json') });
    expect(stack).toMatchObject({
      brokers: '10.0.0.1:9092',
      registryUrl: 'http://10.0.0.1:8081',
      origin: 'env',
      stopNotice: undefined,
    });
    // Brokers kandle was given are never the fault lab's to stop.
    expect(stack.brokerControl).toBeUndefined();
    await stack.stop();
  });

  it('refuses a stack record that is not JSON', async () => {
    await expect(resolveStack(loadConfig({}), { ...silent, stackFile: stackFileWith('{oops') })).rejects.toThrow(
      ConfigError,
    );
  });

  it('refuses a stack record without brokers or registry', async () => {
    await expect(resolveStack(loadConfig({}), { ...silent, stackFile: stackFileWith('{"kafka":{}}') })).rejects.toThrow(
      /does not describe a stack/,
    );
  });

  it('KANDLE_STACK=compose without docker installed fails with the clear error, not the JVM record', async () => {
    const failure = resolveStack(loadConfig({ KANDLE_STACK: 'compose' }), {
      ...silent,
      stackFile: stackFileWith('{oops'), // never read: compose does not look for the JVM stack
      dockerCommand: NO_DOCKER,
    });
    await expect(failure).rejects.toThrow(ConfigError);
    await expect(failure).rejects.toThrow(/KANDLE_STACK=compose needs Docker .* missing the Docker CLI/);
  });

  it.runIf(NO_DOCKER_ENGINE)('KANDLE_STACK=compose fails with the clear error on this machine', async () => {
    await expect(resolveStack(loadConfig({ KANDLE_STACK: 'compose' }), silent)).rejects.toThrow(
      /KANDLE_STACK=compose needs Docker with the compose plugin, but this machine is missing (the Docker CLI|the Compose v2 plugin|a running Docker engine)/,
    );
  });
});

describe('COMPOSE_ADDRESSES', () => {
  const { resolved: compose } = loadCompose();
  const hostPortOf = (service: string, containerPort: number) => {
    const published = publishedPorts(compose.services[service] ?? {}).find((p) => p.containerPort === containerPort);
    return published && `${published.hostIp}:${published.hostPort}`;
  };

  it("are the compose brokers' EXTERNAL advertised listeners, in node order", () => {
    const external = kafkaBrokers(compose).map(([, broker]) => {
      const listener = parseListeners(environmentOf(broker).KAFKA_ADVERTISED_LISTENERS ?? '').find(
        (l) => l.name === 'EXTERNAL',
      );
      return listener && `${listener.host}:${listener.port}`;
    });
    expect(external.join(',')).toBe(COMPOSE_ADDRESSES.brokers);
  });

  it("are the registry's and InfluxDB's ports published on the host", () => {
    expect(`http://${hostPortOf('schema-registry', 8081)}`).toBe(COMPOSE_ADDRESSES.registryUrl);
    expect(`http://${hostPortOf('influxdb', 8181)}`).toBe(COMPOSE_ADDRESSES.influxHost);
  });

  it('name services the compose file defines', () => {
    for (const service of COMPOSE_KAFKA_SERVICES) expect(Object.keys(compose.services)).toContain(service);
  });
});
