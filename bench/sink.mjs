// Bench sink step: points per second per core of sink CPU, createInfluxSink against a loopback HTTP server answering 204.
import { createServer } from 'node:http';
import { spawnChild } from './child.mjs';

/**
 * Runs the sink in a child process (so its CPU is the sink's alone) against a server in this process that reads each
 * request body and answers 204, as InfluxDB does for an accepted write. `rounds` runs, each in a fresh child.
 */
export async function benchSink({ points, rounds, log }) {
  let requests = 0;
  let bytes = 0;
  const server = createServer((req, res) => {
    requests++;
    req.on('data', (chunk) => {
      bytes += chunk.length;
    });
    req.on('end', () => {
      res.statusCode = 204;
      res.end();
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${server.address().port}`;
  const runs = [];
  try {
    for (let round = 1; round <= rounds; round++) {
      const child = spawnChild(log);
      try {
        const run = await child.call('sink:run', {
          url,
          points,
          warmup: Math.min(points, 50_000),
          chunk: 500,
          window: 4,
        });
        if (run.failedPoints > 0 || run.pointsWritten < points) throw new Error(`bench: the sink lost points`);
        runs.push(run);
        log(
          `  sink round ${round}: ${Math.round(run.pointsPerCoreSecond).toLocaleString('en-US')} points/s per core ` +
            `(${Math.round(run.pointsPerSecond).toLocaleString('en-US')} points/s wall, ${run.cpu.usPerRecord.toFixed(2)} µs CPU/point, ` +
            `${run.batchesWritten} requests, rss ${run.memory.rssMiB.toFixed(0)} MiB)`,
        );
      } finally {
        await child.end();
      }
    }
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
  const sorted = [...runs].sort((a, b) => a.pointsPerCoreSecond - b.pointsPerCoreSecond);
  return {
    server: 'loopback node:http server answering 204 (in the bench process)',
    sinkSettings:
      'createInfluxSink defaults: batchSize 1000, gzipThreshold 1000 bytes; write() calls of 500 updates, 4 pending',
    points,
    median: sorted[Math.floor((sorted.length - 1) / 2)],
    rounds: runs,
    requests,
    bytes,
  };
}
