import { cpSync } from 'node:fs';
import { defineConfig } from 'tsup';

export default defineConfig({
  entry: [
    'src/index.ts',
    'src/adapters/node.ts',
    'src/adapters/express.ts',
    'src/adapters/fastify.ts',
    'src/adapters/hono.ts',
    'src/adapters/next.ts',
    'src/cli/main.ts',
    // Started as a worker thread by the knowledge extractor, which finds it at dist/knowledge/.
    'src/knowledge/extract-worker.ts',
  ],
  format: ['esm'],
  dts: {
    entry: ['src/index.ts', 'src/adapters/node.ts', 'src/adapters/express.ts', 'src/adapters/fastify.ts', 'src/adapters/hono.ts', 'src/adapters/next.ts'],
  },
  clean: true,
  target: 'node20',
  platform: 'node',
  splitting: true,
  // Bundled, not a dependency: the package ships every encoding (27 MB) where
  // Airlock uses one (o200k_base, imported by its own path), loaded on first count.
  // Bundled too: the prompt filter reads its confusables table (a JSON import, which
  // Node loads only with an import attribute the bundle would not keep).
  noExternal: ['gpt-tokenizer', 'unhomoglyph'],
  // The admin page's static files are served as they are; the server finds them beside its bundle.
  async onSuccess() {
    cpSync('src/admin-page/assets', 'dist/admin-page/assets', { recursive: true });
  },
});
