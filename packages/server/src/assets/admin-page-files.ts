import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { AirlockError } from '../errors.js';

/**
 * Where the page's files are: beside this module in the sources
 * (`src/admin-page/assets/`, beside this folder), or copied into `dist/admin-page/assets/` by the
 * build (this module is then bundled into `dist/` or `dist/cli/`).
 */
function assetsFolder(): string {
  const candidates = ['../admin-page/assets/', './admin-page/assets/'];
  for (const candidate of candidates) {
    const path = fileURLToPath(new URL(candidate, import.meta.url));
    if (existsSync(`${path}index.html`)) return path;
  }
  throw new AirlockError('internal', 'The admin page files are missing; build @airlock/server again.');
}

let folder: string | undefined;

/**
 * One of the admin page's files, read from disk, with its ETag: the file
 * access of the admin page, kept out of admin-page/ so that it stays Web-standard.
 *
 * @example
 * ```ts
 * const { body, etag } = await readAdminPageFile('index.html');
 * ```
 */
export async function readAdminPageFile(name: string): Promise<{ body: Uint8Array; etag: string }> {
  folder ??= assetsFolder();
  const body = await readFile(`${folder}${name}`);
  return { body, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"` };
}
