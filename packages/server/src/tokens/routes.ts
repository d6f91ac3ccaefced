import type { TokenResponse } from '@airlock/protocol';
import type { AirlockContext } from '../context.js';
import { AirlockError } from '../errors.js';
import { withCors } from '../http/cors.js';
import { json, readJsonObject } from '../http/responses.js';
import type { Route } from '../http/router.js';
import { newId } from '../ids.js';
import type { WidgetRecord } from '../stores/store.js';
import { isOriginAllowed } from '../widgets/origins.js';
import { publicConfig } from '../widgets/public-config.js';

/**
 * Loads a widget that may be given tokens: it exists and is enabled.
 *
 * @example
 * ```ts
 * const widget = await loadUsableWidget(context, body.widgetId);
 * ```
 */
export async function loadUsableWidget(context: AirlockContext, widgetId: unknown): Promise<WidgetRecord> {
  if (typeof widgetId !== 'string' || widgetId.length === 0 || widgetId.length > 100) {
    throw new AirlockError('input_invalid', '"widgetId" must be a widget id.');
  }
  const widget = await context.store.getWidget(widgetId);
  if (!widget) throw new AirlockError('widget_not_found', 'There is no such widget.');
  if (!widget.enabled) throw new AirlockError('widget_disabled', 'This widget is turned off.');
  return widget;
}

/**
 * Mints a token for a widget and wraps it with the widget's public config.
 *
 * @example
 * ```ts
 * const answer = await mintFor(context, widget, 'visitor_1', 'https://example.com');
 * ```
 */
export async function mintFor(
  context: AirlockContext,
  widget: WidgetRecord,
  subject: string,
  origin?: string,
  ttlSeconds?: number,
): Promise<TokenResponse> {
  const { tokens } = await context.started();
  const { token, expiresAt } = await tokens.mint({ widgetId: widget.id, subject, epoch: widget.epoch, origin, ttlSeconds });
  return { token, expiresAt, widget: publicConfig(widget) };
}

/** Public minting and the JWKS. */
export function tokenRoutes(context: AirlockContext): Route[] {
  return [
    {
      method: 'POST',
      path: '/token',
      browser: 'self',
      async handle(request) {
        const origin = request.headers.get('origin');
        const body = await readJsonObject(request, 4 * 1024);
        const widget = await loadUsableWidget(context, body.widgetId);
        if (!isOriginAllowed(origin, widget.allowedOrigins)) {
          throw new AirlockError('origin_not_allowed', 'This site is not allowed to use this widget.');
        }
        const visitorId = body.visitorId;
        if (visitorId !== undefined && (typeof visitorId !== 'string' || !/^[A-Za-z0-9_-]{1,128}$/.test(visitorId))) {
          throw new AirlockError('input_invalid', '"visitorId" must be 1 to 128 letters, digits, "_" or "-".');
        }
        return withCors(json(await mintFor(context, widget, visitorId ?? newId('vis'), origin!)), origin);
      },
    },
    {
      method: 'GET',
      path: '/.well-known/jwks.json',
      browser: 'none',
      async handle() {
        const { keys } = await context.started();
        return json(keys.jwks(), { headers: { 'cache-control': 'public, max-age=300' } });
      },
    },
  ];
}
