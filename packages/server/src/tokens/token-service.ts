import { TOKEN_AUDIENCE, type TokenLimits } from '@airlock/protocol';
import { errors as joseErrors, jwtVerify, SignJWT, type JWTPayload } from 'jose';
import { AirlockError } from '../errors.js';
import type { SigningKeys } from './signing-keys.js';

/** Default token lifetime: 10 minutes. */
export const defaultTokenTtlSeconds = 600;
/** Largest lifetime a caller may ask for: 24 hours. */
export const maxTokenTtlSeconds = 86_400;
const clockToleranceSeconds = 60;
/** Verified tokens remembered per instance (about 1 KB each). */
const verifiedCacheSize = 10_000;

/**
 * What a verified token says.
 *
 * @example
 * ```ts
 * const verified = await tokens.verify(bearer);
 * verified.widgetId; // 'wgt_…'
 * ```
 */
export interface VerifiedToken {
  widgetId: string;
  subject: string;
  origin?: string;
  /** For a public visitor's token, the site it was minted for; each call checks it is still allowed. */
  site?: string;
  epoch: number;
  tokenId: string;
  /** Issue time, milliseconds since the epoch. */
  issuedAt: number;
  expiresAt: number;
  /** Per-token limits a backend set when minting; the proxy enforces them. */
  limits?: TokenLimits;
}

/**
 * What to put in a new token.
 */
export interface MintInput {
  widgetId: string;
  subject: string;
  epoch: number;
  /** Binds the token to this browser origin. Default: unbound. */
  origin?: string;
  /** A public visitor's site (the `site` claim), checked against the widget's allowed origins on every call. Default: none. */
  site?: string;
  /** Lifetime in seconds, 1 to {@link maxTokenTtlSeconds}. Default: {@link defaultTokenTtlSeconds}. */
  ttlSeconds?: number;
  /** Per-token limits, carried as the `limits` claim. Default: none. */
  limits?: TokenLimits;
}

/**
 * Checks per-token limits given by a caller: each a whole number from 1 to 10^9.
 *
 * @example
 * ```ts
 * parseTokenLimits({ requests: 20 }); // { requests: 20 }
 * ```
 */
export function parseTokenLimits(value: unknown): TokenLimits | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'object' || Array.isArray(value)) throw new AirlockError('input_invalid', '"limits" must be an object.');
  const limits: TokenLimits = {};
  for (const [name, amount] of Object.entries(value as Record<string, unknown>)) {
    if (name !== 'requests' && name !== 'outputTokens') {
      throw new AirlockError('input_invalid', '"limits" may hold only "requests" and "outputTokens".');
    }
    if (amount === undefined) continue;
    if (typeof amount !== 'number' || !Number.isInteger(amount) || amount < 1 || amount > 1e9) {
      throw new AirlockError('input_invalid', `"limits.${name}" must be a whole number from 1 to 1000000000.`);
    }
    limits[name] = amount;
  }
  return Object.keys(limits).length > 0 ? limits : undefined;
}

/** Options of {@link TokenService}. */
export interface TokenServiceOptions {
  keys: SigningKeys;
  /** `iss` claim. Default: `'airlock'`. */
  issuer?: string;
  /** Clock, for tests. Default: `() => new Date()`. */
  now?: () => Date;
}

/**
 * Mints and verifies widget tokens: Ed25519 JWTs (`alg: EdDSA`) with a `kid`.
 * Verification pins the algorithm, issuer and audience, requires `exp`,
 * `iat`, `jti` and `sub`, and allows 60 s of clock skew.
 *
 * @example
 * ```ts
 * const tokens = new TokenService({ keys });
 * const { token } = await tokens.mint({ widgetId: 'wgt_1', subject: 'visitor_1', epoch: 0 });
 * ```
 */
export class TokenService {
  readonly #keys: SigningKeys;
  readonly #verified = new Map<string, { result: VerifiedToken; kid: string }>();
  readonly issuer: string;
  readonly #now: () => Date;

  constructor(options: TokenServiceOptions) {
    this.#keys = options.keys;
    this.issuer = options.issuer ?? 'airlock';
    this.#now = options.now ?? (() => new Date());
  }

