import type { AirlockContext } from '../context.js';
import { AirlockError } from '../errors.js';
import { json, readJsonObject } from '../http/responses.js';
import type { Route } from '../http/router.js';
import { newId } from '../ids.js';
import { loadUsableWidget, mintFor } from '../tokens/public-minting.js';
import { parseTokenLimits } from '../tokens/token-service.js';
import { assertAccountAccess, requireAdmin } from './auth.js';

/**
 * The admin API for tokens (operator bearer token):
 * `POST /admin/tokens` mints a token for a widget and user
 * (`{widgetId, userId?, origin?, ttlSeconds?, limits?}`), and
 * `POST /admin/signing-keys/rotate` adds a new signing key (body
 * `{retirePrevious: true}` removes the older keys at once, for a leak).
 *
 * @example
 * ```ts
 * const routes = [...tokenAdminRoutes(context)];
 * ```
 */
export function tokenAdminRoutes(context: AirlockContext): Route[] {
  return [
    {
      method: 'POST',
      path: '/admin/tokens',
      browser: 'none',
      async handle(request) {
        const principal = requireAdmin(context, request, { accountOwners: true });
        const body = await readJsonObject(request, 4 * 1024);
        const widget = await loadUsableWidget(context.store, body.widgetId);
        assertAccountAccess(principal, widget.accountId);
        const userId = body.userId ?? newId('usr');
        if (typeof userId !== 'string' || userId.length === 0 || userId.length > 256) {
          throw new AirlockError('input_invalid', '"userId" must be a non-empty string of at most 256 characters.');
        }
        const origin = body.origin;
        if (origin !== undefined && (typeof origin !== 'string' || !/^https?:\/\/[^/\s]+$/i.test(origin))) {
          throw new AirlockError('input_invalid', '"origin" must be an origin such as https://example.com.');
        }
        const ttlSeconds = body.ttlSeconds;
        if (ttlSeconds !== undefined && typeof ttlSeconds !== 'number') throw new AirlockError('input_invalid', '"ttlSeconds" must be a number.');
        const answer = await mintFor(context, widget, {
          subject: userId,
          via: 'backend',
          ...(origin !== undefined && { origin }),
          ...(ttlSeconds !== undefined && { ttlSeconds }),
          limits: parseTokenLimits(body.limits),
        });
        return json(answer, { status: 201 });
      },
    },
    {
      method: 'POST',
      path: '/admin/signing-keys/rotate',
      browser: 'none',
      async handle(request) {
        requireAdmin(context, request);
        const { keys } = await context.started();
        const body = await readJsonObject(request, 4 * 1024, { optional: true });
        const retirePrevious = body.retirePrevious === true;
        const rotated = await keys.rotate({ retirePrevious });
        context.logger.info('signing key rotated', { kid: rotated.kid });
        return json(rotated, { status: 201 });
      },
    },
  ];
}
