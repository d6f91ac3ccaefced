import { defineConfig } from 'tsup';

export default defineConfig({
  entry: ['src/index.ts', 'src/adapters/node.ts', 'src/cli/main.ts'],
  format: ['esm'],
  dts: { entry: ['src/index.ts', 'src/adapters/node.ts'] },
  clean: true,
  target: 'node20',
  platform: 'node',
  splitting: true,
});
