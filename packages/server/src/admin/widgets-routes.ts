import type { AirlockContext } from '../context.js';
import { AirlockError } from '../errors.js';
import { json, readJsonObject } from '../http/responses.js';
import type { Route } from '../http/router.js';
import type { WidgetRecord } from '../stores/store.js';
import { embedSnippets } from '../widgets/embed-snippets.js';
import { parseNewWidget, parseWidgetPatch } from '../widgets/widget-input.js';
import { assertAccountAccess, canAccessAccount, requireAdmin } from './auth.js';

// Above the 64 KB behaviour limit, so an oversized behaviour gets its own clear message.
const maxWidgetBodyBytes = 256 * 1024;
const widgetPath = (suffix = '') => new RegExp(`^/admin/widgets/(?<id>[A-Za-z0-9_-]{1,100})${suffix}$`);

async function loadWidget(context: AirlockContext, id: string | undefined): Promise<WidgetRecord> {
  const widget = id === undefined ? undefined : await context.store.getWidget(id);
  if (!widget) throw new AirlockError('widget_not_found', 'There is no such widget.');
  return widget;
}

/**
 * The admin API for widgets (operator bearer token):
 * `GET|POST /admin/widgets`, `GET|PATCH|DELETE /admin/widgets/:id`,
 * `POST /admin/widgets/:id/revoke-tokens`, `GET /admin/widgets/:id/embed`.
 *
 * @example
 * ```ts
 * const routes = [...widgetAdminRoutes(context)];
 * ```
 */
export function widgetAdminRoutes(context: AirlockContext): Route[] {
  return [
    {
      method: 'GET',
      path: '/admin/widgets',
      browser: 'none',
      async handle(request) {
        const principal = requireAdmin(context, request, { accountOwners: true });
        await context.started();
        const widgets = await context.store.listWidgets();
        return json({ widgets: widgets.filter((widget) => canAccessAccount(principal, widget.accountId)) });
      },
    },
    {
      method: 'POST',
      path: '/admin/widgets',
      browser: 'none',
      async handle(request) {
        const principal = requireAdmin(context, request, { accountOwners: true });
        await context.started();
        const input = parseNewWidget(await readJsonObject(request, maxWidgetBodyBytes));
        // An account owner's widgets always belong to their account.
        if (principal.kind === 'account') input.accountId = principal.accountId;
        if (input.accountId !== undefined && !(await context.store.getAccount(input.accountId))) {
          throw new AirlockError('not_found', 'There is no such account.');
        }
        const widget = await context.store.createWidget(input);
        return json(widget, { status: 201 });
      },
    },
    {
      method: 'GET',
      path: widgetPath(),
      browser: 'none',
      async handle(request, params) {
        const principal = requireAdmin(context, request, { accountOwners: true });
        await context.started();
        const widget = await loadWidget(context, params.id);
        assertAccountAccess(principal, widget.accountId);
        return json(widget);
      },
    },
    {
      method: 'PATCH',
      path: widgetPath(),
      browser: 'none',
      async handle(request, params) {
        const principal = requireAdmin(context, request, { accountOwners: true });
        await context.started();
        const body = await readJsonObject(request, maxWidgetBodyBytes);
        const widget = await loadWidget(context, params.id);
        assertAccountAccess(principal, widget.accountId);
        return json(await context.store.updateWidget(widget.id, parseWidgetPatch(body, widget)));
      },
    },
    {
      method: 'DELETE',
      path: widgetPath(),
      browser: 'none',
      async handle(request, params) {
        const principal = requireAdmin(context, request, { accountOwners: true });
        await context.started();
        assertAccountAccess(principal, (await loadWidget(context, params.id)).accountId);
        if (!(await context.store.deleteWidget(params.id!))) throw new AirlockError('widget_not_found', 'There is no such widget.');
        return new Response(null, { status: 204 });
      },
    },
    {
      method: 'POST',
      path: widgetPath('/revoke-tokens'),
      browser: 'none',
      async handle(request, params) {
        const principal = requireAdmin(context, request, { accountOwners: true });
        await context.started();
        assertAccountAccess(principal, (await loadWidget(context, params.id)).accountId);
        const epoch = await context.store.bumpWidgetEpoch(params.id!);
        context.logger.info('widget tokens revoked', { widgetId: params.id, epoch });
        return json({ id: params.id, epoch });
      },
    },
    {
      method: 'GET',
      path: widgetPath('/embed'),
      browser: 'none',
      async handle(request, params) {
        const principal = requireAdmin(context, request, { accountOwners: true });
        await context.started();
        const widget = await loadWidget(context, params.id);
        assertAccountAccess(principal, widget.accountId);
        const url = new URL(request.url);
        const serverUrl = url.searchParams.get('server') ?? context.options.publicUrl ?? process.env.AIRLOCK_PUBLIC_URL ?? url.origin;
        return json({
          widgetId: widget.id,
          ...embedSnippets({ widgetId: widget.id, serverUrl, basePath: context.basePath, title: widget.presentation.title }),
        });
      },
    },
  ];
}
