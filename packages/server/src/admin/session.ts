import { randomBytes, sameBytes, sha256Base64url, sha256Hex } from '../crypto/hashes.js';
import type { AirlockContext } from '../context.js';
import { AirlockError } from '../errors.js';
import { newId } from '../ids.js';
import type { AdminAccessTokenRecord, AdminSessionRecord, Store } from '../stores/store.js';
import { configuredAdminToken, digest, isAdminToken, rememberAdminCredentials, type AdminPrincipal } from './auth.js';
import { enforceRateLimit } from '../limits/rate-limiter.js';
import { addressKey, clientAddressKey } from '../http/client-address.js';

/**
 * Options of the admin page's sign-in sessions (`AirlockOptions.adminSessions`).
 */
export interface AdminSessionOptions {
  /** A session ends after this many minutes without a request. Default: `120`. */
  idleMinutes?: number;
  /** A session ends this many hours after sign-in, whatever the activity. Default: `8`. */
  maxHours?: number;
  /**
   * Believe `X-Forwarded-Proto: https` from a TLS-terminating reverse proxy
   * when deciding to mark the cookie `Secure`. Only set it when a proxy you
   * run sets that header (clients can send it too). Default: `false`: only a
   * request URL with `https:` counts (or `AIRLOCK_TRUST_FORWARDED_PROTO=true`
   * in the environment, for `airlock serve`).
   */
  trustForwardedProto?: boolean;
  /** Sign-in attempts allowed per client address a minute. Default: `10`. */
  signInPerMinute?: number;
  /**
   * Failed credentials (a wrong admin token or access token, sent as bearer
   * to the admin API or at sign-in) allowed from one client address (an IPv6
   * address counts as its /64). Past it the address is refused with 429
   * `rate_limited`, whatever it presents, until `failureLockoutMinutes` after
   * its last counted failure. A success does not clear the count (else a
   * valid access token would let its holder keep guessing the admin token).
   * Without a known client address nothing is counted (see
   * `AirlockOptions.clientAddress`). Default: `10`.
   */
  failedAttemptsPerAddress?: number;
  /** Minutes an address stays refused after its last counted failure. Default: `15`. */
  failureLockoutMinutes?: number;
}

/** Name of the session cookie. */
export const sessionCookieName = 'airlock_admin';
const accessTokenPrefix = 'alat_';
// A session's last-seen time is written at most this often, not on every request.
const touchEveryMs = 60_000;

export { sha256Hex } from '../crypto/hashes.js';

function settings(context: AirlockContext) {
  const options = context.config.adminSessions;
  return {
    idleMs: (options.idleMinutes ?? 120) * 60_000,
    maxMs: (options.maxHours ?? 8) * 3_600_000,
    trustForwardedProto: options.trustForwardedProto ?? false,
    signInPerMinute: options.signInPerMinute ?? 10,
    failedAttemptsPerAddress: options.failedAttemptsPerAddress ?? 10,
    lockoutMs: (options.failureLockoutMinutes ?? 15) * 60_000,
  };
}

/**
 * The CSRF token of a session: derived from the session secret (which only
 * the cookie holds), so it is bound to the session without being stored, and
 * a leaked CSRF token does not reveal the secret.
 *
 * @example
 * ```ts
 * response.csrfToken = csrfTokenFor(secret);
 * ```
 */
export function csrfTokenFor(secret: string): string {
  return sha256Base64url(`airlock-admin-csrf\0${secret}`);
}

/**
 * Creates a per-account access token for the admin page. The token is
 * returned once; only its SHA-256 hash is stored.
 *
 * @example
 * ```ts
 * const { token } = await createAccessToken(store, { accountId: 'acme', label: 'Jane' });
 * ```
 */
