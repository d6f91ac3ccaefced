// Backend minting: a token for the signed-in user, or 401 unauthenticated.
import { getAirlock } from '../../../lib/airlock.js';

export const dynamic = 'force-dynamic';
export const runtime = 'nodejs';

/** @param {Request} request */
export async function POST(request) {
  const airlock = await getAirlock();
  const widget = await airlock.store.findWidgetByName('nextjs-example');
  const handler = airlock.tokenHandler({
    widgetId: widget?.id ?? '',
    limits: { requests: 50 },
    // A toy session: a `user` cookie. Use your real session (NextAuth, iron-session, …).
    authenticate: (incoming) => {
      const match = /(?:^|;\s*)user=([^;]+)/.exec(incoming.headers.get('cookie') ?? '');
      return match?.[1] ? { id: `user:${decodeURIComponent(match[1])}` } : null;
    },
  });
  return handler(request);
}
