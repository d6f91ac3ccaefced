// Airlock in Fastify 5: one plugin for /airlock/*, one for the backend-minting route.
import Fastify from 'fastify';
import { toFastify } from '@airlock/server/fastify';
import { page, startAirlock, userFromCookie } from './airlock.js';

/**
 * @param {{ port?: number, host?: string, dataDir?: string, openaiApiKey?: string, openaiBaseUrl?: string, masterKeys?: string }} options
 */
export async function startExample(options = {}) {
  const started = await startAirlock({ name: 'fastify-example', ...options });
  const { airlock, widget } = started;
  const app = Fastify();
  // Encapsulated: Airlock reads raw bodies; the app's own JSON parsing is untouched.
  await app.register(toFastify(airlock));
  await app.register(
    toFastify(airlock.tokenHandler({ widgetId: widget.id, limits: { requests: 50 }, authenticate: userFromCookie }), {
      path: '/api/airlock-token',
    }),
  );
  app.get('/', async (_request, reply) => reply.type('text/html').send(page('Airlock in Fastify', widget.id)));
  await app.listen({ port: options.port ?? 3000, host: options.host ?? '127.0.0.1' });
  const port = /** @type {import('node:net').AddressInfo} */ (app.server.address()).port;
  await started.allowPort(port);
  return {
    url: `http://localhost:${port}`,
    widgetId: widget.id,
    standIn: started.standIn,
    async close() {
      app.server.closeAllConnections();
      await app.close();
      await started.close();
    },
  };
}
