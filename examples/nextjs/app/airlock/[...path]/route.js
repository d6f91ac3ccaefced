// Everything under /airlock: public minting, the proxy, the widget script, JWKS.
import { toNextHandlers } from '@airlock/server/next';
import { airlock } from '../../../lib/airlock.js';

// Answers stream and depend on each request: never cache or prerender them.
export const dynamic = 'force-dynamic';
export const runtime = 'nodejs';

export const { GET, POST, OPTIONS } = toNextHandlers(airlock);
