import type { AirlockContext } from '../context.js';
import { json } from '../http/responses.js';
import type { Route } from '../http/router.js';
import { handlePublicMint } from './public-minting.js';

/** How long outside verifiers may cache the JWKS, in seconds. */
export const jwksMaxAgeSeconds = 60;

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
        const response = json(await keys.jwks());
        // Set after json(), which marks every answer no-store. A minute: far
        // inside the day a replaced key keeps verifying, so a cached set still
        // verifies every live token, and a key retired after a leak leaves
        // outside verifiers' caches within a minute, as it leaves our instances.
        response.headers.set('cache-control', `public, max-age=${jwksMaxAgeSeconds}`);
        return response;
      },
    },
  ];
}
