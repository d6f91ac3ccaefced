import { forwardedClientAddress } from '../../http/client-address.js';
import { serve } from '../../adapters/node.js';
import { createAirlock } from '../../airlock.js';
import { createLogger } from '../../logging/logger.js';
import type { ServeSettings } from './serve.js';

/**
 * Runs the server of `airlock serve` until SIGINT or SIGTERM, then drains it.
 * Kept apart from the command's definition so that only `serve` loads it.
 *
 * @example
 * ```ts
 * process.exitCode = await runServer(serveSettings({}));
 * ```
 */
export async function runServer(settings: ServeSettings): Promise<number> {
  const logger = createLogger({ level: settings.logLevel });
  const airlock = createAirlock({
    dev: settings.dev,
    logger,
    logRequests: settings.logRequests,
    proxy: settings.proxy,
    knowledge: settings.knowledge,
    // Unset timeouts stay undefined, so createAirlock's own defaults (and its environment fallbacks) apply.
    upstream: Object.fromEntries(Object.entries(settings.upstream).filter(([, value]) => value !== undefined)),
    ...(settings.trustedProxies !== undefined && { clientAddress: forwardedClientAddress(settings.trustedProxies) }),
    ...(settings.keyRotationReminderDays !== undefined && { keyRotationReminderDays: settings.keyRotationReminderDays }),
  });
  await airlock.ready();
  const server = await serve(airlock.fetch, { port: settings.port, host: settings.host, ...settings.http });
  console.log(`Airlock listening on ${server.url}${airlock.basePath}`);
  console.log(`Admin page: ${server.url}${airlock.basePath}/admin/`);
  // Without a token the admin page can only refuse every sign-in, which looks like a wrong token.
  if (!process.env.AIRLOCK_ADMIN_TOKEN) {
    console.warn(
      'No AIRLOCK_ADMIN_TOKEN is set, so nobody can sign in to the admin page or use the admin API. ' +
        'Set one of at least 32 random characters and restart: export AIRLOCK_ADMIN_TOKEN="$(openssl rand -base64 32)"',
    );
  }
  logger.info('listening', { url: `${server.url}${airlock.basePath}`, pid: process.pid });

  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  // Stop taking connections and answer 503 to requests on kept-alive ones,
  // but let answers already streaming finish, up to the deadline.
  const { drainSeconds } = settings;
  logger.info('shutting down: draining open requests', { signal, drainSeconds });
  airlock.drain();
  const closed = new Promise<void>((resolve) => server.server.close(() => resolve()));
  // Connections that go idle after their answer are closed as they do.
  const sweep = setInterval(() => server.server.closeIdleConnections(), 100);
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<'deadline'>((resolve) => {
    timer = setTimeout(() => resolve('deadline'), drainSeconds * 1000);
  });
  // A second signal means: stop now.
  const forced = new Promise<'signal'>((resolve) => {
    process.once('SIGINT', () => resolve('signal'));
    process.once('SIGTERM', () => resolve('signal'));
  });
  const outcome = await Promise.race([closed.then(() => 'drained' as const), deadline, forced]);
  clearInterval(sweep);
  clearTimeout(timer);
  if (outcome !== 'drained') {
    logger.warn('shutdown deadline reached: closing the connections still open', { reason: outcome });
    server.server.closeAllConnections();
    await closed;
  }
  await airlock.close();
  logger.info('stopped', { outcome });
  return 0;
}
