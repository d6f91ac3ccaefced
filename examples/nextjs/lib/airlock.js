// One Airlock per server process, shared by every route. Kept on globalThis
// so `next dev` reloading modules does not open the database twice.
import { createAirlock, forwardedClientAddress } from '@airlock/server';
import { resolve } from 'node:path';

const basePath = '/airlock';

/** @returns {Promise<import('@airlock/server').Airlock>} */
async function start() {
  let upstream = { apiKey: process.env.OPENAI_API_KEY, baseURL: process.env.OPENAI_BASE_URL || undefined };
  if (!process.env.OPENAI_API_KEY) {
    // No key: answer from a local stand-in so the example runs offline.
    const { startUpstream } = await import('@airlock/testing');
    const standIn = await startUpstream({
      defaultBehaviour: { type: 'answer', text: 'Hello from the local stand-in upstream (not OpenAI).', delayMs: 20 },
    });
    upstream = { apiKey: 'sk-example-stand-in', baseURL: standIn.baseURL };
  }
  const dataDir = resolve(process.env.AIRLOCK_DATA_DIR ?? '.airlock');
  const airlock = createAirlock({
    basePath,
    dev: !process.env.AIRLOCK_MASTER_KEYS,
    dataDir,
    databaseUrl: `sqlite:${resolve(dataDir, 'airlock.db')}`,
    upstream,
    // Next.js exposes no socket address. Behind AIRLOCK_TRUSTED_PROXIES proxies (default one:
    // Vercel, or your own) that each append to X-Forwarded-For, the address the outermost one
    // saw; entries further left were written by the client, which could choose its own.
    clientAddress: forwardedClientAddress(Number(process.env.AIRLOCK_TRUSTED_PROXIES || 1)),
  });
  await airlock.ready();
  return airlock;
}

const cache = /** @type {{ airlockExample?: Promise<import('@airlock/server').Airlock> }} */ (globalThis);

/** The running Airlock (started on first use). */
export function getAirlock() {
  return (cache.airlockExample ??= start());
}

/** Airlock as something to mount: requests wait for start-up on first use. */
export const airlock = {
  basePath,
  /** @param {Request} request */
  fetch: async (request) => (await getAirlock()).fetch(request),
};

/**
 * The example's widget, allowed on the page's own origin.
 * @param {string} origin
 */
export async function exampleWidget(origin) {
  const instance = await getAirlock();
  const existing = await instance.store.findWidgetByName('nextjs-example');
  if (existing) {
    if (existing.allowedOrigins.includes(origin)) return existing;
    return instance.store.updateWidget(existing.id, { allowedOrigins: [...existing.allowedOrigins, origin] });
  }
  return instance.store.createWidget({
    name: 'nextjs-example',
    type: 'chat',
    allowedOrigins: [origin],
    presentation: { title: 'Ask Next.js', theme: 'auto', greeting: 'Hi! Ask me anything.' },
    behaviour: { model: 'gpt-4o-mini', systemPrompt: 'You are a helpful assistant in the Airlock Next.js example.' },
  });
}
