import { widgetScriptFor } from '../assets/widget-script.js';
import type { AirlockContext } from '../context.js';
import { AirlockError } from '../errors.js';
import { errorResponse, json } from '../http/responses.js';
import type { Route } from '../http/router.js';
import type { WidgetRecord } from '../stores/store.js';
import { loadUsableWidget, mintForVisitor } from '../tokens/public-minting.js';
import { isOriginAllowed, isValidOriginPattern, isWebOrigin } from '../widgets/origins.js';

const widgetIdPattern = '(?<id>[A-Za-z0-9_-]{1,100})';
const localePattern = /^[A-Za-z]{2,3}(?:-[A-Za-z0-9]{2,8})?$/;
const themes = new Set(['light', 'dark', 'auto']);

/**
 * The Content-Security-Policy of the iframe page: our script, our styles
 * (constructable stylesheets only), requests to ourselves, images from the
 * model's image host, and framing only by the widget's allowed origins.
 *
 * @example
 * ```ts
 * embedPolicy(['https://shop.example.com']); // "default-src 'none'; …; frame-ancestors https://shop.example.com"
 * ```
 */
export function embedPolicy(allowedOrigins: readonly string[]): string {
  // Entries were validated when saved; checked again because a CSP header is a
  // place where a stray `;` or space would add a directive.
  const ancestors = allowedOrigins.filter((origin) => isValidOriginPattern(origin) && !/[\s;,']/.test(origin));
  return [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "connect-src 'self'",
    "img-src 'self' data: https:",
    "base-uri 'none'",
    "form-action 'none'",
    `frame-ancestors ${ancestors.length > 0 ? ancestors.join(' ') : "'none'"}`,
  ].join('; ');
}

/**
 * The iframe page for hostile host pages (`GET {basePath}/embed/<widgetId>`):
 * the widget in full-page mode on a page of its own origin, under a strict
 * CSP, so the host page's scripts and styles cannot reach it. Its tokens come
 * from a same-origin endpoint beside it, bound to this server's own origin.
 */
export function embedRoutes(context: AirlockContext): Route[] {
  return [
    {
      method: 'GET',
      path: new RegExp(`^/embed/${widgetIdPattern}$`),
      browser: 'none',
      async handle(request, params) {
        const widget = await loadUsableWidget(context.store, params.id);
        const site = embeddingSite(request, widget);
        if (typeof site !== 'string') return withHeaders(errorResponse(site), { 'content-security-policy': embedPolicy(widget.allowedOrigins) });
        const url = new URL(request.url);
        const attributes: Record<string, string> = {
          'data-widget-id': widget.id,
          'data-mode': 'page',
          // The token endpoint learns the site from the page it serves, as public minting learns it from Origin.
          'data-token-url': `${context.basePath}/embed/${widget.id}/token?site=${encodeURIComponent(site)}`,
        };
        const locale = url.searchParams.get('locale');
        if (locale && localePattern.test(locale)) attributes['data-locale'] = locale;
        const theme = url.searchParams.get('theme');
        if (theme && themes.has(theme)) attributes['data-theme'] = theme;
        const tag = Object.entries(attributes)
          .map(([name, value]) => ` ${name}="${escapeHtml(value)}"`)
          .join('');
        // By version, so browsers keep the bundle for a year and fetch a new one only after an upgrade.
        const version = await widgetScriptFor(context)
          .version()
          .catch(() => undefined);
        const page = `<!doctype html>
<html lang="${escapeHtml(attributes['data-locale'] ?? widget.presentation.locale ?? 'en')}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1, interactive-widget=resizes-content">
<title>${escapeHtml(widget.presentation.title)}</title>
<link rel="icon" href="data:,">
</head>
<body>
<script src="../widget.js${version ? `?v=${version}` : ''}"${tag}></script>
</body>
</html>
`;
        return new Response(request.method === 'HEAD' ? null : page, {
          headers: {
            'content-type': 'text/html; charset=utf-8',
            'content-security-policy': embedPolicy(widget.allowedOrigins),
            // The allowed origins can change at any time; the framing policy must follow at once.
            'cache-control': 'no-store',
            'x-content-type-options': 'nosniff',
            'referrer-policy': 'no-referrer',
          },
        });
      },
    },
    {
      method: 'POST',
      path: new RegExp(`^/embed/${widgetIdPattern}/token$`),
      browser: 'none',
      async handle(request, params) {
        // Only the iframe page itself may mint here: a same-origin request.
        // Other sites are kept out of the page by `frame-ancestors`, and out of
        // this endpoint by the missing CORS headers and this check.
        const origin = request.headers.get('origin');
        const fetchSite = request.headers.get('sec-fetch-site');
        if (!origin || !sameHost(origin, request.url) || (fetchSite !== null && fetchSite !== 'same-origin')) {
          throw new AirlockError('origin_not_allowed', 'This site is not allowed to use this widget.');
        }
        // Exactly the rules of public minting, with the embedding page's site
        // instead of Origin; the token is bound to this server's own origin,
        // where the frame's calls come from.
        const site = new URL(request.url).searchParams.get('site');
        return json(await mintForVisitor(context, request, { widgetId: params.id, site, origin }));
      },
    },
  ];
}

/**
 * The site that frames the page: the origin of the `Referer` the browser
 * sends when it loads a frame (by default it sends at least the origin),
 * which must be one the widget allows. Without a `Referer`, a widget with a
 * single exact allowed origin is framed only there (`frame-ancestors`);
 * otherwise the site cannot be told and the page says so.
 */
function embeddingSite(request: Request, widget: WidgetRecord): string | AirlockError {
  if (widget.allowedOrigins.length === 0) {
    return new AirlockError('origin_not_allowed', "This widget is private: only its site's backend can give it tokens, so it has no iframe page.");
  }
  const referrer = request.headers.get('referer');
  if (referrer) {
    const site = originOf(referrer);
    if (site && isOriginAllowed(site, widget.allowedOrigins)) return site;
    return new AirlockError('origin_not_allowed', 'This site is not allowed to use this widget.');
  }
  const [only, ...others] = widget.allowedOrigins;
  if (others.length === 0 && isWebOrigin(only) && !only.includes('*')) return only;
  return new AirlockError(
    'origin_not_allowed',
    'Airlock cannot tell which site shows this page: let the iframe send its referrer (remove referrerpolicy="no-referrer").',
  );
}

function originOf(url: string): string | undefined {
  try {
    const origin = new URL(url).origin;
    return origin === 'null' ? undefined : origin;
  } catch {
    return undefined;
  }
}

function withHeaders(response: Response, headers: Record<string, string>): Response {
  for (const [name, value] of Object.entries(headers)) response.headers.set(name, value);
  return response;
}

// The host, not the whole origin: behind a TLS-terminating proxy the request
// URL may say http while the browser's Origin says https.
function sameHost(origin: string, requestUrl: string): boolean {
  try {
    return new URL(origin).host === new URL(requestUrl).host;
  } catch {
    return false;
  }
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (character) => `&#${character.charCodeAt(0)};`);
}
