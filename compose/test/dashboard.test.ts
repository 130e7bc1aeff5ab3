// Dashboard tests: the provisioned Grafana dashboard type-checks and queries exactly what the sink writes, through the provisioned datasource.
// biome-ignore-all lint/suspicious/noTemplateCurlyInString: the cases quote Grafana's ${variable} syntax, not JS templates.
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import {
  LegendDisplayMode,
  SortOrder,
  TooltipDisplayMode,
  VariableRefresh,
  VariableSort,
  type VariableType,
} from '@grafana/schema';
import {
  CandleStyle,
  ColorStrategy,
  VizDisplayMode,
} from '@grafana/schema/dist/esm/raw/composable/candlestick/panelcfg/x/CandlestickPanelCfg_types.gen';
import { type CandleInterval, parseInterval } from '@kandle/core';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { CONFIG_DEFAULTS } from '../../examples/pipeline/src/config';
import { COMPOSE_DIR } from './compose-file';
import { dashboard } from './dashboard.typecheck';
import { sinkColumns } from './sink-columns';
import { checkSqlNames, sqlNames, variableRefs } from './sql-names';

type DashboardJson = typeof dashboard;
type Check = (board: DashboardJson) => string[];

const DASHBOARD_FILE = join(COMPOSE_DIR, 'grafana/dashboards/candles.json');
const DASHBOARD_TEXT = readFileSync(DASHBOARD_FILE, 'utf8');
const DATASOURCE = parse(readFileSync(join(COMPOSE_DIR, 'grafana/provisioning/datasources/influxdb.yml'), 'utf8'))
  .datasources[0] as { uid: string; type: string };
const SCHEMA = sinkColumns();

/** Every SQL text of the dashboard: panel targets and query variables, with where it comes from. */
function queriesOf(board: DashboardJson): Array<{ where: string; sql: string }> {
  const queries: Array<{ where: string; sql: string }> = [];
  for (const panel of board.panels) {
    for (const target of panel.targets ?? []) {
      queries.push({ where: `panel ${panel.id} target ${String(target.refId)}`, sql: String(target.rawSql) });
    }
  }
  for (const variable of board.templating?.list ?? []) {
    if (variable.type === 'query' && typeof variable.query === 'object') {
      queries.push({ where: `variable ${variable.name}`, sql: String((variable.query as { query: unknown }).query) });
    }
  }
  return queries;
}

const panelSql = (panel: DashboardJson['panels'][number]) =>
  (panel.targets ?? []).map((t) => String(t.rawSql)).join('\n');
const variable = (board: DashboardJson, name: string) => board.templating?.list?.find((v) => v.name === name);

/** `'5 minutes'` → 300000: the SQL INTERVAL strings the interval variable feeds to DATE_BIN. */
function sqlIntervalMs(text: string): number {
  const match = /^(\d+) (second|minute|hour|day)s?$/.exec(text);
  if (!match) return Number.NaN;
  const unit = { second: 1_000, minute: 60_000, hour: 3_600_000, day: 86_400_000 }[match[2] as string] as number;
  return Number(match[1]) * unit;
}

const checkQueries: Check = (board) =>
  queriesOf(board).flatMap(({ where, sql }) => checkSqlNames(sql, SCHEMA).map((p) => `${where}: ${p}`));

const checkVariables: Check = (board) => {
  const problems: string[] = [];
  const defined = new Set((board.templating?.list ?? []).map((v) => v.name));
  for (const required of ['symbol', 'interval']) if (!defined.has(required)) problems.push(`no ${required} variable`);
  for (const { where, sql } of queriesOf(board)) {
    for (const ref of variableRefs(sql)) {
      if (!defined.has(ref.name)) problems.push(`${where} uses undefined variable ${ref.name}`);
      if (ref.format !== undefined && !['sqlstring', 'text'].includes(ref.format)) {
        problems.push(`${where} formats ${ref.name} as ${ref.format}`);
      }
    }
  }
  for (const panel of board.panels) {
    const used = new Set(variableRefs(panelSql(panel)).map((ref) => ref.name));
    for (const required of ['symbol', 'interval']) {
      if (!used.has(required)) problems.push(`panel ${panel.id} does not filter by ${required}`);
    }
    // The value of `interval` is SQL ('5 minutes'), its text the sink's tag ('5m'): each belongs in one place only.
    const sql = panelSql(panel);
    const misplaced = sql
      .replace(/INTERVAL '\$\{interval\}'/g, '')
      .replace(/"interval" = '\$\{interval:text\}'/g, '')
      .match(/\$\{?interval\b[^}]*\}?/g);
    if (misplaced)
      problems.push(`panel ${panel.id} uses ${misplaced.join(', ')} outside INTERVAL '…' or "interval" = '…'`);
  }
  return problems;
};

