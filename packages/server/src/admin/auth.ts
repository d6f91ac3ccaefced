import { createHash, timingSafeEqual } from 'node:crypto';
import type { AirlockContext } from '../context.js';
import { AirlockError } from '../errors.js';

/**
 * Who is calling the admin API. `operator` may do everything; per-account
 * principals (for account owners) are added by the admin page.
 *
 * @example
 * ```ts
 * const principal = requireAdmin(context, request); // { kind: 'operator' }
 * ```
 */
export type AdminPrincipal = { kind: 'operator' };

function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

/**
 * Checks `Authorization: Bearer <admin token>` against `adminToken` (option)
 * or `AIRLOCK_ADMIN_TOKEN`, in constant time (both sides hashed first, so
 * the comparison does not even reveal the length). Without a configured
 * token the admin API is closed.
 *
 * @example
 * ```ts
 * requireAdmin(context, request);
 * ```
 */
export function requireAdmin(context: AirlockContext, request: Request): AdminPrincipal {
  const configured = context.options.adminToken ?? process.env.AIRLOCK_ADMIN_TOKEN;
  const match = /^Bearer\s+(\S+)$/i.exec(request.headers.get('authorization') ?? '');
  if (!configured || !match || !timingSafeEqual(digest(match[1]!), digest(configured))) {
    throw new AirlockError('admin_unauthorized', 'This needs a valid admin token.');
  }
  return { kind: 'operator' };
}
