import type { AirlockContext } from '../context.js';
import { AirlockError } from '../errors.js';
import { json, readJsonObject } from '../http/responses.js';
import type { Route } from '../http/router.js';
import type { AccountKeys, RevokeResult } from '../keys/account-keys.js';
import { SHARED_KEY_OWNER } from '../stores/store.js';
import { accountKeysFor, accountPath } from './accounts-routes.js';
import { assertAccountAccess, requireAdmin, type AdminPrincipal } from './auth.js';

/**
 * The admin API for OpenAI keys. Keys are write-only: answers carry a
 * fingerprint, never the key. An account owner may manage their own
 * account's key; the shared key is the operator's alone.
 * - `PUT /admin/accounts/:id/key` `{apiKey, validate?}` → `{fingerprint, status, savedAt}`
 * - `GET /admin/accounts/:id/key` → fingerprint, status, dates, last error, widgets
 * - `DELETE /admin/accounts/:id/key[?force=true]` → 409 `key_in_use` with `widgets` unless forced
 * - the same three on `/admin/shared-key` for the operator's shared key
 *
 * @example
 * ```ts
 * const routes = [...keyAdminRoutes(context)];
 * ```
 */
export function keyAdminRoutes(context: AirlockContext): Route[] {
  const accountKeys = accountKeysFor(context);
  // Operator: any owner. Account owner: only their own account's key, never the shared key.
  const authorise = (request: Request, ownerId: string): AdminPrincipal => {
    if (ownerId === SHARED_KEY_OWNER) return requireAdmin(context, request);
    const principal = requireAdmin(context, request, { accountOwners: true });
    assertAccountAccess(principal, ownerId);
    return principal;
  };
  const routesFor = (path: string | RegExp, ownerOf: (params: Record<string, string>) => string): Route[] => [
    {
      method: 'PUT',
      path,
      browser: 'none',
      async handle(request, params) {
        const principal = authorise(request, ownerOf(params));
        await context.started();
        const body = await readJsonObject(request, 4096);
        if (body.validate !== undefined && typeof body.validate !== 'boolean') {
          throw new AirlockError('input_invalid', '"validate" must be true or false.');
        }
        const saved = await accountKeys.save(ownerOf(params), body.apiKey, { validate: body.validate });
        context.logger.info('OpenAI key saved', { owner: ownerOf(params), fingerprint: saved.fingerprint, by: principal.kind });
        return json(saved);
      },
    },
    {
      method: 'GET',
      path,
      browser: 'none',
      async handle(request, params) {
        authorise(request, ownerOf(params));
        await context.started();
        return json(await show(context, accountKeys, ownerOf(params)));
      },
    },
    {
      method: 'DELETE',
      path,
      browser: 'none',
      async handle(request, params) {
        const principal = authorise(request, ownerOf(params));
        await context.started();
        const force = new URL(request.url).searchParams.get('force');
        if (force !== null && force !== 'true' && force !== 'false') throw new AirlockError('input_invalid', '"force" must be true or false.');
        const result = await accountKeys.revoke(ownerOf(params), { force: force === 'true' });
        if (result.outcome === 'revoked') {
          context.logger.info('OpenAI key revoked', {
            owner: ownerOf(params),
            fingerprint: result.key.fingerprint,
            by: principal.kind,
            widgetsLeftWithoutKey: result.key.widgets.length,
          });
        }
        return revokeResponse(result);
      },
    },
  ];
  return [...routesFor(accountPath('/key'), (params) => params.id!), ...routesFor('/admin/shared-key', () => SHARED_KEY_OWNER)];
}

async function show(context: AirlockContext, accountKeys: AccountKeys, ownerId: string): Promise<unknown> {
  const key = await accountKeys.show(ownerId);
  if (ownerId !== SHARED_KEY_OWNER) {
    if (!key) throw new AirlockError('not_found', 'This account has no saved key.');
    return key;
  }
  // The shared key may also come from OPENAI_API_KEY; say which one serves.
  const stored = key && key.status !== 'revoked';
  const source = stored ? 'vault' : context.upstream.settings.apiKey ? 'environment' : 'none';
  return { source, key: key ?? null, widgets: key?.widgets ?? (await accountKeys.widgetsUsing(ownerId)) };
}

function revokeResponse(result: RevokeResult): Response {
  if (result.outcome === 'revoked') return json(result.key);
  const names = result.widgets.map((widget) => widget.name).join(', ');
  const error = new AirlockError(
    'key_in_use',
    `This key is used by ${result.widgets.length} widget(s): ${names}. Move them to another key first, or revoke with force.`,
  );
  return json({ ...error.toJSON(), widgets: result.widgets }, { status: error.status });
}
