// The Airlock demo: an Airlock server on an embedded SQLite file, serving a
// page whose widget is embedded with the plain script tag.
//
// Upstream: the real OpenAI API when OPENAI_API_KEY is set (or any
// OpenAI-compatible server at OPENAI_BASE_URL); otherwise a local stand-in
// from @airlock/testing, and the page says so. The widget answers from the
// project's own docs/ (its knowledge, added on first run), with sources.
import { createAirlock } from '@airlock/server';
import { serve } from '@airlock/server/node';
import { startUpstream } from '@airlock/testing';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { demoPage } from './page.js';

const port = Number(process.env.PORT ?? 8787);
const host = process.env.HOST ?? '127.0.0.1';
// pnpm runs scripts inside the package; keep the data where the command was typed. The demo
// has a folder of its own: `airlock serve` keeps .airlock/airlock.db under its own master key,
// and a database sealed by the demo's development key would stop it.
const typedIn = process.env.INIT_CWD ?? process.cwd();
const dataDir = resolve(typedIn, process.env.AIRLOCK_DATA_DIR ?? '.airlock/demo');
mkdirSync(dataDir, { recursive: true });
// An admin token of the demo's own, kept in a file (never printed), so its admin page can be signed in to.
const adminTokenFile = resolve(dataDir, 'admin-token');
if (!process.env.AIRLOCK_ADMIN_TOKEN && !existsSync(adminTokenFile)) {
  writeFileSync(adminTokenFile, `${randomBytes(32).toString('base64url')}\n`, { mode: 0o600 });
}
const adminToken = process.env.AIRLOCK_ADMIN_TOKEN || readFileSync(adminTokenFile, 'utf8').trim();

const useStandIn = !process.env.OPENAI_API_KEY;
/** @type {import('@airlock/server').UpstreamOptions} */
let upstreamOptions;
/** @type {import('@airlock/testing').Upstream | undefined} */
let standIn;
if (useStandIn) {
  standIn = await startUpstream({
    defaultBehaviour: {
      type: 'answer',
      text:
        'This answer comes from the local stand-in upstream, not from OpenAI. ' +
        'Set OPENAI_API_KEY and restart the demo to talk to a real model. ' +
        'Either way, the key stays on the server: this page only ever holds a short-lived token.',
      delayMs: 40,
    },
  });
  upstreamOptions = { apiKey: 'sk-demo-local-stand-in', baseURL: standIn.baseURL };
} else {
  upstreamOptions = { apiKey: process.env.OPENAI_API_KEY, baseURL: process.env.OPENAI_BASE_URL };
}
const upstreamLabel = useStandIn ? 'the local stand-in upstream (@airlock/testing), not OpenAI' : (process.env.OPENAI_BASE_URL ?? 'the OpenAI API');

const airlock = createAirlock({
  dev: true,
  dataDir,
  databaseUrl: `sqlite:${resolve(dataDir, 'airlock.db')}`,
  adminToken,
  upstream: upstreamOptions,
});
await airlock.ready();

const server = await serve(
  async (request) => {
    const url = new URL(request.url);
    if (url.pathname.startsWith(`${airlock.basePath}/`)) return airlock.fetch(request);
    if (url.pathname === '/' && request.method === 'GET') {
      const widget = await demoWidget(url.origin);
      return new Response(demoPage({ widgetId: widget.id, upstreamLabel, standIn: useStandIn }), {
        headers: { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' },
      });
    }
    return new Response('Not found', { status: 404 });
  },
  { port, host },
);

const actualPort = new URL(server.url).port;
// Seed (or refresh) the demo widget for this port's origins.
const widget = await demoWidget(`http://localhost:${actualPort}`);

console.log(`Answers come from ${upstreamLabel}.`);
await addDocsKnowledge(widget);
console.log(
  `Admin page: http://localhost:${actualPort}${airlock.basePath}/admin/ — sign in with ` +
    (process.env.AIRLOCK_ADMIN_TOKEN ? 'your AIRLOCK_ADMIN_TOKEN.' : `the admin token in ${relative(typedIn, adminTokenFile) || adminTokenFile}.`),
);
console.log(`The demo's data is in ${relative(typedIn, dataDir) || dataDir}; \`airlock serve\` keeps its own in .airlock/.`);
// Last: the line that says the demo is ready.
console.log(`Airlock demo running at http://localhost:${actualPort}`);

/**
 * The chat widget named "demo", created on first run, allowed for the demo's
 * own origins (localhost and 127.0.0.1 on the port in use).
 * @param {string} origin
 */
async function demoWidget(origin) {
  const port = new URL(origin).port;
  const origins = [`http://localhost:${port}`, `http://127.0.0.1:${port}`];
  const existing = await airlock.store.findWidgetByName('demo');
  if (existing && origins.every((item) => existing.allowedOrigins.includes(item))) return existing;
  if (existing) {
    return airlock.store.updateWidget(existing.id, {
      allowedOrigins: [...new Set([...existing.allowedOrigins, ...origins])],
    });
  }
  return airlock.store.createWidget({
    name: 'demo',
    type: 'chat',
    allowedOrigins: origins,
    presentation: {
      title: 'Airlock demo',
      theme: 'auto',
      greeting: 'Hi! Ask me anything.',
      placeholder: 'Type a message…',
    },
    behaviour: {
      model: 'gpt-4o-mini',
      systemPrompt: 'You are a friendly assistant on the Airlock demo page. Answer questions about Airlock from its documentation.',
    },
  });
}

/**
 * The project's own guides (docs/*.md, not the generated API reference) as
 * the demo widget's knowledge, on first run: its answers then cite them.
 * They are read in the background, one after the other; the demo answers
 * meanwhile.
 * @param {import('@airlock/server').WidgetRecord} widget
 */
async function addDocsKnowledge(widget) {
  const knowledge = airlock.knowledge;
  if (!knowledge) return;
  if ((await knowledge.list(widget.id)).length > 0) {
    console.log('The demo widget answers from its knowledge files; see them in the admin page.');
    return;
  }
  const docsDir = fileURLToPath(new URL('../../../docs/', import.meta.url));
  const names = existsSync(docsDir)
    ? readdirSync(docsDir)
        .filter((name) => name.endsWith('.md'))
        .sort()
    : [];
  if (names.length === 0) return;
  console.log(`Adding ${names.length} file(s) from docs/ to the demo widget's knowledge; its answers cite them once they are read.`);
  void (async () => {
    let added = 0;
    for (const name of names) {
      try {
        const result = await knowledge.add(widget, { name, bytes: readFileSync(resolve(docsDir, name)) });
        if (!result.duplicate) added += 1;
        await knowledge.idle();
      } catch (error) {
        console.warn(`docs/${name} was not added to the demo's knowledge: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
    const files = await knowledge.list(widget.id);
    const ready = files.filter((file) => file.status === 'ready');
    const passages = ready.reduce((sum, file) => sum + file.passages, 0);
    console.log(`Knowledge ready: added ${added} file(s) from docs/; ${ready.length} of ${files.length} ready, ${passages} passages.`);
  })();
}

const stop = async () => {
  await server.close();
  await airlock.close();
  await standIn?.close();
  process.exit(0);
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