const checkIntervals: Check = (board) => {
  const problems: string[] = [];
  const interval = variable(board, 'interval');
  if (!interval) return ['no interval variable'];
  const options = interval.options ?? [];
  const fromQuery = String(interval.query)
    .split(',')
    .map((pair) => pair.split(' : ').map((part) => part.trim()));
  if (JSON.stringify(fromQuery) !== JSON.stringify(options.map((o) => [o.text, o.value]))) {
    problems.push(`interval options ${JSON.stringify(options)} differ from its query ${interval.query}`);
  }
  for (const option of options) {
    const text = String(option.text);
    let candleMs = Number.NaN;
    try {
      candleMs = parseInterval(text as CandleInterval);
    } catch {
      problems.push(`interval text ${text} is not a candle interval`);
    }
    if (sqlIntervalMs(String(option.value)) !== candleMs) {
      problems.push(
        `interval ${text} is ${candleMs} ms but its SQL value '${option.value}' is ${sqlIntervalMs(String(option.value))} ms`,
      );
    }
  }
  const current = interval.current;
  if (!options.some((o) => o.text === current?.text && o.value === current?.value)) {
    problems.push(`current interval ${JSON.stringify(current)} is not an option`);
  }
  return problems;
};

const checkCandlesticks: Check = (board) => {
  const problems: string[] = [];
  for (const panel of board.panels) {
    if (panel.type !== 'candlestick') problems.push(`panel ${panel.id} is a ${panel.type}`);
    const aliases = new Set(sqlNames(panelSql(panel)).aliases);
    if (!aliases.has('_time')) problems.push(`panel ${panel.id} selects no _time column`);
    const fields: Record<string, string | undefined> = panel.options.fields;
    const dimensions = panel.options.mode.includes('volume')
      ? ['open', 'high', 'low', 'close', 'volume']
      : ['open', 'high', 'low', 'close'];
    for (const dimension of dimensions) {
      const column = fields[dimension];
      if (column === undefined || !aliases.has(column)) {
        problems.push(`panel ${panel.id} maps ${dimension} to ${column}, which its query does not select`);
      }
    }
  }
  return problems;
};

const checkDatasources: Check = (board) => {
  const problems: string[] = [];
  const visit = (value: unknown, path: string): void => {
    if (Array.isArray(value)) {
      value.forEach((item, i) => {
        visit(item, `${path}[${i}]`);
      });
    } else if (value !== null && typeof value === 'object') {
      for (const [key, item] of Object.entries(value)) {
        if (key === 'datasource') {
          const ref = item as { type?: string; uid?: string };
          if (ref.uid !== DATASOURCE.uid || ref.type !== DATASOURCE.type) {
            problems.push(
              `${path}.datasource is ${JSON.stringify(ref)}, not the provisioned ${DATASOURCE.type}/${DATASOURCE.uid}`,
            );
          }
        } else visit(item, `${path}.${key}`);
      }
    }
  };
  visit(board, 'dashboard');
  for (const panel of board.panels) if (!panel.datasource) problems.push(`panel ${panel.id} has no datasource`);
  return problems;
};

/** The values of a TypeScript enum object: its numbers for a numeric enum (whose object also maps them back to names). */
function enumValues(enumObject: object): unknown[] {
  const values = Object.values(enumObject);
  return values.some((v) => typeof v === 'number') ? values.filter((v) => typeof v === 'number') : values;
}
// Every member of the schema's VariableType union; `satisfies` plus the exhaustiveness type keep the list honest.
const VARIABLE_TYPES = [
  'query',
  'adhoc',
  'groupby',
  'constant',
  'datasource',
  'interval',
  'textbox',
  'custom',
  'system',
  'snapshot',
  'switch',
] as const satisfies readonly VariableType[];
const allVariableTypesListed: Exclude<VariableType, (typeof VARIABLE_TYPES)[number]> extends never ? true : never =
  true;

