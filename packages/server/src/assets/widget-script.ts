import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { AirlockError } from '../errors.js';

/**
 * Serves the widget's script-tag bundle (`@airlock/widget`'s IIFE build).
 * Read once and kept in memory with a strong ETag.
 *
 * @example
 * ```ts
 * const script = new WidgetScript();
 * return script.respond(request);
 * ```
 */
export class WidgetScript {
  #loaded?: Promise<{ body: Buffer; etag: string }>;
  constructor(readonly path?: string) {}

  async respond(request: Request): Promise<Response> {
    const { body, etag } = await (this.#loaded ??= this.#load());
    const headers = {
      'content-type': 'text/javascript; charset=utf-8',
      'cache-control': 'public, max-age=300',
      etag,
      // The bundle is meant to be loaded by other sites' pages.
      'cross-origin-resource-policy': 'cross-origin',
    };
    if (request.headers.get('if-none-match') === etag) return new Response(null, { status: 304, headers });
    return new Response(request.method === 'HEAD' ? null : new Uint8Array(body), { status: 200, headers });
  }

  async #load(): Promise<{ body: Buffer; etag: string }> {
    const path = this.path ?? createRequire(import.meta.url).resolve('@airlock/widget/script-tag');
    try {
      const body = await readFile(path);
      return { body, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"` };
    } catch (error) {
      this.#loaded = undefined;
      throw new AirlockError('internal', 'The widget script is not built; run the build first.', { cause: error });
    }
  }
}
