import type { TokenLimits } from '@airlock/protocol';
import type { AirlockContext } from '../context.js';
import { AirlockError, toAirlockError } from '../errors.js';
import { errorResponse, json, readJsonObject } from '../http/responses.js';
import { loadUsableWidget, mintFor } from './public-minting.js';

/**
 * The signed-in user, as your `authenticate` hook reports it.
 */
export interface TokenHandlerUser {
  /** Becomes the token's subject (`sub`). */
  id: string;
  /** Per-token limits for this user; overrides the handler's `limits`. */
  limits?: TokenLimits;
}

/**
 * Options of `airlock.tokenHandler()`.
 */
export interface TokenHandlerOptions {
  /**
   * Returns the signed-in user of a request (read your session cookie or
   * header), or `null`, which answers 401 `unauthenticated`.
   */
  authenticate(request: Request): TokenHandlerUser | null | undefined | Promise<TokenHandlerUser | null | undefined>;
  /**
   * The widget tokens are minted for. Default: the `widgetId` in the JSON
   * body, which lets a signed-in user get a token for any widget of this
   * Airlock; set it (or `widgetIds`) to narrow that.
   */
  widgetId?: string;
  /** Widgets a body may name. Default: any. Ignored when `widgetId` is set. */
  widgetIds?: readonly string[];
  /** Token lifetime in seconds. Default: 600. */
  ttlSeconds?: number;
  /** Per-token limits for every user (a user's own `limits` win). Default: none. */
  limits?: TokenLimits;
}

/**
 * Builds the mountable backend-minting handler: `POST` with your user's
 * session answers `{token, expiresAt, widget}`; the token is bound to the
 * request's `Origin` when it has one. Mount it on a path of your own app,
 * behind the same session as your pages.
 *
 * @example
 * ```ts
 * const handler = createTokenHandler(context, { widgetId: 'wgt_1', authenticate: (request) => sessionUser(request) });
 * ```
 */
export function createTokenHandler(context: AirlockContext, options: TokenHandlerOptions): (request: Request) => Promise<Response> {
  return async (request) => {
    try {
      if (request.method !== 'POST') throw new AirlockError('method_not_allowed', 'Use POST to get a token.', { headers: { allow: 'POST' } });
      const user = await options.authenticate(request);
      if (!user) throw new AirlockError('unauthenticated', 'Sign in to use this widget.');
      if (typeof user.id !== 'string' || user.id.length === 0 || user.id.length > 256) {
        throw new AirlockError('internal', 'authenticate() returned a user without a valid id.');
      }
      let widgetId = options.widgetId;
      if (widgetId === undefined) {
        const body = await readJsonObject(request, 4 * 1024, { optional: true });
        widgetId = typeof body.widgetId === 'string' ? body.widgetId : undefined;
        if (widgetId !== undefined && options.widgetIds && !options.widgetIds.includes(widgetId)) {
          throw new AirlockError('widget_not_found', 'There is no such widget.');
        }
      }
      const widget = await loadUsableWidget(context.store, widgetId);
      const origin = request.headers.get('origin') ?? undefined;
      const answer = await mintFor(context, widget, {
        subject: user.id,
        via: 'backend',
        ...(origin && /^https?:\/\/[^/\s]+$/i.test(origin) && { origin }),
        ttlSeconds: options.ttlSeconds,
        limits: user.limits ?? options.limits,
      });
      return json(answer);
    } catch (error) {
      const airlockError = toAirlockError(error);
      if (airlockError.code === 'internal') context.logger.error('token handler failed', { error: airlockError.cause ?? airlockError.message });
      return errorResponse(airlockError);
    }
  };
}
