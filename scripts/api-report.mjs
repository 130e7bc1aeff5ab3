// API review: each package's public surface (its built index.d.ts) as a committed report, checked by `npm test`.
// `node scripts/api-report.mjs` fails when a package's surface differs from packages/<name>/etc/<name>.api.md;
// `node scripts/api-report.mjs --update` rewrites the reports after an intended change (commit them with it).
import { existsSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Extractor, ExtractorConfig } from '@microsoft/api-extractor';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
/** The packages whose surface is reviewed: the published ones and the local stack the examples import. */
export const PACKAGES = ['core', 'influx-sink', 'local-stack'];

function configFor(name, reportFolder) {
  const projectFolder = join(root, 'packages', name);
  const configObject = {
    projectFolder,
    mainEntryPointFilePath: '<projectFolder>/dist/index.d.ts',
    compiler: {
      overrideTsconfig: {
        compilerOptions: {
          target: 'ES2022',
          module: 'ESNext',
          moduleResolution: 'Bundler',
          lib: ['ES2023', 'DOM'],
          types: ['node'],
          strict: true,
          skipLibCheck: true,
        },
        files: ['dist/index.d.ts'],
      },
    },
    apiReport: {
      enabled: true,
      reportFileName: '<unscopedPackageName>',
      reportFolder,
      // Outside the package, so `npm pack` never ships the scratch copy.
      reportTempFolder: join(tmpdir(), 'kandle-api-report', name),
    },
    docModel: { enabled: false },
    dtsRollup: { enabled: false },
    tsdocMetadata: { enabled: false },
    messages: {
      compilerMessageReporting: { default: { logLevel: 'warning' } },
      extractorMessageReporting: {
        default: { logLevel: 'warning' },
        // kandle does not tag release stages (@public/@beta); every export is public.
        'ae-missing-release-tag': { logLevel: 'none' },
        'ae-forgotten-export': { logLevel: 'none' },
        // Doc coverage and {@link} targets are not what this review is about: the surface is.
        'ae-undocumented': { logLevel: 'none' },
        'ae-unresolved-link': { logLevel: 'none' },
      },
      tsdocMessageReporting: { default: { logLevel: 'none' } },
    },
  };
  return ExtractorConfig.prepare({
    configObject,
    configObjectFullPath: join(projectFolder, 'api-extractor.json'),
    packageJsonFullPath: join(projectFolder, 'package.json'),
  });
}

/**
 * Compares (or with `update`, rewrites) the report of package `name`; `reportFolder` defaults to packages/<name>/etc.
 * Returns whether the committed report matches the built surface.
 */
export function checkApiReport(name, { update = false, reportFolder } = {}) {
  const folder = reportFolder ?? join(root, 'packages', name, 'etc');
  if (!existsSync(join(root, 'packages', name, 'dist', 'index.d.ts'))) {
    throw new Error(`packages/${name}/dist/index.d.ts is missing: run \`npm run build\` first`);
  }
  mkdirSync(folder, { recursive: true });
  const result = Extractor.invoke(configFor(name, folder), {
    localBuild: update,
    showVerboseMessages: false,
    messageCallback: (message) => {
      // Only the verdict matters here; the diff hint is printed below.
      if (message.messageId === 'console-api-report-changed' || message.messageId === 'console-api-report-copied') {
        message.handled = true;
      }
    },
  });
  return update || (result.succeeded && !result.apiReportChanged);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const update = process.argv.includes('--update');
  const only = process.argv.slice(2).filter((a) => !a.startsWith('--'));
  const failed = (only.length ? only : PACKAGES).filter((name) => !checkApiReport(name, { update }));
  if (failed.length) {
    for (const name of failed) {
      process.stderr.write(
        `[kandle api] the public surface of packages/${name} differs from packages/${name}/etc/${name}.api.md\n`,
      );
    }
    process.stderr.write(
      '[kandle api] if the change is intended, run `npm run api:update` and commit the reports with it\n',
    );
    process.exit(1);
  }
  process.stderr.write(`[kandle api] ${update ? 'reports written' : 'public surfaces match their reports'}\n`);
}
