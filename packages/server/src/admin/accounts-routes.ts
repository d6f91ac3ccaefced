import type { AirlockContext } from '../context.js';
import { AirlockError } from '../errors.js';
import { json, readJsonObject } from '../http/responses.js';
import type { Route } from '../http/router.js';
import { AccountKeys } from '../keys/account-keys.js';
import type { SharedKeyGrant } from '../stores/store.js';
import { assertAccountAccess, canAccessAccount, requireAdmin } from './auth.js';

/** `/admin/accounts/:id` with an optional suffix; the id pattern matches account ids. */
export const accountPath = (suffix = '') => new RegExp(`^/admin/accounts/(?<id>[A-Za-z0-9_-]{1,64})${suffix}$`);

/**
 * The account and key operations of the admin API, over the context's store and vault.
 *
 * @example
 * ```ts
 * const accountKeys = accountKeysFor(context);
 * ```
 */
export function accountKeysFor(context: AirlockContext): AccountKeys {
  return new AccountKeys({
    store: context.store,
    vault: context.vault,
    baseURL: context.upstream.settings.baseURL,
    fetch: context.upstream.settings.fetch,
    rotationReminderDays: context.config.keyRotationReminderDays,
    now: context.now,
  });
}

const sharedKeyGrants: readonly SharedKeyGrant[] = ['none', 'listed-models', 'any-model'];

/**
 * The admin API for accounts: `GET|POST /admin/accounts`, `GET /admin/accounts/:id`
 * (with its key, never the key itself, and its grant of the shared key), and
 * `PUT /admin/accounts/:id/shared-key` with `{"grant": "none" | "listed-models" | "any-model"}`.
 * The operator sees every account, creates them and grants the shared key;
 * an account owner sees only their own, and cannot change its grant.
 *
 * @example
 * ```ts
 * const routes = [...accountAdminRoutes(context)];
 * ```
 */
export function accountAdminRoutes(context: AirlockContext): Route[] {
  const accountKeys = accountKeysFor(context);
  return [
    {
      method: 'GET',
      path: '/admin/accounts',
      browser: 'none',
      async handle(request) {
        const principal = requireAdmin(context, request, { accountOwners: true });
        await context.started();
        const accounts = await context.store.listAccounts();
        return json({ accounts: accounts.filter((account) => canAccessAccount(principal, account.id)) });
      },
    },
    {
      method: 'POST',
      path: '/admin/accounts',
      browser: 'none',
      async handle(request) {
        requireAdmin(context, request);
        await context.started();
        const body = await readJsonObject(request, 4096);
        return json(await accountKeys.createAccount({ id: body.id, name: body.name }), { status: 201 });
      },
    },
    {
      method: 'GET',
      path: accountPath(),
      browser: 'none',
      async handle(request, params) {
        assertAccountAccess(requireAdmin(context, request, { accountOwners: true }), params.id!);
        await context.started();
        const account = await accountKeys.account(params.id!);
        return json({ ...account, key: (await accountKeys.show(account.id)) ?? null });
      },
    },
    {
      method: 'PUT',
      path: accountPath('/shared-key'),
      browser: 'none',
      async handle(request, params) {
        // The operator's alone: an owner who could grant it would spend the operator's key at will.
        requireAdmin(context, request);
        await context.started();
        const { grant } = await readJsonObject(request, 1024);
        if (!sharedKeyGrants.includes(grant as SharedKeyGrant)) {
          throw new AirlockError('input_invalid', '"grant" must be "none", "listed-models" or "any-model".');
        }
        const account = await context.store.setSharedKeyGrant((await accountKeys.account(params.id!)).id, grant as SharedKeyGrant);
        context.logger.info('shared key grant changed', { accountId: account.id, grant: account.sharedKey });
        return json(account);
      },
    },
  ];
}
