// Airlock in Hono 4 on @hono/node-server.
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { toHono } from '@airlock/server/hono';
import { page, startAirlock, userFromCookie } from './airlock.js';

/**
 * @param {{ port?: number, host?: string, dataDir?: string, openaiApiKey?: string, openaiBaseUrl?: string, masterKeys?: string }} options
 */
export async function startExample(options = {}) {
  const started = await startAirlock({ name: 'hono-example', ...options });
  const { airlock, widget } = started;
  const app = new Hono();
  app.all('/airlock/*', toHono(airlock));
  app.post('/api/airlock-token', toHono(airlock.tokenHandler({ widgetId: widget.id, limits: { requests: 50 }, authenticate: userFromCookie })));
  app.get('/', (context) => context.html(page('Airlock in Hono', widget.id)));
  /** @type {{ server: ReturnType<typeof serve>, port: number }} */
  const listening = await new Promise((done) => {
    const server = serve({ fetch: app.fetch, port: options.port ?? 3000, hostname: options.host ?? '127.0.0.1' }, (info) => done({ server, port: info.port }));
  });
  await started.allowPort(listening.port);
  return {
    url: `http://localhost:${listening.port}`,
    widgetId: widget.id,
    standIn: started.standIn,
    async close() {
      await new Promise((done) => listening.server.close(done));
      await started.close();
    },
  };
}
