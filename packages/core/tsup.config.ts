import { defineConfig } from 'tsup';

export default defineConfig({
  entry: ['src/index.ts'],
  format: ['esm', 'cjs'],
  dts: true,
  clean: true,
  sourcemap: true,
  target: 'node20',
  external: ['@confluentinc/kafka-javascript', '@confluentinc/schemaregistry', 'avsc', 'kafkajs', 'ws'],
});
