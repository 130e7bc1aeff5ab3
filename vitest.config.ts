import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// Two projects: `unit` is pure and fast; `integration` talks to real brokers,
// registry and stores started by test/global-setup.ts, one file at a time so
// the 2-core machine is not oversubscribed.
export default defineConfig({
  resolve: {
    // Tests run against the sources, so a test run never depends on a stale build.
    alias: {
      '@kandle/local-stack': fileURLToPath(new URL('./packages/local-stack/src/index.ts', import.meta.url)),
      '@kandle/core': fileURLToPath(new URL('./packages/core/src/index.ts', import.meta.url)),
      '@kandle/influx-sink': fileURLToPath(new URL('./packages/influx-sink/src/index.ts', import.meta.url)),
    },
  },
  test: {
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: [
            'packages/*/test/**/*.test.ts',
            'examples/*/test/**/*.test.ts',
            'compose/test/**/*.test.ts',
            'test/**/*.test.ts',
            // Pure logic of the bench (run order, ratios, met / not met); never its speed.
            'bench/**/*.test.mjs',
          ],
          exclude: ['**/*.int.test.ts', '**/node_modules/**'],
        },
      },
      {
        extends: true,
        test: {
          name: 'integration',
          include: ['packages/*/test/**/*.int.test.ts', 'examples/*/test/**/*.int.test.ts', 'test/**/*.int.test.ts'],
          fileParallelism: false,
          globalSetup: ['test/global-setup.ts'],
          testTimeout: 180_000,
          hookTimeout: 300_000,
        },
      },
    ],
  },
});
