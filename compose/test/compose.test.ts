// Compose tests: the Docker Compose stack is consistent without running Docker (brokers, listeners, replication, wiring, paths, ports).
import { existsSync, readFileSync } from 'node:fs';
import { join, posix, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { CONFIG_DEFAULTS } from '../../examples/pipeline/src/config';
import {
  COMPOSE_DIR,
  type ComposeFile,
  dependsOnOf,
  environmentOf,
  interpolate,
  kafkaBrokers,
  type Listener,
  loadCompose,
  mountsOf,
  parseListeners,
  parseProtocolMap,
  publishedPorts,
  type Service,
} from './compose-file';

const REPO_DIR = resolve(COMPOSE_DIR, '..');
const { text: composeText, resolved: compose, uses: variableUses } = loadCompose();

/** Every check returns the problems it found, so the same check can be shown failing on a broken copy. */
type Check = (file: ComposeFile) => string[];

function service(file: ComposeFile, name: string): Service {
  const found = file.services[name];
  if (!found) throw new Error(`service ${name} is not defined`);
  return found;
}

function brokerConfig(name: string, broker: Service) {
  const env = environmentOf(broker);
  const need = (key: string): string => {
    const value = env[key];
    if (value === undefined || value === '') throw new Error(`${name}: ${key} is not set`);
    return value;
  };
  const controllerNames = need('KAFKA_CONTROLLER_LISTENER_NAMES').split(',');
  return {
    env,
    nodeId: Number(need('KAFKA_NODE_ID')),
    clusterId: need('CLUSTER_ID'),
    voters: need('KAFKA_CONTROLLER_QUORUM_VOTERS'),
    roles: need('KAFKA_PROCESS_ROLES').split(','),
    listeners: parseListeners(need('KAFKA_LISTENERS')),
    advertised: parseListeners(need('KAFKA_ADVERTISED_LISTENERS')),
    protocols: parseProtocolMap(need('KAFKA_LISTENER_SECURITY_PROTOCOL_MAP')),
    controllerNames,
    interBroker: need('KAFKA_INTER_BROKER_LISTENER_NAME'),
  };
}

const checkQuorum: Check = (file) => {
  const problems: string[] = [];
  const brokers = kafkaBrokers(file).map(([name, broker]) => ({ name, broker, config: brokerConfig(name, broker) }));
  if (brokers.length !== 3) problems.push(`expected 3 brokers, found ${brokers.length}`);
  const clusterIds = new Set(brokers.map((b) => b.config.clusterId));
  if (clusterIds.size !== 1) problems.push(`brokers disagree on CLUSTER_ID: ${[...clusterIds].join(', ')}`);
  for (const id of clusterIds) {
    // kafka-storage format accepts only a base64url-encoded 16-byte UUID.
    if (!/^[A-Za-z0-9_-]{22}$/.test(id) || Buffer.from(id, 'base64url').length !== 16) {
      problems.push(`CLUSTER_ID ${id} is not a base64url UUID`);
    }
  }
  const voterLists = new Set(brokers.map((b) => b.config.voters));
  if (voterLists.size !== 1) problems.push(`brokers disagree on the quorum voters: ${[...voterLists].join(' | ')}`);
  const nodeIds = brokers.map((b) => b.config.nodeId);
  if (new Set(nodeIds).size !== nodeIds.length) problems.push(`node ids are not unique: ${nodeIds.join(', ')}`);
  // Each voter must be one of our nodes, reachable at its hostname on its controller listener, and vice versa.
  const expectedVoters = brokers
    .filter((b) => b.config.roles.includes('controller'))
    .map((b) => {
      const controller = b.config.listeners.find((l) => b.config.controllerNames.includes(l.name));
      return `${b.config.nodeId}@${b.broker.hostname ?? b.name}:${controller?.port ?? '?'}`;
    })
    .sort();
  for (const voters of voterLists) {
    const actual = voters.split(',').sort();
    if (actual.join(',') !== expectedVoters.join(',')) {
      problems.push(`voters ${actual.join(',')} do not match the controller nodes ${expectedVoters.join(',')}`);
    }
  }
  for (const b of brokers) {
    if (!b.config.roles.includes('broker')) problems.push(`${b.name} does not have the broker role`);
    if (b.broker.hostname !== b.name)
      problems.push(`${b.name} has hostname ${b.broker.hostname}, not its service name`);
  }
  return problems;
};

const checkListeners: Check = (file) => {
  const problems: string[] = [];
  const externalPorts = new Map<number, string>();
  for (const [name, broker] of kafkaBrokers(file)) {
    const c = brokerConfig(name, broker);
    const listenerNames = c.listeners.map((l) => l.name);
    const advertisedNames = c.advertised.map((l) => l.name);
    const say = (problem: string) => problems.push(`${name}: ${problem}`);
    if (new Set(listenerNames).size !== listenerNames.length) say(`duplicate listener in ${listenerNames.join(',')}`);
    for (const l of listenerNames) if (!(l in c.protocols)) say(`listener ${l} has no security protocol mapping`);
    for (const mapped of Object.keys(c.protocols)) {
      if (!listenerNames.includes(mapped)) say(`protocol map names ${mapped}, which is not a listener`);
    }
    for (const controller of c.controllerNames) {
      if (!listenerNames.includes(controller)) say(`controller listener ${controller} is not in listeners`);
      // Clients never talk to the controller listener, so brokers must not advertise it.
      if (advertisedNames.includes(controller)) say(`controller listener ${controller} is advertised`);
    }
    for (const listener of c.listeners) {
      if (c.controllerNames.includes(listener.name)) continue;
      const advertised = c.advertised.filter((a) => a.name === listener.name);
      if (advertised.length !== 1) say(`listener ${listener.name} is advertised ${advertised.length} times`);
    }
    for (const a of advertisedNames) if (!listenerNames.includes(a)) say(`advertised listener ${a} does not listen`);
    const byName = (list: Listener[], wanted: string) => list.find((l) => l.name === wanted);
    const inter = byName(c.advertised, c.interBroker);
    if (!inter) say(`inter-broker listener ${c.interBroker} is not advertised`);
    for (const onNetwork of [c.interBroker, 'DOCKER']) {
      const advertised = byName(c.advertised, onNetwork);
      const listening = byName(c.listeners, onNetwork);
      if (!advertised || !listening) {
        say(`no ${onNetwork} listener`);
        continue;
      }
      // Other containers resolve the service name; the port is the container port, no publishing involved.
      if (advertised.host !== name) say(`${onNetwork} advertises host ${advertised.host}, not ${name}`);
      if (advertised.port !== listening.port)
        say(`${onNetwork} advertises port ${advertised.port}, listens on ${listening.port}`);
    }
    const external = byName(c.advertised, 'EXTERNAL');
    const externalListening = byName(c.listeners, 'EXTERNAL');
    if (!external || !externalListening) {
      say('no EXTERNAL listener');
      continue;
    }
    if (external.host !== '127.0.0.1') say(`EXTERNAL advertises ${external.host}; host clients need 127.0.0.1`);
    // A host client dials the advertised port on 127.0.0.1: it must be published there and reach the EXTERNAL listener.
    const published = publishedPorts(broker).find((p) => p.hostPort === external.port);
    if (!published) say(`EXTERNAL port ${external.port} is not published`);
    else if (published.containerPort !== externalListening.port) {
      say(
        `host port ${external.port} reaches container port ${published.containerPort}, EXTERNAL listens on ${externalListening.port}`,
      );
    }
    const previous = externalPorts.get(external.port);
    if (previous) say(`EXTERNAL port ${external.port} is also ${previous}'s`);
    externalPorts.set(external.port, name);
  }
  return problems;
};

const checkReplication: Check = (file) => {
  const problems: string[] = [];
  const brokers = kafkaBrokers(file);
  const expected: Record<string, string> = {
    KAFKA_DEFAULT_REPLICATION_FACTOR: '3',
    KAFKA_MIN_INSYNC_REPLICAS: '2',
    KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR: '3',
    KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR: '3',
    KAFKA_TRANSACTION_STATE_LOG_MIN_ISR: '2',
  };
  for (const [name, broker] of brokers) {
    const env = environmentOf(broker);
    for (const [key, value] of Object.entries(expected)) {
      if (env[key] !== value) problems.push(`${name}: ${key} is ${env[key]}, expected ${value}`);
    }
    const rf = Number(env.KAFKA_DEFAULT_REPLICATION_FACTOR);
    if (rf > brokers.length) problems.push(`${name}: replication factor ${rf} exceeds the ${brokers.length} brokers`);
  }
  const registry = environmentOf(service(file, 'schema-registry'));
  if (registry.SCHEMA_REGISTRY_KAFKASTORE_TOPIC_REPLICATION_FACTOR !== '3') {
    problems.push('schema-registry: _schemas is not replicated 3 times');
  }
  return problems;
};

const checkClients: Check = (file) => {
  const problems: string[] = [];
  const onNetwork = kafkaBrokers(file)
    .map(([name, broker]) => brokerConfig(name, broker).advertised.find((l) => l.name === 'DOCKER'))
    .map((l) => `${l?.host}:${l?.port}`)
    .sort()
    .join(',');
  const list = (value: string | undefined) =>
    (value ?? '')
      .split(',')
      .map((entry) => entry.replace(/^[A-Z_]+:\/\//, ''))
      .sort()
      .join(',');
  const registry = environmentOf(service(file, 'schema-registry'));
  const ui = environmentOf(service(file, 'kafka-ui'));
  if (list(registry.SCHEMA_REGISTRY_KAFKASTORE_BOOTSTRAP_SERVERS) !== onNetwork) {
    problems.push(
      `schema-registry bootstraps from ${registry.SCHEMA_REGISTRY_KAFKASTORE_BOOTSTRAP_SERVERS}, not ${onNetwork}`,
    );
  }
  if (list(ui.KAFKA_CLUSTERS_0_BOOTSTRAPSERVERS) !== onNetwork) {
    problems.push(`kafka-ui bootstraps from ${ui.KAFKA_CLUSTERS_0_BOOTSTRAPSERVERS}, not ${onNetwork}`);
  }
  const registryPort = new URL(registry.SCHEMA_REGISTRY_LISTENERS ?? 'http://invalid').port;
  if (ui.KAFKA_CLUSTERS_0_SCHEMAREGISTRY !== `http://schema-registry:${registryPort}`) {
    problems.push(
      `kafka-ui uses registry ${ui.KAFKA_CLUSTERS_0_SCHEMAREGISTRY}, the registry listens on ${registryPort}`,
    );
  }
  return problems;
};

const checkHostPaths: Check = (file) => {
  const problems: string[] = [];
  for (const [name, svc] of Object.entries(file.services)) {
    for (const mount of mountsOf(svc)) {
      if (mount.isHostPath) {
        if (!existsSync(resolve(COMPOSE_DIR, mount.source))) problems.push(`${name}: ${mount.source} does not exist`);
      } else if (!(mount.source in (file.volumes ?? {}))) {
        problems.push(`${name}: volume ${mount.source} is not declared`);
      }
    }
    const envFiles = svc.env_file === undefined ? [] : Array.isArray(svc.env_file) ? svc.env_file : [svc.env_file];
    for (const envFile of envFiles) {
      const path = typeof envFile === 'string' ? envFile : envFile.path;
      if (!existsSync(resolve(COMPOSE_DIR, path))) problems.push(`${name}: env_file ${path} does not exist`);
    }
  }
  return problems;
};

const checkDependencies: Check = (file) => {
  const problems: string[] = [];
  for (const [name, svc] of Object.entries(file.services)) {
    for (const [dependency, { condition }] of Object.entries(dependsOnOf(svc))) {
      const target = file.services[dependency];
      if (!target) {
        problems.push(`${name} depends on ${dependency}, which is not defined`);
        continue;
      }
      if (condition === 'service_healthy' && !target.healthcheck) {
        problems.push(`${name} waits for ${dependency} to be healthy, which has no healthcheck`);
      }
      if (condition === 'service_completed_successfully' && target.restart !== 'no') {
        problems.push(`${name} waits for ${dependency} to complete, which restarts`);
      }
    }
  }
  return problems;
};

const checkHealthchecks: Check = (file) =>
  Object.entries(file.services)
    .filter(([, svc]) => svc.restart !== 'no' && !svc.healthcheck?.test)
    .map(([name]) => `${name} runs for good but has no healthcheck`);

const checkPorts: Check = (file) => {
  const problems: string[] = [];
  const owners = new Map<number, string>();
  for (const [name, svc] of Object.entries(file.services)) {
    for (const port of publishedPorts(svc)) {
      if (port.hostIp !== '127.0.0.1')
        problems.push(`${name}: port ${port.hostPort} is bound to ${port.hostIp ?? 'all interfaces'}`);
      const owner = owners.get(port.hostPort);
      if (owner) problems.push(`${name}: host port ${port.hostPort} is also ${owner}'s`);
      owners.set(port.hostPort, name);
    }
  }
  return problems;
};

const checkImages: Check = (file) => {
  const problems: string[] = [];
  const want: Record<string, RegExp> = {
    'kafka-1': /^apache\/kafka:4\.\d+\.\d+$/,
    'kafka-2': /^apache\/kafka:4\.\d+\.\d+$/,
    'kafka-3': /^apache\/kafka:4\.\d+\.\d+$/,
    'schema-registry': /^confluentinc\/cp-schema-registry:\d+\.\d+\.\d+$/,
    'kafka-ui': /^(kafbat\/kafka-ui|provectuslabs\/kafka-ui):v?\d+\.\d+\.\d+$/,
    influxdb: /^influxdb:3(\.\d+)*-core$/,
    grafana: /^grafana\/grafana:\d+\.\d+\.\d+$/,
    prometheus: /^prom\/prometheus:v\d+\.\d+\.\d+$/,
  };
  for (const [name, pattern] of Object.entries(want)) {
    const image = file.services[name]?.image;
    if (!image || !pattern.test(image)) problems.push(`${name}: image ${image} does not match ${pattern}`);
  }
  return problems;
};

const ALL_CHECKS: Record<string, Check> = {
  checkQuorum,
  checkListeners,
  checkReplication,
  checkClients,
  checkHostPaths,
  checkDependencies,
  checkHealthchecks,
  checkPorts,
  checkImages,
};

function readEnvExample(): Record<string, string> {
  const lines = readFileSync(join(COMPOSE_DIR, '.env.example'), 'utf8').split('\n');
  return Object.fromEntries(
    lines
      .map((line) => line.trim())
      .filter((line) => line !== '' && !line.startsWith('#'))
      .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
  );
}

describe('compose/docker-compose.yml', () => {
  it('parses and defines the whole stack', () => {
    expect(Object.keys(compose.services).sort()).toEqual(
      [
        'grafana',
        'influxdb',
        'influxdb-init',
        'kafka-1',
        'kafka-2',
        'kafka-3',
        'kafka-ui',
        'prometheus',
        'schema-registry',
      ].sort(),
    );
  });

  it.each(Object.entries(ALL_CHECKS))('%s finds nothing wrong', (_, check) => {
    expect(check(compose)).toEqual([]);
  });

  it('every interpolated variable has a default and is documented in .env.example, which lists nothing unused', () => {
    const documented = readEnvExample();
    const used = new Set(variableUses.map((use) => use.name));
    expect(variableUses.filter((use) => use.fallback === undefined).map((use) => use.name)).toEqual([]);
    expect([...used].filter((name) => !(name in documented))).toEqual([]);
    expect(Object.keys(documented).filter((name) => !used.has(name))).toEqual([]);
    // The defaults in the compose file are what .env.example shows, so copying it changes nothing by surprise.
    for (const use of variableUses) expect(`${use.name}=${use.fallback}`).toBe(`${use.name}=${documented[use.name]}`);
  });
});

describe('compose and the pipeline example on one host', () => {
  it('share the default database', () => {
    const fallbacks = variableUses.filter((use) => use.name === 'INFLUX_DATABASE').map((use) => use.fallback);
    expect(new Set(fallbacks)).toEqual(new Set([CONFIG_DEFAULTS.INFLUX_DATABASE]));
  });

  it("leave the live page's default port free", () => {
    const hostPorts = Object.values(compose.services).flatMap((svc) => publishedPorts(svc).map((p) => p.hostPort));
    expect(hostPorts).not.toContain(Number(CONFIG_DEFAULTS.KANDLE_PORT));
  });
});

describe('the checks catch a broken compose file', () => {
  // Each case breaks one thing in the real file's text; the named check must notice.
  const cases: Array<[string, keyof typeof ALL_CHECKS, (text: string) => string, string]> = [
    [
      'a broker with its own node id twice',
      'checkQuorum',
      (t) => t.replace('KAFKA_NODE_ID: 2', 'KAFKA_NODE_ID: 1'),
      'node ids are not unique',
    ],
    [
      'a voter on the wrong port',
      'checkQuorum',
      (t) => t.replace('3@kafka-3:9093', '3@kafka-3:9094'),
      'do not match the controller nodes',
    ],
    [
      'a broker with a different cluster id',
      'checkQuorum',
      (t) => t.replace('KAFKA_NODE_ID: 3', 'KAFKA_NODE_ID: 3\n      CLUSTER_ID: AAAAAAAAAAAAAAAAAAAAAA'),
      'disagree on CLUSTER_ID',
    ],
    [
      'an unadvertised listener',
      'checkListeners',
      (t) => t.replace(',DOCKER://kafka-2:9092', ''),
      'DOCKER is advertised 0 times',
    ],
    [
      'a listener without protocol',
      'checkListeners',
      (t) => t.replace(',DOCKER:PLAINTEXT', ''),
      'has no security protocol mapping',
    ],
    [
      'an unpublished EXTERNAL port',
      'checkListeners',
      (t) => t.replace('127.0.0.1:29093:29093', '127.0.0.1:29093:29099'),
      'EXTERNAL listens on 29093',
    ],
    [
      'an advertised controller',
      'checkListeners',
      (t) => t.replace('INTERNAL://kafka-1:19092,', 'CONTROLLER://kafka-1:9093,INTERNAL://kafka-1:19092,'),
      'CONTROLLER is advertised',
    ],
    [
      'min ISR 1',
      'checkReplication',
      (t) => t.replace('KAFKA_MIN_INSYNC_REPLICAS: 2', 'KAFKA_MIN_INSYNC_REPLICAS: 1'),
      'KAFKA_MIN_INSYNC_REPLICAS is 1',
    ],
    [
      'RF 2',
      'checkReplication',
      (t) => t.replace('KAFKA_DEFAULT_REPLICATION_FACTOR: 3', 'KAFKA_DEFAULT_REPLICATION_FACTOR: 2'),
      'KAFKA_DEFAULT_REPLICATION_FACTOR is 2',
    ],
    [
      'a UI missing a broker',
      'checkClients',
      (t) => t.replace('kafka-1:9092,kafka-2:9092,kafka-3:9092', 'kafka-1:9092,kafka-2:9092'),
      'kafka-ui bootstraps from',
    ],
    [
      'a missing host path',
      'checkHostPaths',
      (t) => t.replace('./grafana/dashboards:', './grafana/dashboard:'),
      './grafana/dashboard does not exist',
    ],
    [
      'an undeclared volume',
      'checkHostPaths',
      (t) => t.replace('  grafana-data:\n', ''),
      'grafana-data is not declared',
    ],
    [
      'a dependency on nothing',
      'checkDependencies',
      (t) => t.replace('influxdb-init: { condition', 'influx-init: { condition'),
      'influx-init, which is not defined',
    ],
    [
      'a port on every interface',
      'checkPorts',
      (t) => t.replace('127.0.0.1:3000:3000', '3000:3000'),
      'bound to all interfaces',
    ],
    [
      'an unpinned image',
      'checkImages',
      (t) => t.replace('grafana/grafana:13.2.3', 'grafana/grafana:latest'),
      'grafana/grafana:latest does not match',
    ],
  ];

  it.each(cases)('%s', (_, checkName, breakIt, symptom) => {
    const broken = breakIt(composeText);
    expect(broken).not.toBe(composeText);
    const check = ALL_CHECKS[checkName] as Check;
    expect(check(loadCompose({}, broken).resolved).join('\n')).toContain(symptom);
  });
});

describe('Grafana provisioning', () => {
  const grafana = service(compose, 'grafana');
  const grafanaEnv = environmentOf(grafana);
  const provisioning = join(COMPOSE_DIR, 'grafana/provisioning');
  const datasourceFile = parse(readFileSync(join(provisioning, 'datasources/influxdb.yml'), 'utf8'));
  const providerFile = parse(readFileSync(join(provisioning, 'dashboards/kandle.yml'), 'utf8'));
  const mountTarget = (source: string) => mountsOf(grafana).find((m) => m.source === source)?.target;

  it('mounts the provisioning folder where Grafana reads it', () => {
    expect(mountTarget('./grafana/provisioning')).toBe('/etc/grafana/provisioning');
  });

  it('points the InfluxDB datasource at the influxdb service, in SQL mode, on the database the sink writes', () => {
    expect(datasourceFile.datasources).toHaveLength(1);
    const ds = datasourceFile.datasources[0];
    expect(ds.type).toBe('influxdb');
    expect(ds.jsonData.version).toBe('SQL');
    // Flight SQL over plain gRPC: the compose InfluxDB has no TLS.
    expect(ds.jsonData.insecureGrpc).toBe(true);
    const url = new URL(ds.url);
    expect(url.hostname).toBe('influxdb');
    expect(publishedPorts(service(compose, 'influxdb')).map((p) => p.containerPort)).toContain(Number(url.port));
    // Grafana expands $VARS in provisioning files from its own environment.
    const database = interpolate(ds.jsonData.dbName, grafanaEnv);
    expect(database).not.toBe('');
    expect(database).toBe(environmentOf(service(compose, 'influxdb-init')).INFLUX_DATABASE);
  });

  it('takes the token from the environment, never from the file', () => {
    const token: string = datasourceFile.datasources[0].secureJsonData.token;
    expect(token).toMatch(/^\$\{?INFLUX_TOKEN\}?$/);
    expect(interpolate(token, grafanaEnv)).not.toBe('');
  });

  it('loads dashboards from the folder compose mounts, which holds the home dashboard', () => {
    const provider = providerFile.providers[0];
    expect(provider.type).toBe('file');
    const target = mountTarget('./grafana/dashboards');
    expect(provider.options.path).toBe(target);
    const home = grafanaEnv.GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH ?? '';
    expect(posix.dirname(home)).toBe(target);
    expect(existsSync(join(COMPOSE_DIR, 'grafana/dashboards', posix.basename(home)))).toBe(true);
  });
});

describe('docs/compose.md', () => {
  const docs = readFileSync(join(REPO_DIR, 'docs/compose.md'), 'utf8');

  it('names every service and every published port', () => {
    const missing: string[] = [];
    for (const [name, svc] of Object.entries(compose.services)) {
      if (!docs.includes(`\`${name}\``)) missing.push(name);
      for (const port of publishedPorts(svc))
        if (!docs.includes(String(port.hostPort))) missing.push(`${name}:${port.hostPort}`);
    }
    expect(missing).toEqual([]);
  });

  it('shows the command that starts the stack', () => {
    expect(docs).toContain('docker compose -f compose/docker-compose.yml up -d');
  });
});
