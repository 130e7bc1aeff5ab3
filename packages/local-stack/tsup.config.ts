// Build: bundles @kandle/local-stack (ESM + CJS + types); @kandle/core stays an import, never a copy of its classes.
import { defineConfig } from 'tsup';

export default defineConfig({
  entry: ['src/index.ts'],
  format: ['esm', 'cjs'],
  dts: true,
  clean: true,
  sourcemap: true,
  target: 'node20',
  external: ['@kandle/core', 'ws'],
  esbuildPlugins: [
    {
      // The fake Bitfinex reuses core's synthetic market and frame codecs (internal, so bundled from source); the
      // errors they throw must still be @kandle/core's own classes, or `instanceof KandleError` would fail.
      name: 'core-errors-from-package',
      setup(build) {
        build.onResolve({ filter: /\/errors$/ }, (args) =>
          args.importer.includes('/packages/core/src/') ? { path: '@kandle/core', external: true } : undefined,
        );
      },
    },
  ],
});