  /** `expiresIn`: the lifetime in seconds, which a client counts on its own clock (its device clock may be off). */
  async mint(input: MintInput): Promise<{ token: string; expiresAt: number; expiresIn: number }> {
    const ttl = input.ttlSeconds ?? defaultTokenTtlSeconds;
    if (!Number.isInteger(ttl) || ttl <= 0 || ttl > maxTokenTtlSeconds) {
      throw new AirlockError('input_invalid', `ttlSeconds must be a whole number from 1 to ${maxTokenTtlSeconds}.`);
    }
    const issuedAt = Math.floor(this.#now().getTime() / 1000);
    const payload: JWTPayload = { wid: input.widgetId, epoch: input.epoch };
    if (input.origin) payload.origin = input.origin;
    if (input.site) payload.site = input.site;
    const limits = parseTokenLimits(input.limits);
    if (limits) payload.limits = limits;
    const signing = await this.#keys.signingKey();
    const token = await new SignJWT(payload)
      .setProtectedHeader({ alg: 'EdDSA', kid: signing.kid, typ: 'JWT' })
      .setIssuer(this.issuer)
      .setAudience(TOKEN_AUDIENCE)
      .setSubject(input.subject)
      .setJti(globalThis.crypto.randomUUID())
      .setIssuedAt(issuedAt)
      .setExpirationTime(issuedAt + ttl)
      .sign(signing.privateKey);
    return { token, expiresAt: (issuedAt + ttl) * 1000, expiresIn: ttl };
  }

  /** Verifies a token; throws `token_expired` or `token_invalid` (details only in `cause`). */
  async verify(token: string): Promise<VerifiedToken> {
    // A widget sends the same token with every request for minutes; the
    // signature check is the costliest step of a proxied request, so a
    // verified token is remembered until it expires. A hit still checks the
    // expiry and that its signing key is still accepted (a retired key stops
    // its tokens at once).
    const cached = this.#verified.get(token);
    if (cached) {
      const stillValid = this.#now().getTime() < cached.result.expiresAt + clockToleranceSeconds * 1000;
      if (stillValid && (await this.#keys.verificationKey(cached.kid))) return cached.result;
      this.#verified.delete(token);
    }
    const verified = await this.#verifySignature(token);
    // Oldest first out: Map keeps insertion order.
    if (this.#verified.size >= verifiedCacheSize) this.#verified.delete(this.#verified.keys().next().value!);
    this.#verified.set(token, verified);
    return verified.result;
  }

  async #verifySignature(token: string): Promise<{ result: VerifiedToken; kid: string }> {
    let kid = '';
    try {
      const { payload } = await jwtVerify(
        token,
        async (header) => {
          kid = header.kid ?? '';
          const key = await this.#keys.verificationKey(header.kid);
          if (!key) throw new Error('unknown kid');
          return key;
        },
        {
          algorithms: ['EdDSA'],
          issuer: this.issuer,
          audience: TOKEN_AUDIENCE,
          requiredClaims: ['exp', 'iat', 'jti', 'sub'],
          clockTolerance: clockToleranceSeconds,
          currentDate: this.#now(),
        },
      );
      if (typeof payload.wid !== 'string' || typeof payload.epoch !== 'number') throw new Error('missing widget claims');
      if (payload.origin !== undefined && typeof payload.origin !== 'string') throw new Error('bad origin claim');
      if (payload.site !== undefined && typeof payload.site !== 'string') throw new Error('bad site claim');
      // A token carrying limits the server cannot read must not run unlimited.
      const limits = payload.limits === undefined ? undefined : parseTokenLimits(payload.limits);
      // iat in the future beyond the skew means a forged or mis-clocked token.
      if (payload.iat! > this.#now().getTime() / 1000 + clockToleranceSeconds) throw new Error('iat in the future');
      const result: VerifiedToken = {
        widgetId: payload.wid,
        subject: payload.sub!,
        origin: payload.origin as string | undefined,
        ...(payload.site !== undefined && { site: payload.site as string }),
        epoch: payload.epoch,
        tokenId: payload.jti!,
        issuedAt: payload.iat! * 1000,
        expiresAt: payload.exp! * 1000,
        ...(limits && { limits }),
      };
      return { result, kid };
    } catch (error) {
      if (error instanceof joseErrors.JWTExpired) {
        throw new AirlockError('token_expired', 'This session has expired; get a new token.', { cause: error });
      }
      throw new AirlockError('token_invalid', 'This token is not valid.', { cause: error });
    }
  }
}
