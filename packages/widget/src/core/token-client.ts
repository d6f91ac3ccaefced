import type { TokenRequest, WidgetPublicConfig } from '@airlock/protocol';
import { WidgetError, errorFromResponse, networkError } from './errors';
import { randomId } from './ids';

/**
 * A widget token as the widget keeps it. `widget` is present when the token
 * came from public minting (or a `getToken` callback that passes it through).
 */
export interface WidgetToken {
  /** The JWT sent as `Authorization: Bearer <token>`. */
  token: string;
  /** Expiry in milliseconds since the epoch, by the server's clock. */
  expiresAt: number;
  /**
   * Seconds the token is valid for, as the server states it. Renewal is
   * scheduled from this (or else the token's own `exp - iat`) on the page's
   * monotonic clock, so a device clock minutes off the server's does not matter.
   */
  expiresIn?: number;
  /** The widget's public configuration, when the source of the token knows it. */
  widget?: WidgetPublicConfig;
}

/**
 * Options of {@link TokenClient}.
 */
export interface TokenClientOptions {
  /** The widget to mint tokens for. Required. */
  widgetId: string;
  /** Base URL of the Airlock server, e.g. `https://example.com/airlock`. Required. */
  apiBase: string;
  /**
   * Supplies tokens for a private widget (your backend mints them for a signed-in
   * user). Resolve `null` when nobody is signed in: the error is then
   * `sign_in_required`. Default: `undefined`, i.e. public minting through `POST {apiBase}/token`.
   */
  getToken?: () => Promise<WidgetToken | null>;
  /** Where public tokens are minted. Default: `${apiBase}/token`. */
  tokenUrl?: string;
  /** Visitor id sent when minting. Default: a random UUID, kept in memory. */
  visitorId?: string;
  /** The `fetch` to use. Default: the global `fetch`. */
  fetch?: typeof fetch;
  /**
   * A monotonic clock in milliseconds, which the device's clock setting does not
   * move. Default: `performance.now`.
   */
  now?: () => number;
  /** How long before `expiresAt` a token is renewed, in milliseconds. Default: `30_000`. */
  renewalMargin?: number;
  /** Called after every new token. Default: `undefined`. */
  onTokenRefreshed?: (token: WidgetToken) => void;
}

/**
 * Keeps a valid widget token: mints one on first use, renews it lazily shortly
 * before it expires, and shares one in-flight request between concurrent callers.
 *
 * @example
 * ```ts
 * const tokens = new TokenClient({ widgetId: 'wgt_1', apiBase: 'https://example.com/airlock' });
 * const token = await tokens.getToken(); // the same token until ~30 s before it expires
 * ```
 */
export class TokenClient {
  readonly #options: TokenClientOptions;
  readonly #fetch: typeof fetch;
  readonly #now: () => number;
  readonly #renewalMargin: number;
  #visitorId: string | undefined;
  #current: WidgetToken | undefined;
  /** When, on the monotonic clock, the current token must be renewed. */
  #renewAt = 0;
  #widget: WidgetPublicConfig | undefined;
  #pending: Promise<WidgetToken> | undefined;

  constructor(options: TokenClientOptions) {
    this.#options = options;
    // Looked up per call and called unbound: a browser's `fetch` throws "Illegal invocation" as a method of another object.
    this.#fetch = options.fetch ?? ((input, init) => fetch(input, init));
    this.#now = options.now ?? (() => performance.now());
    this.#renewalMargin = options.renewalMargin ?? 30_000;
    this.#visitorId = options.visitorId;
  }

  /** The widget's public configuration, once a token that carried it arrived. */
  get widget(): WidgetPublicConfig | undefined {
    return this.#widget;
  }

