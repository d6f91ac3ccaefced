// The example's Airlock (SQLite, development master key unless given) and its widget.
import { createAirlock } from '@airlock/server';
import { startUpstream } from '@airlock/testing';
import { resolve } from 'node:path';

/**
 * @param {{ name: string, dataDir?: string, openaiApiKey?: string, openaiBaseUrl?: string, masterKeys?: string }} options
 */
export async function startAirlock(options) {
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
  const widget =
    (await airlock.store.findWidgetByName(options.name)) ??
    (await airlock.store.createWidget({
      name: options.name,
      type: 'chat',
      allowedOrigins: [],
      presentation: { title: 'Ask us', theme: 'auto', greeting: 'Hi! Ask me anything.' },
      behaviour: { model: 'gpt-4o-mini', systemPrompt: 'You are a helpful assistant in an Airlock example.' },
    }));
  return {
    airlock,
    widget,
    standIn: standIn !== undefined,
    /** Allows the page's own origins once the port is known. @param {number} port */
    async allowPort(port) {
      const origins = [`http://localhost:${port}`, `http://127.0.0.1:${port}`];
      await airlock.store.updateWidget(widget.id, { allowedOrigins: [...new Set([...widget.allowedOrigins, ...origins])] });
    },
    async close() {
      await airlock.close();
      await standIn?.close();
    },
  };
}

/** A toy session: a `user` cookie. Use your real session. @param {Request} request */
export function userFromCookie(request) {
  const match = /(?:^|;\s*)user=([^;]+)/.exec(request.headers.get('cookie') ?? '');
  return match?.[1] ? { id: `user:${decodeURIComponent(match[1])}` } : null;
}

/** @param {string} title @param {string} widgetId */
export function page(title, widgetId) {
  return `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>${title}</title><link rel="icon" href="data:,"></head>
<body style="font:16px/1.5 system-ui,sans-serif;max-width:720px;margin:40px auto;padding:0 16px">
<h1>${title}</h1>
<p>The chat is an Airlock widget, embedded with one script tag. The page holds only a short-lived token.</p>
<div id="chat" style="height:480px"></div>
<script src="/airlock/widget.js" data-widget-id="${widgetId}" data-target="#chat" async></script>
</body>
</html>`;
}
