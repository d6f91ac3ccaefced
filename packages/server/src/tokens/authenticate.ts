import type { AirlockContext } from '../context.js';
import { assertUsableBehaviour } from '../proxy/behaviour-check.js';
import { AirlockError } from '../errors.js';
import { isOriginAllowed } from '../widgets/origins.js';
import type { GenerationBalance, StoredKeys, WidgetRecord } from '../stores/store.js';
import type { VerifiedToken } from './token-service.js';

// Names under which a token might be put in a URL; refused outright.
const urlTokenNames = ['token', 'access_token', 'api_key', 'key'];

/**
 * Header in which a client may say which widget it means; a token for
 * another widget is then refused (`token_invalid`).
 */
export const widgetIdHeader = 'x-airlock-widget-id';

/**
 * Verifies the bearer token of a widget request and loads its widget, with
 * the stored OpenAI keys its call may use and its account's generation
 * balance (`null`: none yet), read in the same statement.
 * Tokens are accepted only from the `Authorization` header: tokens in URLs
 * end up in logs, history and `Referer` headers. The widget comes from the
 * token; when the route names a widget (`options.widgetId`) or the client
 * names one in `X-Airlock-Widget-Id`, the token must be for that widget.
 * The revocation epoch and the keys are read from the store on every
 * request, so `revoke-tokens` and a revoked key take effect at once on
 * every instance (the SQLite store keeps the answer only while its file is
 * unchanged, which it checks on every call).
 *
 * @example
 * ```ts
 * const { verified, widget, keys, generations } = await authenticateWidgetRequest(context, request);
 * ```
 */
export async function authenticateWidgetRequest(
  context: AirlockContext,
  request: Request,
  options: { widgetId?: string } = {},
): Promise<{ verified: VerifiedToken; widget: WidgetRecord; keys: StoredKeys; generations: GenerationBalance | null }> {
  const url = new URL(request.url);
  if (urlTokenNames.some((name) => url.searchParams.has(name))) {
    throw new AirlockError('token_invalid', 'Send the token in the Authorization header, never in the URL.');
  }
  const header = request.headers.get('authorization');
  if (!header) throw new AirlockError('token_missing', 'This request needs a token.');
  const match = /^Bearer\s+(\S+)$/i.exec(header);
  if (!match) throw new AirlockError('token_invalid', 'This token is not valid.');
  const { tokens } = await context.started();
  const verified = await tokens.verify(match[1]!);
  const named = options.widgetId ?? request.headers.get(widgetIdHeader);
  if (named && named !== verified.widgetId) throw new AirlockError('token_invalid', 'This token is for another widget.');
  const found = await context.store.getWidgetForCall(verified.widgetId);
  if (!found) throw new AirlockError('token_invalid', 'This token is not valid.');
  const { widget, keys, generations = null } = found;
  if (!widget.enabled) throw new AirlockError('widget_disabled', 'This widget is turned off.');
  if (verified.epoch < widget.epoch) throw new AirlockError('token_invalid', 'This token has been revoked.');
  const origin = request.headers.get('origin');
  if (verified.origin && origin && origin !== verified.origin) {
    throw new AirlockError('origin_not_allowed', 'This token belongs to another site.');
  }
  // A visitor's token works only while its site stays allowed: removing an
  // origin stops its tokens at once, not when they expire.
  if (verified.site !== undefined && !isOriginAllowed(verified.site, widget.allowedOrigins)) {
    throw new AirlockError('origin_not_allowed', 'This site is no longer allowed to use this widget.');
  }
  assertUsableBehaviour(widget, context.logger);
  return { verified, widget, keys, generations };
}