export async function createAccessToken(
  store: Store,
  input: { accountId: string; label?: string; now?: Date },
): Promise<{ token: string; record: Omit<AdminAccessTokenRecord, 'tokenHash'> }> {
  if (!(await store.getAccount(input.accountId))) throw new AirlockError('not_found', 'There is no such account.');
  if (input.label !== undefined && (typeof input.label !== 'string' || input.label.length > 100)) {
    throw new AirlockError('input_invalid', '"label" must be a string of at most 100 characters.');
  }
  const token = `${accessTokenPrefix}${Buffer.from(randomBytes(32)).toString('base64url')}`;
  const record: AdminAccessTokenRecord = {
    id: newId('acctok'),
    accountId: input.accountId,
    tokenHash: sha256Hex(token),
    createdAt: (input.now ?? new Date()).toISOString(),
    ...(input.label && { label: input.label }),
  };
  await store.createAdminAccessToken(record);
  const { tokenHash: _hash, ...shown } = record;
  return { token, record: shown };
}

/** Who a presented token (admin token or access token) signs in as, if anyone. */
async function principalForToken(
  context: AirlockContext,
  token: string,
): Promise<{ principal: AdminPrincipal; credentialHash: string; accessTokenId?: string } | undefined> {
  if (isAdminToken(context, token)) return { principal: { kind: 'operator' }, credentialHash: sha256Hex(token) };
  if (!token.startsWith(accessTokenPrefix) || token.length > 200) return undefined;
  const record = await context.store.findAdminAccessToken(sha256Hex(token));
  if (!record) return undefined;
  return { principal: { kind: 'account', accountId: record.accountId }, credentialHash: record.tokenHash, accessTokenId: record.id };
}

function readCookie(request: Request, name: string): string | undefined {
  for (const part of (request.headers.get('cookie') ?? '').split(';')) {
    const [key, ...value] = part.trim().split('=');
    if (key === name) return value.join('=');
  }
  return undefined;
}

/**
 * Whether a request came from a page of this server's own origin: its
 * `Origin` names the request's own host (and `Sec-Fetch-Site`, when sent,
 * says `same-origin`). Browsers send `Origin` on every change, so a missing
 * one counts as cross-site.
 *
 * @example
 * ```ts
 * if (!isSameOrigin(request)) throw new AirlockError('forbidden', '…');
 * ```
 */
export function isSameOrigin(request: Request): boolean {
  const origin = request.headers.get('origin');
  const fetchSite = request.headers.get('sec-fetch-site');
  if (!origin || (fetchSite !== null && fetchSite !== 'same-origin')) return false;
  try {
    return new URL(origin).host === new URL(request.url).host;
  } catch {
    return false;
  }
}

function isHttps(context: AirlockContext, request: Request): boolean {
  if (new URL(request.url).protocol === 'https:') return true;
  const forwarded = request.headers.get('x-forwarded-proto')?.split(',')[0]?.trim().toLowerCase();
  return settings(context).trustForwardedProto && forwarded === 'https';
}

function cookie(context: AirlockContext, request: Request, value: string, maxAgeSeconds: number): string {
  const parts = [`${sessionCookieName}=${value}`, `Path=${context.basePath}/admin`, `Max-Age=${maxAgeSeconds}`, 'HttpOnly', 'SameSite=Strict'];
  if (isHttps(context, request)) parts.push('Secure');
  return parts.join('; ');
}

/**
 * A valid session for the request's cookie, with its secret; expired or
 * orphaned sessions (admin token changed) are deleted on sight.
 */
async function currentSession(context: AirlockContext, request: Request): Promise<{ session: AdminSessionRecord; secret: string } | undefined> {
  const secret = readCookie(request, sessionCookieName);
  if (!secret || !/^[A-Za-z0-9_-]{43}$/.test(secret)) return undefined;
  const idHash = sha256Hex(secret);
  const session = await context.store.getAdminSession(idHash);
  if (!session) return undefined;
  const now = context.now().getTime();
  const { idleMs } = settings(context);
  const adminToken = configuredAdminToken(context);
  const orphaned = session.principal === 'operator' && (!adminToken || sha256Hex(adminToken) !== session.credentialHash);
  if (orphaned || Date.parse(session.expiresAt) <= now || Date.parse(session.lastSeenAt) + idleMs <= now) {
    await context.store.deleteAdminSession(idHash);
    return undefined;
  }
  if (now - Date.parse(session.lastSeenAt) >= touchEveryMs) {
    await context.store.touchAdminSession(idHash, new Date(now).toISOString());
  }
  return { session, secret };
}

