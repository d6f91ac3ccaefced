import type { AirlockContext } from '../context.js';
import { AirlockError } from '../errors.js';
import { json, readJsonObject } from '../http/responses.js';
import type { Route } from '../http/router.js';
import { newId } from '../ids.js';
import { recordedClientAddress } from '../adapters/client-address.js';
import { defaultMintRateLimits, enforceMintLimit, loadUsableWidget, mintFor } from '../tokens/public-minting.js';
import { isValidOriginPattern } from '../widgets/origins.js';

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
        const url = new URL(request.url);
        const attributes: Record<string, string> = {
          'data-widget-id': widget.id,
          'data-mode': 'page',
          'data-token-url': `${context.basePath}/embed/${widget.id}/token`,
        };
        const locale = url.searchParams.get('locale');
        if (locale && localePattern.test(locale)) attributes['data-locale'] = locale;
        const theme = url.searchParams.get('theme');
        if (theme && themes.has(theme)) attributes['data-theme'] = theme;
        const tag = Object.entries(attributes)
          .map(([name, value]) => ` ${name}="${escapeHtml(value)}"`)
          .join('');
        const page = `<!doctype html>
<html lang="${escapeHtml(attributes['data-locale'] ?? widget.presentation.locale ?? 'en')}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1, interactive-widget=resizes-content">
<title>${escapeHtml(widget.presentation.title)}</title>
<link rel="icon" href="data:,">
</head>
<body>
<script src="../widget.js"${tag}></script>
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
        // The same limits, under the same keys, as public minting: the frame is no way around them.
        const limits = context.options.mintRateLimits;
        const address = context.options.clientAddress?.(request) ?? recordedClientAddress(request);
        if (address) await enforceMintLimit(context, `mint:address:${address}`, limits?.perAddress ?? defaultMintRateLimits.perAddress);
        const body = await readJsonObject(request, 4 * 1024);
        const widget = await loadUsableWidget(context.store, params.id);
        await enforceMintLimit(context, `mint:widget:${widget.id}`, limits?.perWidget ?? defaultMintRateLimits.perWidget);
        if (context.options.verifyHuman && !(await context.options.verifyHuman(request, { widgetId: widget.id, body }))) {
          throw new AirlockError('forbidden', 'Please confirm you are human, then try again.');
        }
        const visitorId = body.visitorId;
        if (visitorId !== undefined && (typeof visitorId !== 'string' || !/^[A-Za-z0-9_-]{1,128}$/.test(visitorId))) {
          throw new AirlockError('input_invalid', '"visitorId" must be 1 to 128 letters, digits, "_" or "-".');
        }
        return json(await mintFor(context, widget, { subject: visitorId ?? newId('vis'), origin, via: 'public' }));
      },
    },
  ];
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
