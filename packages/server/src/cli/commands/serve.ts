import { parseArgs } from 'node:util';
import { forwardedClientAddress } from '../../adapters/client-address.js';
import { serve } from '../../adapters/node.js';
import { createAirlock } from '../../airlock.js';
import { createLogger } from '../../logging/logger.js';
import type { ProxyOptions } from '../../proxy/proxy-services.js';
import { UsageError } from '../shared.js';

/** `airlock serve [--dev] [--port N] [--host ADDRESS] [--drain-seconds N]` */
export async function runServe(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      dev: { type: 'boolean', default: false },
      port: { type: 'string' },
      host: { type: 'string' },
      'drain-seconds': { type: 'string' },
    },
  });
  const port = Number(values.port ?? process.env.PORT ?? 8787);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) throw new UsageError('--port must be a port number.');
  const drainSeconds = Number(values['drain-seconds'] ?? process.env.AIRLOCK_DRAIN_SECONDS ?? 30);
  if (!Number.isFinite(drainSeconds) || drainSeconds < 0) throw new UsageError('--drain-seconds must be a number of seconds (0 or more).');
  const trustedProxies = wholeNumber('AIRLOCK_TRUSTED_PROXIES');
  const logger = createLogger({ level: logLevel(process.env.AIRLOCK_LOG_LEVEL) });
  const airlock = createAirlock({
    dev: values.dev,
    logger,
    logRequests: process.env.AIRLOCK_LOG_REQUESTS !== '0',
    proxy: proxyOptionsFromEnvironment(),
    ...(trustedProxies !== undefined && { clientAddress: forwardedClientAddress(trustedProxies) }),
  });
  await airlock.ready();
  const server = await serve(airlock.fetch, { port, host: values.host ?? process.env.AIRLOCK_HOST ?? '127.0.0.1' });
  console.log(`Airlock listening on ${server.url}${airlock.basePath}`);
  logger.info('listening', { url: `${server.url}${airlock.basePath}`, pid: process.pid });

  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  // Stop taking connections and answer 503 to requests on kept-alive ones,
  // but let answers already streaming finish, up to the deadline.
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

function logLevel(value: string | undefined): 'debug' | 'info' | 'warn' | 'error' {
  if (value === undefined || value === '') return 'info';
  if (value === 'debug' || value === 'info' || value === 'warn' || value === 'error') return value;
  throw new UsageError('AIRLOCK_LOG_LEVEL must be debug, info, warn or error.');
}

/** A whole number of at least `least` from the environment, or `undefined` when unset. */
function wholeNumber(name: string, least = 1): number | undefined {
  const value = process.env[name];
  if (value === undefined || value === '') return undefined;
  const number = Number(value);
  if (!Number.isInteger(number) || number < least) throw new UsageError(`${name} must be a whole number of at least ${least}.`);
  return number;
}

/** The proxy limits an operator can set without code (docs/deployment.md lists them). */
function proxyOptionsFromEnvironment(): ProxyOptions {
  const allowance = process.env.AIRLOCK_DEFAULT_GENERATION_ALLOWANCE;
  return {
    maxOutputTokens: wholeNumber('AIRLOCK_MAX_OUTPUT_TOKENS'),
    limits: {
      widgetRequestsPerMinute: wholeNumber('AIRLOCK_WIDGET_REQUESTS_PER_MINUTE'),
      visitorRequestsPerMinute: wholeNumber('AIRLOCK_VISITOR_REQUESTS_PER_MINUTE'),
      tokenRequestsPerMinute: wholeNumber('AIRLOCK_TOKEN_REQUESTS_PER_MINUTE'),
      addressRequestsPerMinute: wholeNumber('AIRLOCK_ADDRESS_REQUESTS_PER_MINUTE'),
      concurrentStreamsPerVisitor: wholeNumber('AIRLOCK_STREAMS_PER_VISITOR'),
    },
    reservationLeaseMs: wholeNumber('AIRLOCK_RESERVATION_LEASE_MS'),
    defaultGenerationAllowance:
      // 0 is a real setting: accounts without their own allowance may not use the shared key.
      allowance === undefined || allowance === '' || allowance === 'unlimited' ? undefined : wholeNumber('AIRLOCK_DEFAULT_GENERATION_ALLOWANCE', 0),
  };
}
