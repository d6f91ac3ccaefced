import type { AirlockContext } from '../context.js';
import { json } from '../http/responses.js';
import type { Route } from '../http/router.js';
import { handlePublicMint } from './public-minting.js';

/** Public minting and the JWKS. */
export function tokenRoutes(context: AirlockContext): Route[] {
  return [
    {
      method: 'POST',
      path: '/token',
      browser: 'self',
      handle: (request) => handlePublicMint(context, request),
    },
    {
      method: 'GET',
      path: '/.well-known/jwks.json',
      browser: 'none',
      async handle() {
        const { keys } = await context.started();
        // Short caching: a rotated-in key must reach outside verifiers soon.
        return json(await keys.jwks(), { headers: { 'cache-control': 'public, max-age=60' } });
      },
    },
  ];
}
