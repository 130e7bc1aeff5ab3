// Local stack: starts/stops the 3-broker Kafka cluster and the schema registry without Docker (`npm run stack:up|down|status`).
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const stackDir = join(root, '.kandle', 'stack');
const stateFile = join(stackDir, 'stack.json');
const testing = () => import(join(root, 'packages/local-stack/dist/index.js'));

function env(name, fallback) {
  const value = process.env[name];
  return value === undefined || value === '' ? fallback : Number(value);
}

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Starts the stack in the background and records it in .kandle/stack/stack.json; returns its addresses. */
export async function up({ quiet = false } = {}) {
  if (existsSync(stateFile)) {
    const state = JSON.parse(readFileSync(stateFile, 'utf8'));
    if (alive(state.registry.pid) && (await status({ quiet: true })).healthy) {
      if (!quiet) print(state, 'already running');
      return state;
    }
    await down({ quiet: true });
  }
  const { startKafkaCluster, startSchemaRegistry } = await testing();
  mkdirSync(stackDir, { recursive: true });
  const started = Date.now();
  const [cluster, registry] = await Promise.all([
    startKafkaCluster({
      dir: join(stackDir, 'kafka'),
      brokers: env('KANDLE_BROKERS', 3),
      partitions: env('KANDLE_PARTITIONS', 2),
      minInsyncReplicas: env('KANDLE_MIN_ISR', 2),
      basePort: env('KANDLE_KAFKA_BASE_PORT', 19092),
      detached: true,
    }),
    startSchemaRegistry({ port: env('KANDLE_REGISTRY_PORT', 18081), logDir: join(stackDir, 'logs'), detached: true }),
  ]);
  const state = {
    kafka: { dir: cluster.dir, bootstrapServers: cluster.bootstrapServers, logs: join(cluster.dir, 'logs') },
    registry: { url: registry.url, pid: registry.pid, logFile: registry.logFile },
    startedInMs: Date.now() - started,
  };
  writeFileSync(stateFile, JSON.stringify(state, null, 2));
  if (!quiet) print(state, `started in ${state.startedInMs} ms`);
  return state;
}

/** Stops everything `up` started and removes its data. */
export async function down({ quiet = false } = {}) {
  if (!existsSync(stateFile)) {
    if (!quiet) console.log('kandle stack: not running');
    return;
  }
  const state = JSON.parse(readFileSync(stateFile, 'utf8'));
  const { attachKafkaCluster } = await testing();
  if (existsSync(join(state.kafka.dir, 'cluster.json')))
    await attachKafkaCluster(state.kafka.dir).stop({ removeData: true });
  if (alive(state.registry.pid)) {
    process.kill(state.registry.pid, 'SIGTERM');
    for (let i = 0; i < 150 && alive(state.registry.pid); i++) await new Promise((r) => setTimeout(r, 100));
    if (alive(state.registry.pid)) process.kill(state.registry.pid, 'SIGKILL');
  }
  rmSync(stateFile, { force: true });
  if (!quiet) console.log('kandle stack: stopped');
}

/** Reports whether every broker and the registry are running. */
export async function status({ quiet = false } = {}) {
  if (!existsSync(stateFile)) {
    if (!quiet) console.log('kandle stack: not running');
    return { healthy: false };
  }
  const state = JSON.parse(readFileSync(stateFile, 'utf8'));
  const { attachKafkaCluster } = await testing();
  const cluster = attachKafkaCluster(state.kafka.dir);
  const brokers = cluster.brokers.map((b) => ({ id: b.id, port: b.port, running: cluster.isRunning(b.id) }));
  const registryUp = alive(state.registry.pid);
  const healthy = brokers.every((b) => b.running) && registryUp;
  if (!quiet) {
    for (const b of brokers) console.log(`broker ${b.id}  127.0.0.1:${b.port}  ${b.running ? 'running' : 'STOPPED'}`);
    console.log(`registry  ${state.registry.url}  ${registryUp ? 'running' : 'STOPPED'}`);
  }
  return { healthy, state };
}

function print(state, what) {
  console.log(`kandle stack ${what}
  KAFKA_BROKERS=${state.kafka.bootstrapServers}
  SCHEMA_REGISTRY_URL=${state.registry.url}
  logs: ${state.kafka.logs}, ${state.registry.logFile}
  stop with: npm run stack:down`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const command = process.argv[2] ?? 'status';
  const actions = { up, down, status };
  if (!actions[command]) {
    console.error(`usage: node scripts/stack.mjs up|down|status`);
    process.exit(2);
  }
  actions[command]().then(
    () => process.exit(0),
    (e) => {
      console.error(`kandle stack ${command} failed: ${e.message}`);
      process.exit(1);
    },
  );
}
