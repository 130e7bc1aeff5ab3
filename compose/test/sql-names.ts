// Dashboard tests: which measurement, columns, aliases and Grafana variables a panel's InfluxDB SQL names, checked against the sink's.
import type { MeasurementColumns } from './sink-columns';

export type SqlToken =
  | { kind: 'word'; text: string }
  | { kind: 'ident'; text: string }
  | { kind: 'string'; text: string }
  | { kind: 'number'; text: string }
  | { kind: 'macro'; text: string; args: string[] }
  | { kind: 'variable'; text: string }
  | { kind: 'punct'; text: string };

/** A Grafana template variable reference: `$name`, `${name}` or `${name:format}`. */
export interface VariableRef {
  name: string;
  format?: string;
}

const VARIABLE = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::([A-Za-z0-9_]+))?\}|\$(?!__)([A-Za-z_][A-Za-z0-9_]*)/g;

/** Variable references in any text (a query, a string literal, a panel title). Macros (`$__…`) are not variables. */
export function variableRefs(text: string): VariableRef[] {
  return [...text.matchAll(VARIABLE)].map((m) => {
    const name = (m[1] ?? m[3]) as string;
    return m[2] === undefined ? { name } : { name, format: m[2] };
  });
}

const TOKEN = new RegExp(
  [
    /(?<space>\s+|--[^\n]*)/,
    /'(?<string>(?:[^']|'')*)'/,
    /"(?<ident>(?:[^"]|"")*)"/,
    /\$__(?<macro>[A-Za-z]+)(?:\((?<args>[^)]*)\))?/,
    /(?<variable>\$\{[^}]*\}|\$[A-Za-z_][A-Za-z0-9_]*)/,
    /(?<word>[A-Za-z_][A-Za-z0-9_]*)/,
    /(?<number>\d+(?:\.\d+)?)/,
    /(?<punct>::|<=|>=|<>|!=|[(),.*=<>+\-/;])/,
  ]
    .map((part) => part.source)
    .join('|'),
  'y',
);

/** Splits SQL into tokens; Grafana macros (`$__timeFilter(time)`) and variables (`${symbol}`) are tokens of their own. */
export function tokenize(sql: string): SqlToken[] {
  const tokens: SqlToken[] = [];
  TOKEN.lastIndex = 0;
  while (TOKEN.lastIndex < sql.length) {
    const at = TOKEN.lastIndex;
    const groups = TOKEN.exec(sql)?.groups;
    if (!groups) throw new Error(`cannot read SQL at ${at}: ${sql.slice(at)}`);
    if (groups.string !== undefined) tokens.push({ kind: 'string', text: groups.string.replaceAll("''", "'") });
    else if (groups.ident !== undefined) tokens.push({ kind: 'ident', text: groups.ident.replaceAll('""', '"') });
    else if (groups.macro !== undefined) {
      const args = (groups.args ?? '')
        .split(',')
        .map((arg) => arg.trim())
        .filter((arg) => arg !== '');
      tokens.push({ kind: 'macro', text: groups.macro, args });
    } else if (groups.variable !== undefined) tokens.push({ kind: 'variable', text: groups.variable });
    else if (groups.word !== undefined) tokens.push({ kind: 'word', text: groups.word });
    else if (groups.number !== undefined) tokens.push({ kind: 'number', text: groups.number });
    else if (groups.punct !== undefined) tokens.push({ kind: 'punct', text: groups.punct });
  }
  return tokens;
}

/** SQL words that are not names. Unquoted names are case-folded by InfluxDB 3 (DataFusion), so these compare lowercase. */
const KEYWORDS = new Set(
  'select distinct from where and or not in is null as group by order asc desc limit offset interval having case when then else end between like'.split(
    ' ',
  ),
);
const TYPES = new Set(['timestamp', 'bigint', 'double', 'varchar', 'boolean']);
/** Functions the dashboard may call: DataFusion aggregates and scalars the panels need. */
const FUNCTIONS = new Set(['date_bin', 'first_value', 'last_value', 'max', 'min', 'sum', 'abs', 'count', 'avg']);
/** Grafana's InfluxDB SQL macros (pkg/tsdb/influxdb/fsql/macro.go plus the SDK defaults). */
const MACROS = new Set(['timeFilter', 'timeFrom', 'timeTo', 'interval', 'dateBin', 'dateBinAlias', 'timeGroup']);

export interface SqlNames {
  measurements: string[];
  /** Names defined with AS, quoted ones with their case. */
  aliases: string[];
  /** Column references as InfluxDB resolves them (unquoted ones lowercased). */
  columns: string[];
  functions: string[];
  macros: string[];
  variables: VariableRef[];
  /** Words that are neither keywords, functions nor names we could place. */
  unknown: string[];
}

export function sqlNames(sql: string): SqlNames {
  const tokens = tokenize(sql);
  const names: SqlNames = {
    measurements: [],
    aliases: [],
    columns: [],
    functions: [],
    macros: [],
    variables: variableRefs(sql),
    unknown: [],
  };
  const nameOf = (token: SqlToken) => (token.kind === 'word' ? token.text.toLowerCase() : token.text);
  tokens.forEach((token, index) => {
    const previous = tokens[index - 1];
    const next = tokens[index + 1];
    if (token.kind === 'macro') {
      names.macros.push(token.text);
      names.columns.push(...token.args.map((arg) => (arg.startsWith('"') ? arg.slice(1, -1) : arg.toLowerCase())));
      return;
    }
    if (token.kind !== 'word' && token.kind !== 'ident') return;
    const afterWord = previous?.kind === 'word' ? previous.text.toLowerCase() : undefined;
    if (afterWord === 'from') names.measurements.push(nameOf(token));
    else if (afterWord === 'as') names.aliases.push(nameOf(token));
    else if (token.kind === 'word' && KEYWORDS.has(nameOf(token))) return;
    else if (token.kind === 'word' && next?.kind === 'punct' && next.text === '(') names.functions.push(nameOf(token));
    else if (token.kind === 'word' && previous?.kind === 'punct' && previous.text === '::') {
      if (!TYPES.has(nameOf(token))) names.unknown.push(token.text);
    } else names.columns.push(nameOf(token));
  });
  return names;
}

/**
 * Everything in `sql` that would not resolve against the schema the sink writes: an unknown measurement, a column
 * that is neither `time`, a tag, a field nor an alias, a function or macro we do not expect.
 */
export function checkSqlNames(sql: string, schema: Record<string, MeasurementColumns>): string[] {
  const problems: string[] = [];
  const names = sqlNames(sql);
  if (names.measurements.length !== 1) {
    problems.push(`expected one measurement after FROM, found ${names.measurements.join(', ') || 'none'}`);
  }
  const columns = new Set<string>(names.aliases);
  for (const measurement of names.measurements) {
    const known = schema[measurement];
    if (!known) {
      problems.push(`measurement ${measurement} is not one the sink writes (${Object.keys(schema).join(', ')})`);
      continue;
    }
    for (const column of ['time', ...known.tags, ...known.fields]) columns.add(column);
  }
  for (const column of names.columns) {
    if (!columns.has(column)) problems.push(`column ${column} is not a tag, field or alias of ${names.measurements}`);
  }
  for (const fn of names.functions) if (!FUNCTIONS.has(fn)) problems.push(`unexpected function ${fn}`);
  for (const macro of names.macros) if (!MACROS.has(macro)) problems.push(`unknown macro $__${macro}`);
  for (const word of names.unknown) problems.push(`unexpected ${word}`);
  return problems;
}
