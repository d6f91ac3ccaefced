import { parseArgs } from 'node:util';
import { serve } from '../../adapters/node.js';
import { createAirlock } from '../../airlock.js';
import { UsageError } from '../shared.js';

/** `airlock serve [--dev] [--port N] [--host ADDRESS]` */
export async function runServe(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { dev: { type: 'boolean', default: false }, port: { type: 'string' }, host: { type: 'string' } },
  });
  const port = Number(values.port ?? process.env.PORT ?? 8787);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) throw new UsageError('--port must be a port number.');
  const airlock = createAirlock({ dev: values.dev });
  await airlock.ready();
  const server = await serve(airlock.fetch, { port, host: values.host ?? process.env.AIRLOCK_HOST ?? '127.0.0.1' });
  console.log(`Airlock listening on ${server.url}${airlock.basePath}`);
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  await server.close();
  await airlock.close();
  return 0;
}