/** The values JSON typing widens to `string`/`number`: each must be one the schema's enums and unions allow. */
const checkEnumValues: Check = (board) => {
  const problems: string[] = [];
  const expectIn = (where: string, value: unknown, allowed: readonly unknown[]) => {
    if (value !== undefined && !allowed.includes(value))
      problems.push(`${where} is ${JSON.stringify(value)}, not one of ${allowed.join(', ')}`);
  };
  for (const panel of board.panels) {
    const o = panel.options;
    expectIn(`panel ${panel.id} candleStyle`, o.candleStyle, enumValues(CandleStyle));
    expectIn(`panel ${panel.id} colorStrategy`, o.colorStrategy, enumValues(ColorStrategy));
    expectIn(`panel ${panel.id} mode`, o.mode, enumValues(VizDisplayMode));
    expectIn(`panel ${panel.id} legend.displayMode`, o.legend.displayMode, enumValues(LegendDisplayMode));
    expectIn(`panel ${panel.id} legend.placement`, o.legend.placement, ['bottom', 'right']);
    expectIn(`panel ${panel.id} tooltip.mode`, o.tooltip.mode, enumValues(TooltipDisplayMode));
    expectIn(`panel ${panel.id} tooltip.sort`, o.tooltip.sort, enumValues(SortOrder));
  }
  for (const v of board.templating?.list ?? []) {
    expectIn(`variable ${v.name} type`, v.type, VARIABLE_TYPES);
    expectIn(`variable ${v.name} refresh`, v.refresh, enumValues(VariableRefresh));
    expectIn(`variable ${v.name} sort`, v.sort, enumValues(VariableSort));
  }
  return problems;
};

const ALL_CHECKS: Record<string, Check> = {
  checkQueries,
  checkVariables,
  checkIntervals,
  checkCandlesticks,
  checkDatasources,
  checkEnumValues,
};

describe('compose/grafana/dashboards/candles.json', () => {
  it('is the file the type-checked module imports', () => {
    expect(dashboard).toEqual(JSON.parse(DASHBOARD_TEXT));
    expect(allVariableTypesListed).toBe(true);
  });

  it('reads the sink schema off the sink itself', () => {
    // Guards the derivation: if it returned nothing, every name check below would be vacuous.
    expect(SCHEMA.candles?.fields).toEqual(expect.arrayContaining(['open', 'high', 'low', 'close', 'volume']));
    expect(SCHEMA.tickers?.fields).toContain('close_price');
    expect(SCHEMA.trades?.tags).toContain('symbol');
  });

  it('offers every candle interval the pipeline example computes by default', () => {
    const offered = (variable(dashboard, 'interval')?.options ?? []).map((option) => option.text);
    expect(offered).toEqual(expect.arrayContaining(CONFIG_DEFAULTS.KANDLE_INTERVALS.split(',')));
  });

  it('has a panel over each measurement the sink writes', () => {
    const measurements = dashboard.panels.flatMap((panel) => sqlNames(panelSql(panel)).measurements);
    expect(measurements.sort()).toEqual(Object.keys(SCHEMA).sort());
  });

  it.each(Object.entries(ALL_CHECKS))('%s finds nothing wrong', (_, check) => {
    expect(check(dashboard)).toEqual([]);
  });
});

