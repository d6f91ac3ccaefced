// The Web-standard core: what answers requests (the proxy, tokens, the embed
// routes, the admin API and page) imports no Node module and nothing from the
// adapters, so it runs wherever a Request and a Response do (test/runtime
// runs it under Bun). Node's fast paths live in adapters/.
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const source = join(import.meta.dirname, '../src');
const coreFolders = ['proxy', 'tokens', 'embed', 'admin', 'admin-page'];

function sourceFiles(folder: string): string[] {
  return readdirSync(folder, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && /\.(?:ts|js)$/.test(entry.name))
    .map((entry) => join(entry.parentPath, entry.name));
}

// Every module a file imports or re-exports, statically or dynamically.
function importsOf(text: string): string[] {
  const found: string[] = [];
  for (const match of text.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|^\s*import\s+)['"]([^'"]+)['"]/gm)) found.push(match[1]!);
  return found;
}

describe('the core folders', () => {
  it.each(coreFolders)('%s/ imports no node: module and nothing from adapters/', (folder) => {
    const offending: string[] = [];
    const files = sourceFiles(join(source, folder));
    expect(files.length).toBeGreaterThan(0);
    for (const file of files) {
      for (const specifier of importsOf(readFileSync(file, 'utf8'))) {
        if (specifier.startsWith('node:') || /(?:^|\/)adapters\//.test(specifier)) offending.push(`${relative(source, file)}: ${specifier}`);
      }
    }
    expect(offending).toEqual([]);
  });

  it('finds the imports this check looks for', () => {
    expect(importsOf("import { a } from 'node:fs';\nexport { b } from '../adapters/node.js';\nconst c = await import('node:os');")).toEqual([
      'node:fs',
      '../adapters/node.js',
      'node:os',
    ]);
  });
});
