import { clientAddressOf } from '../http/client-address.js';
import { accountPath } from '../admin/accounts-routes.js';
import { adminCredentialsOf, assertAccountAccess, requireAdmin } from '../admin/auth.js';
import { createAccessToken, describeSession, signIn, signOut } from '../admin/session.js';
import type { AirlockContext } from '../context.js';
import { AirlockError } from '../errors.js';
import { json, readJsonObject } from '../http/responses.js';
import type { Route } from '../http/router.js';
import { loadUsableWidget, mintFor } from '../tokens/public-minting.js';
import { widgetScriptFor } from '../assets/widget-script.js';
import { AdminPageAssets } from './assets.js';

const widgetId = '(?<id>[A-Za-z0-9_-]{1,100})';

/**
 * The admin page at `{basePath}/admin/` and what only it needs:
 * - `GET /admin/` (the page) and `GET /admin/assets/<file>` (its script and styles);
 * - `POST|GET|DELETE /admin/session`: sign in (`{token}`: the admin token or an
 *   account's access token), who is signed in (with the CSRF token), sign out;
 * - `POST|GET /admin/accounts/:id/access-tokens`, `DELETE /admin/accounts/:id/access-tokens/:tokenId`
 *   (operator): per-account access tokens, shown once at creation;
 * - `GET /admin/preview/:widgetId` and `POST /admin/preview/:widgetId/token`: the
 *   live preview frame, for signed-in sessions only.
 *
 * @example
 * ```ts
 * const routes = [...adminPageRoutes(context)];
 * ```
 */
export function adminPageRoutes(context: AirlockContext): Route[] {
  const assets = new AdminPageAssets();
  return [
    {
      method: 'GET',
      path: '/admin',
      browser: 'none',
      handle: async () => new Response(null, { status: 308, headers: { location: `${context.basePath}/admin/` } }),
    },
    { method: 'GET', path: '/admin/', browser: 'none', handle: (request) => assets.respond(request, 'index.html') },
    {
      method: 'GET',
      path: /^\/admin\/assets\/(?<name>[a-z0-9-]+\.(?:js|css|svg))$/,
      browser: 'none',
      handle: (request, params) => assets.respond(request, params.name!),
    },
    {
      method: 'POST',
      path: '/admin/session',
      browser: 'none',
      async handle(request) {
        const body = await readJsonObject(request, 4096);
        const address = clientAddressOf(request, context.config.clientAddress);
        return signIn(context, request, body.token, address);
      },
    },
    { method: 'GET', path: '/admin/session', browser: 'none', handle: (request) => describeSession(context, request) },
    { method: 'DELETE', path: '/admin/session', browser: 'none', handle: (request) => signOut(context, request) },
    {
      method: 'POST',
      path: accountPath('/access-tokens'),
      browser: 'none',
      async handle(request, params) {
        requireAdmin(context, request);
        await context.started();
        const body = await readJsonObject(request, 4096);
        const created = await createAccessToken(context.store, { accountId: params.id!, label: body.label as string | undefined, now: context.now() });
        context.logger.info('admin access token created', { accountId: params.id, tokenId: created.record.id });
        return json({ ...created.record, token: created.token }, { status: 201 });
      },
    },
    {
      method: 'GET',
      path: accountPath('/access-tokens'),
      browser: 'none',
      async handle(request, params) {
        requireAdmin(context, request);
        await context.started();
        const tokens = await context.store.listAdminAccessTokens(params.id!);
        return json({ accessTokens: tokens.map(({ tokenHash: _hash, ...shown }) => shown) });
      },
    },
    {
      method: 'DELETE',
      path: accountPath('/access-tokens/(?<tokenId>[A-Za-z0-9_-]{1,100})'),
      browser: 'none',
      async handle(request, params) {
        requireAdmin(context, request);
        await context.started();
        if (!(await context.store.revokeAdminAccessToken(params.id!, params.tokenId!))) {
          throw new AirlockError('not_found', 'There is no such access token.');
        }
        return new Response(null, { status: 204 });
      },
    },
    {
      method: 'GET',
      path: new RegExp(`^/admin/preview/${widgetId}$`),
      browser: 'none',
      async handle(request, params) {
        const widget = await previewWidget(context, request, params.id!, { needsSameOrigin: false });
        const version = await widgetScriptFor(context)
          .version()
          .catch(() => undefined);
        return assets.previewPage(request, widget.id, `${context.basePath}/admin/preview/${widget.id}/token`, version);
      },
    },
    {
      method: 'POST',
      path: new RegExp(`^/admin/preview/${widgetId}/token$`),
      browser: 'none',
      async handle(request, params) {
        const widget = await previewWidget(context, request, params.id!, { needsSameOrigin: true });
        const usable = await loadUsableWidget(context.store, widget.id);
        // Bound to this server's own origin: the preview frame is a page of it.
        const origin = request.headers.get('origin')!;
        return json(await mintFor(context, usable, { subject: 'admin-preview', via: 'backend', origin }));
      },
    },
  ];
}

/**
 * The widget a preview shows, for a signed-in session that may see it. The
 * frame's token request comes from the widget script, which cannot send the
 * CSRF header, so a same-origin `Origin` (and `Sec-Fetch-Site`) stands in.
 */
async function previewWidget(context: AirlockContext, request: Request, id: string, options: { needsSameOrigin: boolean }) {
  const credentials = adminCredentialsOf(request);
  if (!credentials || credentials.via !== 'session') throw new AirlockError('admin_unauthorized', 'Please sign in.');
  if (options.needsSameOrigin && !credentials.sameOrigin) throw new AirlockError('forbidden', 'The preview only works inside the admin page.');
  const principal = credentials.principal;
  await context.started();
  const widget = await context.store.getWidget(id);
  if (!widget) throw new AirlockError('widget_not_found', 'There is no such widget.');
  assertAccountAccess(principal, widget.accountId);
  return widget;
}