  /** A token valid for at least the renewal margin, renewing first when needed. */
  async getToken(): Promise<string> {
    const current = this.#current;
    if (current && this.#now() < this.#renewAt) return current.token;
    return this.renew(current?.token);
  }

  /**
   * Renews now when a token was issued before and is within the renewal margin
   * of expiring (or past it). Called when the tab wakes or the network returns:
   * timers may not have run while the tab slept, and the next message should not
   * wait for a renewal. Never rejects; a failure resurfaces on the next request.
   */
  async renewIfStale(): Promise<void> {
    const current = this.#current;
    if (!current || this.#now() < this.#renewAt) return;
    await this.renew(current.token).catch(() => {});
  }

  /** The visitor id used for public minting, once known. Set it (from storage, say) before the first mint. */
  get visitorId(): string | undefined {
    return this.#visitorId;
  }

  set visitorId(value: string | undefined) {
    this.#visitorId = value;
  }

  /**
   * Fetches a new token, joining a renewal already in flight. Pass the token that
   * was refused: if another caller has replaced it meanwhile, that newer token is
   * returned without a request.
   */
  async renew(staleToken?: string): Promise<string> {
    const current = this.#current;
    if (staleToken !== undefined && current && current.token !== staleToken) return current.token;
    this.#pending ??= this.#request().finally(() => {
      this.#pending = undefined;
    });
    return (await this.#pending).token;
  }

  /**
   * Runs `run` with a valid token; when it fails with `token_expired` (the
   * server's clock disagreeing with ours, say), renews once and runs it again.
   */
  async withToken<T>(run: (token: string) => Promise<T>): Promise<T> {
    const token = await this.getToken();
    try {
      return await run(token);
    } catch (error) {
      if (!WidgetError.isInstance(error) || error.code !== 'token_expired') throw error;
      return run(await this.renew(token));
    }
  }

  async #request(): Promise<WidgetToken> {
    const requested = this.#now();
    const token = this.#options.getToken ? await this.#fromCallback(this.#options.getToken) : await this.#mint();
    if (typeof token?.token !== 'string' || !Number.isFinite(token.expiresAt)) {
      throw new WidgetError('token_invalid', 'No usable token.');
    }
    // Counted from when we asked, so the time the answer took is spent from the lifetime, not added to it.
    const lifetime = (token.expiresIn ?? lifetimeOf(token.token) ?? (token.expiresAt - Date.now()) / 1000) * 1000;
    this.#renewAt = requested + lifetime - this.#renewalMargin;
    this.#current = token;
    if (token.widget) this.#widget = token.widget;
    this.#options.onTokenRefreshed?.(token);
    return token;
  }

  async #fromCallback(getToken: () => Promise<WidgetToken | null>): Promise<WidgetToken> {
    let token: WidgetToken | null;
    try {
      token = await getToken();
    } catch (error) {
      if (WidgetError.isInstance(error)) throw error;
      throw new WidgetError('token_missing', 'getToken failed.', { cause: error });
    }
    if (token === null) throw new WidgetError('sign_in_required', 'Nobody is signed in.');
    return token;
  }

  async #mint(): Promise<WidgetToken> {
    this.#visitorId ??= randomId();
    const body: TokenRequest = { widgetId: this.#options.widgetId, visitorId: this.#visitorId };
    let response: Response;
    try {
      response = await this.#fetch(this.#options.tokenUrl ?? `${this.#options.apiBase}/token`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify(body),
      });
    } catch (cause) {
      throw networkError(cause);
    }
    if (!response.ok) throw await errorFromResponse(response);
    try {
      return (await response.json()) as WidgetToken;
    } catch (cause) {
      throw new WidgetError('internal', 'No usable token.', { cause, status: response.status });
    }
  }
}

/** A JWT's `exp - iat` in seconds: the lifetime its issuer gave it, on the issuer's clock. */
function lifetimeOf(token: string): number | undefined {
  try {
    const claims = JSON.parse(atob(token.split('.')[1]!.replace(/-/g, '+').replace(/_/g, '/'))) as { exp?: unknown; iat?: unknown };
    const lifetime = Number(claims.exp) - Number(claims.iat);
    return lifetime > 0 ? lifetime : undefined;
  } catch {
    return undefined;
  }
}
