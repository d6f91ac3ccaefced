import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { defineConfig, type Alias } from 'vitest/config';

/**
 * Tests resolve workspace packages to their TypeScript sources, unless a test
 * deliberately loads a built file from `dist/`. Each entry of a package's
 * `exports` that points at `./dist/<path>.js` is aliased to `./src/<path>.ts`
 * (tsup keeps the layout), so the published manifests carry nothing but dist.
 */
function workspaceSources(): Alias[] {
  const aliases: Alias[] = [];
  const packagesDir = new URL('./packages/', import.meta.url);
  for (const folder of readdirSync(packagesDir)) {
    const manifestUrl = new URL(`${folder}/package.json`, packagesDir);
    if (!existsSync(manifestUrl)) continue;
    const manifest = JSON.parse(readFileSync(manifestUrl, 'utf8')) as { name: string; exports?: Record<string, string | { default?: string }> };
    for (const [subpath, target] of Object.entries(manifest.exports ?? {})) {
      const built = typeof target === 'string' ? target : target.default;
      const source = /^\.\/dist\/(.+)\.js$/.exec(built ?? '')?.[1];
      const sourceUrl = source && new URL(`${folder}/src/${source}.ts`, packagesDir);
      if (!sourceUrl || !existsSync(sourceUrl)) continue;
      const specifier = subpath === '.' ? manifest.name : `${manifest.name}/${subpath.slice(2)}`;
      aliases.push({ find: new RegExp(`^${specifier.replace(/[/.]/g, '\\$&')}$`), replacement: fileURLToPath(sourceUrl) });
    }
  }
  return aliases;
}

export default defineConfig({
  resolve: { alias: workspaceSources() },
  test: {
    include: ['packages/*/test/**/*.test.ts', 'examples/*/test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
  },
});
