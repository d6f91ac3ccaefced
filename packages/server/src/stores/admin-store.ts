/**
 * A per-account access token of the admin page: lets an account owner sign
 * in and see only their account. Only the SHA-256 hash of the token is kept.
 *
 * @example
 * ```ts
 * const token = await store.findAdminAccessToken(sha256Hex(presented)); // { id, accountId, … }
 * ```
 */
export interface AdminAccessTokenRecord {
  id: string;
  accountId: string;
  /** Hex SHA-256 of the token. */
  tokenHash: string;
  label?: string;
  createdAt: string;
  lastUsedAt?: string;
  revokedAt?: string;
}

/**
 * A signed-in session of the admin page, kept server-side. The cookie holds
 * a random secret; the store holds only its hash.
 *
 * @example
 * ```ts
 * const session = await store.getAdminSession(sha256Hex(cookieSecret));
 * ```
 */
export interface AdminSessionRecord {
  /** Hex SHA-256 of the cookie secret. */
  idHash: string;
  principal: 'operator' | 'account';
  /** The account an `account` session may see. */
  accountId?: string;
  /** The access token an `account` session signed in with; revoking it ends the session. */
  accessTokenId?: string;
  /** Hash of the credential signed in with, so that changing the admin token ends operator sessions. */
  credentialHash: string;
  createdAt: string;
  lastSeenAt: string;
  /** Absolute end, whatever the activity. */
  expiresAt: string;
}

/**
 * Per-account access tokens of the admin page (hashes only).
 *
 * @example
 * ```ts
 * const token = await store.findAdminAccessToken(sha256Hex(presented));
 * ```
 */
export interface AdminAccessTokenStore {
  /** Saves an admin-page access token (hash only). */
  createAdminAccessToken(record: AdminAccessTokenRecord): Promise<void>;
  /** The access token with this hash, unless revoked; notes its use. */
  findAdminAccessToken(tokenHash: string): Promise<AdminAccessTokenRecord | undefined>;
  /** An account's access tokens (revoked ones included), oldest first. */
  listAdminAccessTokens(accountId: string): Promise<AdminAccessTokenRecord[]>;
  /** Revokes an account's access token and ends its sessions; resolves `false` when there was no such live token. */
  revokeAdminAccessToken(accountId: string, id: string): Promise<boolean>;
}

/**
 * Signed-in sessions of the admin page (hashes only).
 *
 * @example
 * ```ts
 * await store.touchAdminSession(idHash, new Date().toISOString());
 * ```
 */
export interface AdminSessionStore {
  createAdminSession(record: AdminSessionRecord): Promise<void>;
  getAdminSession(idHash: string): Promise<AdminSessionRecord | undefined>;
  /** Notes activity on a session (its idle expiry counts from `lastSeenAt`). */
  touchAdminSession(idHash: string, lastSeenAt: string): Promise<void>;
  deleteAdminSession(idHash: string): Promise<void>;
  /** Deletes sessions whose absolute expiry or idle expiry (last seen before `idleBefore`) has passed; resolves how many. */
  deleteExpiredAdminSessions(now: string, idleBefore: string): Promise<number>;
}