describe('the checks catch a broken dashboard', () => {
  // Each case edits the real file's text; the named check must report the symptom.
  const cases: Array<[string, keyof typeof ALL_CHECKS, string, string, string]> = [
    [
      'a field the sink does not write',
      'checkQueries',
      'first_value(close_price ORDER BY time)',
      'first_value(closing_price ORDER BY time)',
      'column closing_price',
    ],
    ['a tag the sink does not write', 'checkQueries', '\\"source\\" IN', '\\"origin\\" IN', 'column origin'],
    [
      'a measurement the sink does not write',
      'checkQueries',
      'FROM \\"trades\\"',
      'FROM \\"trade\\"',
      'measurement trade',
    ],
    [
      'a panel that ignores the symbol',
      'checkVariables',
      'FROM \\"tickers\\"\\nWHERE \\"symbol\\" IN (${symbol:sqlstring}) AND',
      'FROM \\"tickers\\"\\nWHERE',
      'does not filter by symbol',
    ],
    [
      'an undefined variable',
      'checkVariables',
      '${source:sqlstring}',
      '${origin:sqlstring}',
      'undefined variable origin',
    ],
    [
      'the interval value compared with the tag',
      'checkVariables',
      "= '${interval:text}' AND \\\"source",
      "= '${interval}' AND \\\"source",
      'outside INTERVAL',
    ],
    [
      'an interval whose SQL width differs',
      'checkIntervals',
      '"value": "5 minutes"',
      '"value": "6 minutes"',
      'differ from its query',
    ],
    ['a width the aggregator does not know', 'checkIntervals', '"text": "1h"', '"text": "1w"', 'not a candle interval'],
    [
      'a field map to a column the query lacks',
      'checkCandlesticks',
      'AS \\"Open\\", \\"high\\"',
      'AS \\"Opening\\", \\"high\\"',
      'maps open to Open',
    ],
    [
      'a target on another datasource',
      'checkDatasources',
      '"uid": "kandle-influxdb"',
      '"uid": "other"',
      'not the provisioned',
    ],
    [
      'an unknown candle style',
      'checkEnumValues',
      '"candleStyle": "candles"',
      '"candleStyle": "candle"',
      'candleStyle is "candle"',
    ],
  ];

  it.each(cases)('%s', (_, checkName, find, replacement, symptom) => {
    expect(DASHBOARD_TEXT).toContain(find);
    const broken = JSON.parse(DASHBOARD_TEXT.replace(find, replacement)) as DashboardJson;
    const check = ALL_CHECKS[checkName] as Check;
    expect(check(broken).join('\n')).toContain(symptom);
  });
});

describe('type-checking against @grafana/schema', { timeout: 60_000 }, () => {
  const REPO_DIR = resolve(COMPOSE_DIR, '..');
  const compilerOptions = (() => {
    const parsed = ts.getParsedCommandLineOfConfigFile(
      join(REPO_DIR, 'tsconfig.json'),
      {},
      {
        ...ts.sys,
        onUnRecoverableConfigFileDiagnostic: (d) => {
          throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n'));
        },
      },
    );
    if (!parsed) throw new Error('cannot read tsconfig.json');
    // The dashboard needs neither the DOM nor Node's declarations; leaving them out halves the time of a run.
    return { ...parsed.options, noEmit: true, lib: ['lib.es2023.d.ts'], types: [] };
  })();
  const sourceFiles = new Map<string, ts.SourceFile | undefined>();

  /** What `tsc -p tsconfig.json` reports for dashboard.typecheck.ts when candles.json holds `json`. */
  function typecheck(json: string): string[] {
    const host = ts.createCompilerHost(compilerOptions);
    const readFile = host.readFile.bind(host);
    host.readFile = (file) => (resolve(file) === DASHBOARD_FILE ? json : readFile(file));
    const getSourceFile = host.getSourceFile.bind(host);
    // The libraries' declarations are parsed once for every run; only the JSON changes between runs.
    host.getSourceFile = (file, languageVersion, ...rest) => {
      if (resolve(file) === DASHBOARD_FILE) return getSourceFile(file, languageVersion, ...rest);
      if (!sourceFiles.has(file)) sourceFiles.set(file, getSourceFile(file, languageVersion, ...rest));
      return sourceFiles.get(file);
    };
    const program = ts.createProgram({
      rootNames: [join(COMPOSE_DIR, 'test/dashboard.typecheck.ts')],
      options: compilerOptions,
      host,
    });
    return ts.getPreEmitDiagnostics(program).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
  }

  it('accepts the dashboard', () => {
    expect(typecheck(DASHBOARD_TEXT)).toEqual([]);
  });

  it.each([
    ['a misspelt panel key', '"gridPos"', '"gridpos"'],
    ['a missing required candlestick option', '"candleStyle": "candles",', ''],
    ['a number where the schema wants a string', '"refresh": "10s"', '"refresh": 10'],
  ])('rejects %s', (_, find, replacement) => {
    expect(DASHBOARD_TEXT).toContain(find);
    expect(typecheck(DASHBOARD_TEXT.replace(find, replacement)).length).toBeGreaterThan(0);
  });
});
