// Schema → types: derives packages/core/src/schema/types.generated.ts from schemas/*.avsc.
// Run by `npm run build` (prebuild of @kandle/core); a unit test fails when the file drifts.
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const schemaDir = join(root, 'schemas');
const target = join(root, 'packages/core/src/schema/types.generated.ts');

const primitive = {
  string: 'string',
  double: 'number',
  float: 'number',
  int: 'number',
  long: 'number',
  boolean: 'boolean',
  bytes: 'Uint8Array',
  null: 'null',
};

function tsType(type) {
  if (typeof type === 'string') {
    const t = primitive[type];
    if (!t) throw new Error(`gen-types: unsupported Avro type ${type}`);
    return t;
  }
  if (Array.isArray(type)) return type.map(tsType).join(' | ');
  if (type.type === 'array') return `${tsType(type.items)}[]`;
  if (type.type === 'map') return `Record<string, ${tsType(type.values)}>`;
  if (type.type === 'enum') return type.symbols.map((s) => JSON.stringify(s)).join(' | ');
  return tsType(type.type);
}

export function renderTypes() {
  const files = readdirSync(schemaDir)
    .filter((f) => f.endsWith('.avsc'))
    .sort();
  let out = '// Schema types: generated from schemas/*.avsc by scripts/gen-types.mjs. Do not edit.\n';
  for (const file of files) {
    const schema = JSON.parse(readFileSync(join(schemaDir, file), 'utf8'));
    out += `\n/** ${schema.doc ?? schema.name} (schemas/${file}) */\nexport interface ${schema.name} {\n`;
    for (const field of schema.fields) {
      if (field.doc) out += `  /** ${field.doc} */\n`;
      out += `  ${field.name}: ${tsType(field.type)};\n`;
    }
    out += '}\n';
    out += `\n/** Avro schema of {@link ${schema.name}}, verbatim from schemas/${file}. */\nexport const ${schema.name.charAt(0).toLowerCase()}${schema.name.slice(1)}Schema = ${JSON.stringify(schema)} as const;\n`;
  }
  return out;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  writeFileSync(target, renderTypes());
}
