import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type * as Esbuild from 'esbuild';

type EsbuildModule = typeof Esbuild;

let sourceWorker: Promise<URL> | undefined;

// Run from its TypeScript sources (tests, the workspace's own tools), the
// worker's entry cannot be handed to a worker thread as it is: Node 20 does
// not run TypeScript. It is bundled once per process with esbuild (a
// development dependency, imported by a computed name so that the published
// bundle does not try to include it), into the package's node_modules so
// its own imports resolve as the server's do.
async function bundleSourceWorker(here: URL): Promise<URL> {
  const builder = 'esbuild';
  const esbuild = (await import(builder)) as EsbuildModule;
  const result = await esbuild.build({
    entryPoints: [fileURLToPath(new URL('./extract-worker.ts', here))],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    write: false,
    logLevel: 'silent',
  });
  const code = result.outputFiles[0]!.contents;
  const folder = new URL('../../node_modules/.cache/airlock-knowledge/', here);
  await mkdir(folder, { recursive: true });
  const target = new URL(`extract-worker-${createHash('sha256').update(code).digest('hex').slice(0, 16)}.mjs`, folder);
  if (!existsSync(target)) {
    // Written aside and renamed, so a process starting the same worker meanwhile never reads half a file.
    const partial = new URL(`${target.href}.${process.pid}.partial`);
    await writeFile(partial, code);
    await rename(partial, target);
  }
  return target;
}

/**
 * Where the extraction worker's entry is: `dist/knowledge/extract-worker.js`
 * of the built package (found from wherever the bundler put this code
 * under `dist/`), or, run from the TypeScript sources, a bundle of
 * `extract-worker.ts` made on first use.
 *
 * @example
 * ```ts
 * const worker = new Worker(await extractionWorkerUrl());
 * ```
 */
export function extractionWorkerUrl(): Promise<URL> {
  const here = new URL(import.meta.url);
  if (here.pathname.endsWith('.ts')) return (sourceWorker ??= bundleSourceWorker(here));
  let folder = new URL('.', here);
  while (!folder.pathname.endsWith('/dist/') && folder.pathname !== '/') folder = new URL('..', folder);
  return Promise.resolve(new URL('knowledge/extract-worker.js', folder.pathname === '/' ? new URL('.', here) : folder));
}
