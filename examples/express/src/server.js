// Starts the example: an Airlock on SQLite, the example widget, and the Express app.
import { createAirlock } from '@airlock/server';
import { startUpstream } from '@airlock/testing';
import { resolve } from 'node:path';
import { createApp } from './app.js';

/**
 * @param {{ port?: number, host?: string, dataDir?: string, openaiApiKey?: string, openaiBaseUrl?: string, masterKeys?: string }} options
 * @returns {Promise<{ url: string, widgetId: string, standIn: boolean, close(): Promise<void> }>}
 */
export async function startExample(options = {}) {
  const dataDir = resolve(options.dataDir ?? '.airlock');
  // Without a key, answers come from a local stand-in so the example runs offline.
  const standIn = options.openaiApiKey
    ? undefined
    : await startUpstream({ defaultBehaviour: { type: 'answer', text: 'Hello from the local stand-in upstream (not OpenAI).', delayMs: 20 } });
  const airlock = createAirlock({
    dev: !options.masterKeys,
    masterKeys: options.masterKeys || undefined,
    dataDir,
    databaseUrl: `sqlite:${resolve(dataDir, 'airlock.db')}`,
    upstream: standIn
      ? { apiKey: 'sk-example-stand-in', baseURL: standIn.baseURL }
      : { apiKey: options.openaiApiKey, baseURL: options.openaiBaseUrl || undefined },
  });
  await airlock.ready();

  const existing = await airlock.store.findWidgetByName('express-example');
  const widget =
    existing ??
    (await airlock.store.createWidget({
      name: 'express-example',
      type: 'chat',
      allowedOrigins: [],
      presentation: { title: 'Ask Express', theme: 'auto', greeting: 'Hi! Ask me anything.' },
      behaviour: { model: 'gpt-4o-mini', systemPrompt: 'You are a helpful assistant in the Airlock Express example.' },
    }));
  const app = createApp({ airlock, widgetId: widget.id });
  const server = /** @type {import('node:http').Server} */ (
    await new Promise((done) => {
      const listening = app.listen(options.port ?? 3000, options.host ?? '127.0.0.1', () => done(listening));
    })
  );
  // Allow the page's own origins on the port actually in use.
  const port = /** @type {import('node:net').AddressInfo} */ (server.address()).port;
  const origins = [`http://localhost:${port}`, `http://127.0.0.1:${port}`];
  await airlock.store.updateWidget(widget.id, { allowedOrigins: [...new Set([...widget.allowedOrigins, ...origins])] });
  const widgetId = widget.id;

  return {
    url: `http://localhost:${port}`,
    widgetId,
    standIn: standIn !== undefined,
    async close() {
      server.closeAllConnections();
      await new Promise((done) => server.close(done));
      await airlock.close();
      await standIn?.close();
    },
  };
}