function principalOf(session: AdminSessionRecord): AdminPrincipal {
  return session.principal === 'account' ? { kind: 'account', accountId: session.accountId! } : { kind: 'operator' };
}

const safeMethods = new Set(['GET', 'HEAD', 'OPTIONS']);

const failureKey = (address: string) => `admin-failures:${address}`;
const warnedUnthrottled = new WeakSet<AirlockContext>();

/**
 * Refuses (429) an address that has used up its failed attempts, before its
 * credentials are even looked at: a locked-out guesser learns nothing, not
 * even that a guess was right. Without a known address nothing is refused:
 * one shared count would let any single client lock every operator out, so
 * there the admin token's own strength is the defence (warned once).
 */
async function refuseLockedOut(context: AirlockContext, address: string | undefined): Promise<void> {
  if (address === undefined) {
    if (!warnedUnthrottled.has(context)) {
      warnedUnthrottled.add(context);
      context.logger.warn('admin failed attempts are not throttled: the client address is unknown (set clientAddress)');
    }
    return;
  }
  const { failedAttemptsPerAddress, lockoutMs } = settings(context);
  if ((await context.counters.readBudget(failureKey(address))) >= failedAttemptsPerAddress) {
    throw new AirlockError('rate_limited', 'Too many failed attempts from this address; try again later.', {
      headers: { 'retry-after': String(Math.ceil(lockoutMs / 1000)) },
    });
  }
}

// Counted after the check, so correct credentials never wait on the count.
async function countFailure(context: AirlockContext, address: string | undefined): Promise<void> {
  if (address === undefined) return;
  const { failedAttemptsPerAddress, lockoutMs } = settings(context);
  const { total } = await context.counters.addToBudget(failureKey(address), 1, { expiresAt: context.now().getTime() + lockoutMs });
  if (total === failedAttemptsPerAddress) context.logger.warn('admin address locked out after failed attempts', { address, failures: total });
}

/**
 * The admin authentication step, run before every `/admin/…` route: finds
 * the principal from a bearer token (admin token or per-account access
 * token) or the session cookie, checks a session's CSRF token and `Origin`
 * on changes, and records the outcome for `requireAdmin`. Never throws for
 * missing credentials: the route decides. A wrong bearer token counts as a
 * failed attempt of its client address, and an address locked out by them
 * is refused here (429 `rate_limited`) before its token is looked at.
 *
 * @example
 * ```ts
 * if (path.startsWith('/admin/')) await authenticateAdminRequest(context, request);
 * ```
 */
export async function authenticateAdminRequest(context: AirlockContext, request: Request): Promise<void> {
  const sameOrigin = isSameOrigin(request);
  const bearer = /^Bearer\s+(\S+)$/i.exec(request.headers.get('authorization') ?? '');
  if (bearer) {
    const address = clientAddressKey(request, context.config.clientAddress);
    await refuseLockedOut(context, address);
    // The admin token is checked by `requireAdmin` itself; only access tokens need the store.
    if (isAdminToken(context, bearer[1]!)) return;
    await context.started();
    const signedIn = await principalForToken(context, bearer[1]!);
    if (signedIn) rememberAdminCredentials(request, { principal: signedIn.principal, via: 'bearer', csrf: true, sameOrigin });
    else await countFailure(context, address);
    return;
  }
  if (!readCookie(request, sessionCookieName)) return;
  await context.started();
  const current = await currentSession(context, request);
  if (!current) return;
  let csrf = true;
  if (!safeMethods.has(request.method)) {
    const presented = request.headers.get('x-csrf-token') ?? '';
    csrf = sameOrigin && sameBytes(digest(presented), digest(csrfTokenFor(current.secret)));
  }
  rememberAdminCredentials(request, { principal: principalOf(current.session), via: 'session', csrf, sameOrigin });
}

/**
 * `POST /admin/session` `{token}`: signs in with the admin token or an
 * access token, sets the session cookie and answers the principal and the
 * CSRF token. Refuses cross-origin sign-in (login CSRF), more than
 * `signInPerMinute` attempts per client address, and an address locked out
 * by `failedAttemptsPerAddress` failures (which the bearer path counts too).
 *
 * @example
 * ```ts
 * const response = await signIn(context, request, body.token, address);
 * ```
 */
