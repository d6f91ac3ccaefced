import { transform } from 'esbuild';
import { cpSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
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
  // The admin page's static files are copied beside the bundle, where the server finds them. Its
  // JavaScript modules lose only their comments and whitespace (nothing renamed or bundled): the
  // JSDoc types are for the type check (tsconfig.admin.json) and would put the page over its size budget.
  async onSuccess() {
    const folder = 'dist/admin-page/assets/';
    cpSync('src/admin-page/assets', folder, { recursive: true });
    for (const name of readdirSync(folder).filter((entry) => entry.endsWith('.js'))) {
      const stripped = await transform(readFileSync(`${folder}${name}`, 'utf8'), { loader: 'js', minifyWhitespace: true, legalComments: 'none' });
      writeFileSync(`${folder}${name}`, stripped.code);
    }
  },
});
