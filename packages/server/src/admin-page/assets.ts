import { readAdminPageFile } from '../assets/admin-page-files.js';
import { AirlockError } from '../errors.js';

/**
 * The admin page's Content-Security-Policy: everything from this server
 * only, no inline script or style, never framed by another page.
 */
export const adminPagePolicy = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "frame-src 'self'",
  "connect-src 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'self'",
].join('; ');

// The preview frame is a page of its own, framed only by the admin page.
const previewPolicy = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "connect-src 'self'",
  "img-src 'self' data: https:",
  "frame-ancestors 'self'",
  "base-uri 'none'",
  "form-action 'none'",
].join('; ');

/**
 * Headers of every admin page response.
 *
 * @example
 * ```ts
 * new Response(html, { headers: pageHeaders('text/html; charset=utf-8') });
 * ```
 */
export function pageHeaders(contentType: string, policy = adminPagePolicy): Record<string, string> {
  return {
    'content-type': contentType,
    'content-security-policy': policy,
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    'x-frame-options': policy === adminPagePolicy ? 'DENY' : 'SAMEORIGIN',
    'cross-origin-opener-policy': 'same-origin',
    'cross-origin-resource-policy': 'same-origin',
    // The page holds no secrets, but a stale script beside a newer API is worse than a re-download of a few KB.
    'cache-control': 'no-store',
  };
}

const contentTypes: Record<string, string> = {
  html: 'text/html; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
  svg: 'image/svg+xml',
};

function escapeAttribute(value: string): string {
  return value.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/**
 * Serves the admin page's static files, read once and kept in memory.
 *
 * @example
 * ```ts
 * const assets = new AdminPageAssets();
 * return assets.respond(request, 'index.html');
 * ```
 */
export class AdminPageAssets {
  readonly #files = new Map<string, Promise<{ body: Uint8Array; etag: string }>>();

  async respond(request: Request, name: string): Promise<Response> {
    const extension = name.slice(name.lastIndexOf('.') + 1);
    const type = contentTypes[extension];
    if (!type || !/^[a-z0-9-]+\.[a-z]+$/.test(name)) throw new AirlockError('not_found', 'There is nothing here.');
    let loaded = this.#files.get(name);
    if (!loaded) {
      loaded = this.#load(name);
      this.#files.set(name, loaded);
      loaded.catch(() => this.#files.delete(name));
    }
    const { body, etag } = await loaded;
    const headers = { ...pageHeaders(type), etag };
    return new Response(request.method === 'HEAD' ? null : new Uint8Array(body), { status: 200, headers });
  }

  /**
   * The preview frame: the widget as a visitor's launcher, opened, its tokens
   * from the admin session; `preview.js` applies the settings the owner is
   * typing before they are saved.
   */
  async previewPage(request: Request, widgetId: string, tokenUrl: string, scriptVersion?: string): Promise<Response> {
    const page = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Widget preview</title>
<link rel="icon" href="data:,">
</head>
<body>
<script src="../assets/preview.js"></script>
<script src="../../widget.js${scriptVersion ? `?v=${escapeAttribute(scriptVersion)}` : ''}" data-widget-id="${escapeAttribute(widgetId)}" data-mode="launcher" data-open="true" data-storage="memory" data-token-url="${escapeAttribute(tokenUrl)}"></script>
</body>
</html>
`;
    return new Response(request.method === 'HEAD' ? null : page, { headers: pageHeaders(contentTypes.html!, previewPolicy) });
  }

  #load(name: string): Promise<{ body: Uint8Array; etag: string }> {
    return readAdminPageFile(name).catch((error: unknown) => {
      throw new AirlockError('not_found', 'There is nothing here.', { cause: error });
    });
  }
}
