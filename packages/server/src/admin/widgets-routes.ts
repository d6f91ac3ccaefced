import type { AirlockContext } from '../context.js';
import { AirlockError } from '../errors.js';
import { json, readJsonObject } from '../http/responses.js';
import type { Route } from '../http/router.js';
import type { WidgetRecord } from '../stores/store.js';
import { embedSnippets } from '../widgets/embed-snippets.js';
import { parseNewWidget, parseWidgetPatch } from '../widgets/widget-input.js';
import { assertAccountAccess, canAccessAccount, requireAdmin, type AdminPrincipal } from './auth.js';

// Above the 64 KB behaviour limit, so an oversized behaviour gets its own clear message.
const maxWidgetBodyBytes = 256 * 1024;
const widgetPath = (suffix = '') => new RegExp(`^/admin/widgets/(?<id>[A-Za-z0-9_-]{1,100})${suffix}$`);

/**
 * An account owner may not give their widgets the operator's shared key,
 * nor a model the operator does not allow on it: checked on every save of
 * a widget the shared key would serve (`keySource: 'shared'`, or unset while
 * the account has no key of its own). The operator's own saves are not
 * refused; the proxy applies the same rules to every call.
 */
async function assertOwnerMayUseSharedKey(
  context: AirlockContext,
  principal: AdminPrincipal,
  widget: Pick<WidgetRecord, 'accountId' | 'type' | 'behaviour' | 'keySource'>,
): Promise<void> {
  if (principal.kind !== 'account' || widget.keySource === 'own') return;
  const [account, own] = await Promise.all([context.store.getAccount(widget.accountId), context.store.getOpenAiKey(widget.accountId)]);
  const servedByShared = widget.keySource === 'shared' || own === undefined || own.status === 'revoked';
  context.sharedKey.assertSave(widget, account?.sharedKey ?? 'none', servedByShared);
}

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
        await assertOwnerMayUseSharedKey(context, principal, { ...input, accountId: input.accountId ?? 'default' });
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
        const patch = parseWidgetPatch(body, widget);
        // Turning a widget off or renaming it is never refused; what decides the key and the model is checked.
        if ('keySource' in patch || patch.behaviour !== undefined) await assertOwnerMayUseSharedKey(context, principal, { ...widget, ...patch });
        return json(await context.store.updateWidget(widget.id, patch));
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
        const serverUrl = url.searchParams.get('server') ?? context.config.publicUrl ?? url.origin;
        return json({
          widgetId: widget.id,
          ...embedSnippets({ widgetId: widget.id, serverUrl, basePath: context.basePath, title: widget.presentation.title }),
        });
      },
    },
  ];
}
