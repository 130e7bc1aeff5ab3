import { defineConfig } from 'tsup';

export default defineConfig({
  entry: ['src/index.ts'],
  format: ['esm', 'cjs'],
  dts: true,
  clean: true,
  sourcemap: true,
  target: 'node20',
  // lazy-deps.ts calls createRequire(import.meta.url): the shim gives the CommonJS build a real URL there.
  shims: true,
  external: ['@confluentinc/kafka-javascript', '@confluentinc/schemaregistry', 'avsc', 'ws'],
});