export async function signIn(context: AirlockContext, request: Request, token: unknown, clientAddress: string | undefined): Promise<Response> {
  if (!isSameOrigin(request)) throw new AirlockError('forbidden', 'Sign in from the admin page itself.');
  const { signInPerMinute, maxMs } = settings(context);
  // Per address only: without one, a shared count would let one client lock every operator out.
  const address = clientAddress ? addressKey(clientAddress) : undefined;
  if (address)
    await enforceRateLimit(context.counters, `admin-sign-in:${address}`, signInPerMinute, 60_000, 'Too many sign-in attempts; try again in a minute.');
  await refuseLockedOut(context, address);
  await context.started();
  const signedIn = typeof token === 'string' && token.length > 0 ? await principalForToken(context, token.trim()) : undefined;
  if (!signedIn) {
    await countFailure(context, address);
    throw new AirlockError('admin_unauthorized', 'This token is not valid here.');
  }
  const now = context.now();
  await context.store.deleteExpiredAdminSessions(now.toISOString(), new Date(now.getTime() - settings(context).idleMs).toISOString());
  const secret = Buffer.from(randomBytes(32)).toString('base64url');
  const session: AdminSessionRecord = {
    idHash: sha256Hex(secret),
    principal: signedIn.principal.kind,
    credentialHash: signedIn.credentialHash,
    createdAt: now.toISOString(),
    lastSeenAt: now.toISOString(),
    expiresAt: new Date(now.getTime() + maxMs).toISOString(),
    ...(signedIn.principal.kind === 'account' && { accountId: signedIn.principal.accountId }),
    ...(signedIn.accessTokenId && { accessTokenId: signedIn.accessTokenId }),
  };
  await context.store.createAdminSession(session);
  context.logger.info('admin signed in', {
    principal: signedIn.principal.kind,
    ...(signedIn.principal.kind === 'account' && { accountId: signedIn.principal.accountId }),
  });
  return sessionResponse(context, session, secret, {
    status: 201,
    headers: { 'set-cookie': cookie(context, request, secret, Math.floor(maxMs / 1000)) },
  });
}

/**
 * `GET /admin/session`: the signed-in principal and CSRF token, or 401.
 *
 * @example
 * ```ts
 * return describeSession(context, request);
 * ```
 */
export async function describeSession(context: AirlockContext, request: Request): Promise<Response> {
  await context.started();
  const current = await currentSession(context, request);
  if (!current) throw new AirlockError('admin_unauthorized', 'Please sign in.');
  return sessionResponse(context, current.session, current.secret);
}

/**
 * `DELETE /admin/session`: ends the session (needs its CSRF token) and clears the cookie.
 *
 * @example
 * ```ts
 * return signOut(context, request);
 * ```
 */
export async function signOut(context: AirlockContext, request: Request): Promise<Response> {
  await context.started();
  const current = await currentSession(context, request);
  if (current) {
    const presented = request.headers.get('x-csrf-token') ?? '';
    if (!isSameOrigin(request) || !sameBytes(digest(presented), digest(csrfTokenFor(current.secret)))) {
      throw new AirlockError('forbidden', 'This change needs the page’s CSRF token; reload the admin page and try again.');
    }
    await context.store.deleteAdminSession(current.session.idHash);
  }
  return new Response(null, { status: 204, headers: { 'set-cookie': cookie(context, request, '', 0), 'cache-control': 'no-store' } });
}

function sessionResponse(context: AirlockContext, session: AdminSessionRecord, secret: string, init: ResponseInit = {}): Response {
  const idleEndsAt = Date.parse(session.lastSeenAt) + settings(context).idleMs;
  const body = {
    principal: principalOf(session),
    csrfToken: csrfTokenFor(secret),
    expiresAt: new Date(Math.min(idleEndsAt, Date.parse(session.expiresAt))).toISOString(),
  };
  const headers = new Headers(init.headers);
  headers.set('content-type', 'application/json; charset=utf-8');
  headers.set('cache-control', 'no-store');
  return new Response(JSON.stringify(body), { ...init, headers });
}
