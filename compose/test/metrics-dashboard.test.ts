// Metrics-dashboard tests: Prometheus scrapes the job's /metrics, and every panel of the metrics dashboard reads a metric it exports.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { InfluxSink } from '@kandle/influx-sink';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { CONFIG_DEFAULTS } from '../../examples/pipeline/src/config';
import { createPipelineMetrics } from '../../examples/pipeline/src/metrics';
import { COMPOSE_DIR, loadCompose, mountsOf } from './compose-file';

interface Target {
  expr: string;
  datasource: { uid: string };
}
interface Panel {
  id: number;
  type: string;
  datasource?: { type: string; uid: string };
  targets?: Target[];
}

const board = JSON.parse(readFileSync(join(COMPOSE_DIR, 'grafana/dashboards/metrics.json'), 'utf8')) as {
  uid: string;
  panels: Panel[];
};
const datasource = parse(readFileSync(join(COMPOSE_DIR, 'grafana/provisioning/datasources/prometheus.yml'), 'utf8'))
  .datasources[0] as { uid: string; type: string; url: string };
const prometheusConfig = parse(readFileSync(join(COMPOSE_DIR, 'prometheus/prometheus.yml'), 'utf8'));
const compose = loadCompose().resolved;

/** The metric families the pipeline really exports (with a sink, so the sink's are there too). */
async function exportedFamilies(): Promise<Set<string>> {
  const sinkStats = { pointsWritten: 0, retries: 0, failedPoints: 0, pendingPoints: 0 };
  const sink = { stats: () => sinkStats } as unknown as InfluxSink;
  const text = await createPipelineMetrics({ producer: () => undefined, consumers: () => [], sink }).render();
  return new Set([...text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1] as string));
}

/** `kandle_…` names in a PromQL expression, histogram series suffixes mapped to their family. */
function metricNames(expr: string): string[] {
  return [...expr.matchAll(/\bkandle_[a-z_]+/g)].map((m) => m[0].replace(/_(bucket|count|sum)$/, ''));
}

describe('compose/grafana/dashboards/metrics.json', () => {
  const charts = board.panels.filter((p) => p.type !== 'row');

  it('is one row of panels, each on the provisioned Prometheus datasource', () => {
    expect(board.panels.filter((p) => p.type === 'row')).toHaveLength(1);
    expect(charts.length).toBeGreaterThanOrEqual(6);
    expect(datasource.type).toBe('prometheus');
    for (const panel of charts) {
      expect(panel.datasource?.uid).toBe(datasource.uid);
      for (const target of panel.targets ?? []) expect(target.datasource.uid).toBe(datasource.uid);
    }
  });

  it('queries only metrics the pipeline exports, and shows every kandle_ family it exports', async () => {
    const exported = await exportedFamilies();
    const used = new Set(charts.flatMap((p) => (p.targets ?? []).flatMap((t) => metricNames(t.expr))));
    expect([...used].filter((name) => !exported.has(name))).toEqual([]);
    const kandleFamilies = [...exported].filter((name) => name.startsWith('kandle_'));
    expect(kandleFamilies.filter((name) => !used.has(name))).toEqual([]);
  });
});

describe('Prometheus in compose', () => {
  it("scrapes the job's /metrics on the live page's default port, on the host", () => {
    const job = prometheusConfig.scrape_configs.find((c: { job_name: string }) => c.job_name === 'kandle-pipeline');
    expect(job.metrics_path).toBe('/metrics');
    expect(job.static_configs[0].targets).toEqual([`host.docker.internal:${CONFIG_DEFAULTS.KANDLE_PORT}`]);
    const prometheus = compose.services.prometheus as { extra_hosts?: string[] };
    expect(prometheus.extra_hosts).toContain('host.docker.internal:host-gateway');
  });

  it('mounts that config where Prometheus reads it, and Grafana reaches the service by name', () => {
    const prometheus = compose.services.prometheus;
    if (!prometheus) throw new Error('no prometheus service');
    const mount = mountsOf(prometheus).find((m) => m.source === './prometheus/prometheus.yml');
    expect(mount?.target).toBe('/etc/prometheus/prometheus.yml');
    expect(prometheus.command).toContain(`--config.file=${mount?.target}`);
    expect(new URL(datasource.url).hostname).toBe('prometheus');
  });
});
