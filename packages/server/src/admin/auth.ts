import { sameBytes, sha256Bytes } from '../crypto/hashes.js';
import { currentRequestContext } from '../logging/request-context.js';
import type { AirlockContext } from '../context.js';
import { AirlockError } from '../errors.js';

/**
 * Who is calling the admin API: the `operator` (admin token, or a session
 * signed in with it) may do everything; an `account` owner (per-account
 * access token, or a session signed in with one) only sees their account.
 *
 * @example
 * ```ts
 * const principal = requireAdmin(context, request, { accountOwners: true });
 * if (principal.kind === 'account') console.log(principal.accountId);
 * ```
 */
export type AdminPrincipal = { kind: 'operator' } | { kind: 'account'; accountId: string };

/**
 * What the admin authentication step (run before each `/admin/…` route, see
 * `authenticateAdminRequest` in `session.ts`) found out about a request.
 */
export interface AdminCredentials {
  principal: AdminPrincipal;
  via: 'bearer' | 'session';
  /** A session request that changes something carried the session's CSRF token and a same-origin `Origin`. Always true for bearer calls and reads. */
  csrf: boolean;
  /** The request came from a page of this server's own origin. */
  sameOrigin: boolean;
}

/**
 * Options of {@link requireAdmin}.
 *
 * @example
 * ```ts
 * requireAdmin(context, request, { accountOwners: true });
 * ```
 */
export interface RequireAdminOptions {
  /**
   * Let account owners in. A route that sets this must check every account
   * or widget it touches with {@link assertAccountAccess} (or filter its
   * lists). Default: `false`: operator only, so a route that forgot the
   * check stays closed to account owners.
   */
  accountOwners?: boolean;
}

/**
 * Records what authentication found for a request; called once per request
 * by the admin authentication step, before the route runs.
 *
 * @example
 * ```ts
 * rememberAdminCredentials(request, { principal: { kind: 'operator' }, via: 'bearer', csrf: true, sameOrigin: false });
 * ```
 */
export function rememberAdminCredentials(request: Request, credentials: AdminCredentials): void {
  // In the request's context (async: sessions are read from the store), so
  // that `requireAdmin` stays synchronous for the route handlers.
  const context = currentRequestContext();
  if (context) context.admin = { request, credentials };
}

/**
 * What authentication found for a request, if anything (for routes with
 * their own rules, such as the admin page's preview).
 *
 * @example
 * ```ts
 * const credentials = adminCredentialsOf(request);
 * ```
 */
export function adminCredentialsOf(request: Request): AdminCredentials | undefined {
  const found = currentRequestContext()?.admin;
  return found?.request === request ? found.credentials : undefined;
}

/** SHA-256 of a string, for constant-time comparisons that do not reveal the length. */
export function digest(value: string): Uint8Array {
  return sha256Bytes(value);
}

/**
 * The configured admin token: `adminToken` (option), else `AIRLOCK_ADMIN_TOKEN`.
 *
 * @example
 * ```ts
 * if (!configuredAdminToken(context)) console.warn('admin API closed');
 * ```
 */
export function configuredAdminToken(context: AirlockContext): string | undefined {
  return context.config.adminToken;
}

/**
 * Whether `presented` is the admin token, in constant time (both sides
 * hashed first, so the comparison does not even reveal the length).
 *
 * @example
 * ```ts
 * isAdminToken(context, 'secret'); // false
 * ```
 */
export function isAdminToken(context: AirlockContext, presented: string): boolean {
  const configured = configuredAdminToken(context);
  return !!configured && sameBytes(digest(presented), digest(configured));
}

/**
 * Authenticates an admin API call: `Authorization: Bearer <admin token>`
 * (option `adminToken` or `AIRLOCK_ADMIN_TOKEN`), a per-account access token
 * as bearer, or the admin page's session cookie (changes also need the
 * session's `X-CSRF-Token` and a same-origin `Origin`). Without a configured
 * admin token and no access tokens, the admin API is closed. Account owners
 * are refused (`forbidden`) unless `options.accountOwners` is set.
 *
 * @example
 * ```ts
 * requireAdmin(context, request); // operator only
 * const principal = requireAdmin(context, request, { accountOwners: true });
 * assertAccountAccess(principal, widget.accountId);
 * ```
 */
export function requireAdmin(context: AirlockContext, request: Request, options: RequireAdminOptions = {}): AdminPrincipal {
  const credentials = adminCredentialsOf(request);
  let principal: AdminPrincipal;
  if (credentials) {
    if (!credentials.csrf) {
      throw new AirlockError('forbidden', 'This change needs the page’s CSRF token; reload the admin page and try again.');
    }
    principal = credentials.principal;
  } else {
    const match = /^Bearer\s+(\S+)$/i.exec(request.headers.get('authorization') ?? '');
    if (!match || !isAdminToken(context, match[1]!)) throw new AirlockError('admin_unauthorized', 'This needs a valid admin token.');
    principal = { kind: 'operator' };
  }
  if (principal.kind === 'account' && !options.accountOwners) {
    throw new AirlockError('forbidden', 'Only the operator can do this.');
  }
  return principal;
}

/**
 * Throws `forbidden` when an account owner touches another account; the
 * operator may touch every account.
 *
 * @example
 * ```ts
 * assertAccountAccess(principal, widget.accountId);
 * ```
 */
export function assertAccountAccess(principal: AdminPrincipal, accountId: string): void {
  if (principal.kind === 'account' && principal.accountId !== accountId) {
    throw new AirlockError('forbidden', 'This belongs to another account.');
  }
}

/**
 * Whether a principal may see an account (for filtering lists).
 *
 * @example
 * ```ts
 * const visible = widgets.filter((widget) => canAccessAccount(principal, widget.accountId));
 * ```
 */
export function canAccessAccount(principal: AdminPrincipal, accountId: string): boolean {
  return principal.kind === 'operator' || principal.accountId === accountId;
}
