// An ordinary Express app with Airlock mounted in it.
import express from 'express';
import { toExpress } from '@airlock/server/express';

/**
 * @param {{ airlock: import('@airlock/server').Airlock, widgetId: string }} options
 * @returns {import('express').Express}
 */
export function createApp({ airlock, widgetId }) {
  const app = express();
  // The app's own body parser runs first; Airlock rebuilds the body it needs.
  app.use(express.json());

  // Everything under /airlock: public minting, the proxy, the widget script, JWKS.
  app.use(toExpress(airlock));

  // A toy sign-in so the backend-minting route has a user. Use your real session.
  app.post('/login', (request, response) => {
    const name = typeof request.body?.name === 'string' ? request.body.name : '';
    if (!/^[a-z0-9_-]{1,32}$/i.test(name)) return void response.status(400).json({ error: 'name: 1 to 32 letters or digits' });
    response.cookie('user', name, { httpOnly: true, sameSite: 'lax' }).json({ signedIn: name });
  });

  // Backend minting: a token for the signed-in user, or 401 unauthenticated.
  app.post(
    '/api/airlock-token',
    toExpress(
      airlock.tokenHandler({
        widgetId,
        // Per-token limits for signed-in users; enforced by the proxy.
        limits: { requests: 50 },
        authenticate: (request) => {
          const match = /(?:^|;\s*)user=([^;]+)/.exec(request.headers.get('cookie') ?? '');
          return match?.[1] ? { id: `user:${decodeURIComponent(match[1])}` } : null;
        },
      }),
    ),
  );

  app.get('/', (_request, response) => {
    response.type('html').send(`<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Airlock in Express</title><link rel="icon" href="data:,"></head>
<body style="font:16px/1.5 system-ui,sans-serif;max-width:720px;margin:40px auto;padding:0 16px">
<h1>Airlock in Express</h1>
<p>The chat is an Airlock widget, embedded with one script tag. The page holds only a short-lived token.</p>
<div id="chat" style="height:480px"></div>
<script src="/airlock/widget.js" data-widget-id="${widgetId}" data-target="#chat" async></script>
</body>
</html>`);
  });
  return app;
}
