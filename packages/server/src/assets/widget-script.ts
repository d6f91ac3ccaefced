import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { promisify } from 'node:util';
import { brotliCompress, constants, gzip } from 'node:zlib';
import type { AirlockContext } from '../context.js';
import { AirlockError } from '../errors.js';

const gzipAsync = promisify(gzip);
const brotliAsync = promisify(brotliCompress);

type Encoding = 'br' | 'gzip' | 'identity';

/** One encoding of the bundle, made once. */
interface Variant {
  body: Uint8Array<ArrayBuffer>;
  etag: string;
}

interface Loaded {
  /** The first characters of the bundle's SHA-256: what `?v=` must say for the long cache. */
  version: string;
  variants: Record<Encoding, Variant>;
}

/**
 * Which encoding to send for an `Accept-Encoding` header: brotli, then gzip,
 * then none, skipping any the client refuses with `q=0`.
 *
 * @example
 * ```ts
 * pickEncoding('gzip, deflate, br'); // 'br'
 * pickEncoding('br;q=0, gzip'); // 'gzip'
 * ```
 */
export function pickEncoding(header: string | null): Encoding {
  const accepted = new Map<string, number>();
  for (const part of (header ?? '').toLowerCase().split(',')) {
    const [name, ...parameters] = part.trim().split(';');
    if (!name) continue;
    const quality = parameters.map((parameter) => /^\s*q=([\d.]+)\s*$/.exec(parameter)?.[1]).find((value) => value !== undefined);
    accepted.set(name, quality === undefined ? 1 : Number(quality));
  }
  const allows = (name: string) => (accepted.get(name) ?? accepted.get('*') ?? 0) > 0;
  if (allows('br')) return 'br';
  if (allows('gzip')) return 'gzip';
  return 'identity';
}

/**
 * Serves the widget's script-tag bundle (`@airlock/widget`'s IIFE build),
 * compressed once (brotli and gzip, in the thread pool, on first request) and
 * kept in memory. Each encoding has its own strong ETag. The plain URL is
 * cached for 5 minutes and revalidated; `?v=<version>` (what the iframe page
 * and the admin preview use) is cached for a year, since its bytes never change.
 *
 * @example
 * ```ts
 * const script = new WidgetScript();
 * return script.respond(request);
 * ```
 */
export class WidgetScript {
  #loaded?: Promise<Loaded>;
  constructor(readonly path?: string) {}

  /** The current version, for a long-cached `widget.js?v=<version>` URL. */
  async version(): Promise<string> {
    return (await (this.#loaded ??= this.#load())).version;
  }

  async respond(request: Request): Promise<Response> {
    const { version, variants } = await (this.#loaded ??= this.#load());
    const encoding = pickEncoding(request.headers.get('accept-encoding'));
    const { body, etag } = variants[encoding];
    const versioned = new URL(request.url).searchParams.get('v') === version;
    const headers: Record<string, string> = {
      'content-type': 'text/javascript; charset=utf-8',
      'cache-control': versioned ? 'public, max-age=31536000, immutable' : 'public, max-age=300',
      etag,
      vary: 'Accept-Encoding',
      // The bundle is meant to be loaded by other sites' pages.
      'cross-origin-resource-policy': 'cross-origin',
    };
    if (encoding !== 'identity') headers['content-encoding'] = encoding;
    const etags = request.headers
      .get('if-none-match')
      ?.split(',')
      .map((tag) => tag.trim().replace(/^W\//, ''));
    if (etags?.includes(etag) || etags?.includes('*')) return new Response(null, { status: 304, headers });
    headers['content-length'] = String(body.byteLength);
    return new Response(request.method === 'HEAD' ? null : body, { status: 200, headers });
  }

  async #load(): Promise<Loaded> {
    const path = this.path ?? createRequire(import.meta.url).resolve('@airlock/widget/script-tag');
    let source: Buffer;
    try {
      source = await readFile(path);
    } catch (error) {
      this.#loaded = undefined;
      throw new AirlockError('internal', 'The widget script is not built; run the build first.', { cause: error });
    }
    const hash = createHash('sha256').update(source).digest('base64url');
    // The largest window and quality: done once per process, off the event loop.
    const [brotli, gzipped] = await Promise.all([
      brotliAsync(source, { params: { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_SIZE_HINT]: source.length } }),
      gzipAsync(source, { level: 9 }),
    ]);
    const tag = (suffix: string) => `"${hash.slice(0, 27)}${suffix}"`;
    return {
      version: hash.slice(0, 12),
      variants: {
        br: { body: new Uint8Array(brotli), etag: tag('-br') },
        gzip: { body: new Uint8Array(gzipped), etag: tag('-gz') },
        identity: { body: new Uint8Array(source), etag: tag('') },
      },
    };
  }
}

const scripts = new WeakMap<AirlockContext, WidgetScript>();

/**
 * The one {@link WidgetScript} of an Airlock instance, shared by the
 * `widget.js` route and the pages that load it by version.
 *
 * @example
 * ```ts
 * const src = `../widget.js?v=${await widgetScriptFor(context).version()}`;
 * ```
 */
export function widgetScriptFor(context: AirlockContext): WidgetScript {
  let script = scripts.get(context);
  if (!script) scripts.set(context, (script = new WidgetScript(context.config.widgetScriptPath)));
  return script;
}
