// Streaming render cost of the widget: a 5,000-token Markdown answer streamed
// into the built script-tag bundle in headless Chromium. Prints the mean time
// per token for the first and the last 1,000 tokens and their ratio; a flat
// cost (ratio near 1) means no quadratic re-render as the answer grows.
//
// Each token goes through the whole widget path: SSE parsing, the Markdown
// renderer and the DOM update, one token per task, with the browser's layout
// and paint in between counted too. The tokens are fed from an in-page `fetch`
// so that network timing does not blur the figure.
//
// Usage: node bench/widget-render.mjs [--quick]   (needs the widget built)
/* global MessageChannel, ReadableStream, location, performance -- the page's, used inside page.evaluate */
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const widgetPackage = fileURLToPath(new URL('../packages/widget/package.json', import.meta.url));
const bundlePath = fileURLToPath(new URL('../packages/widget/dist/airlock.global.js', import.meta.url));
if (!existsSync(bundlePath)) {
  console.error('Build the widget first: npx -y pnpm@12 --filter @airlock/widget build');
  process.exit(1);
}
const { chromium } = createRequire(widgetPackage)('playwright-core');
const quick = process.argv.includes('--quick');
const tokens = 5_000;
const window = 1_000;
const runs = quick ? 1 : 5;

/** A realistic answer: paragraphs of ~60 tokens, a list every 400 tokens, a code block every 700. */
function answerTokens(count) {
  const words = ['the', 'widget', 'renders', '**streamed**', 'answers', 'with', '`code`', 'and', '*emphasis*', 'while', 'keeping', 'cost', 'flat'];
  const result = [];
  for (let index = 0; result.length < count; index += 1) {
    if (index % 700 === 699) {
      result.push('\n\n```js\n');
      for (let line = 0; line < 10 && result.length < count; line += 1) result.push(`const value${line} = compute(${line});\n`);
      result.push('```\n\n');
    } else if (index % 400 === 399) {
      for (let item = 0; item < 5 && result.length < count; item += 1) result.push(`${item === 0 ? '\n\n' : ''}- item ${item} of a list\n`);
      result.push('\n');
    } else if (index % 60 === 59) {
      result.push('.\n\n');
    } else {
      result.push(`${words[index % words.length]} `);
    }
  }
  return result.slice(0, count);
}

const page = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>render bench</title></head>
<body><div id="chat" style="height:600px;width:420px"></div><script src="/widget.js"></script></body></html>`;
const bundle = readFileSync(bundlePath);
const server = createServer((request, response) => {
  if (request.url === '/widget.js') {
    response.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8' });
    response.end(bundle);
    return;
  }
  response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
  response.end(page);
});
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const url = `http://127.0.0.1:${server.address().port}/`;

const browser = await chromium.launch({
  executablePath: process.env.AIRLOCK_CHROMIUM ?? '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run'],
});

async function measure() {
  const context = await browser.newContext({ viewport: { width: 800, height: 800 } });
  const tab = await context.newPage();
  await tab.goto(url);
  const times = await tab.evaluate(
    async ({ chunks: allChunks }) => {
      let chunks = allChunks;
      const encoder = new TextEncoder();
      const event = (content) => encoder.encode(`data: ${JSON.stringify({ choices: [{ index: 0, delta: { content } }] })}\n\n`);
      let next = 0;
      // One token per task, as tokens arrive from the network: the browser may
      // lay out and paint between tokens (the widget scrolls once a frame), and
      // that work is counted in the token's time.
      const channel = new MessageChannel();
      const yieldTask = () =>
        new Promise((resolve) => {
          channel.port1.onmessage = resolve;
          channel.port2.postMessage(null);
        });
      const fakeFetch = async (input) => {
        if (String(input).endsWith('/token')) {
          const widget = { id: 'wgt_bench', type: 'chat', title: 'Bench', theme: 'light' };
          return new Response(JSON.stringify({ token: 't', expiresAt: Date.now() + 600_000, widget }), { headers: { 'content-type': 'application/json' } });
        }
        const body = new ReadableStream({
          async pull(controller) {
            await yieldTask();
            if (next < chunks.length) controller.enqueue(event(chunks[next++]));
            else {
              controller.enqueue(encoder.encode('data: [DONE]\n\n'));
              controller.close();
            }
          },
        });
        return new Response(body, { headers: { 'content-type': 'text/event-stream' } });
      };
      const widget = window.Airlock.createWidget({
        widgetId: 'wgt_bench',
        apiBase: location.origin,
        target: document.querySelector('#chat'),
        storage: 'memory',
        fetch: fakeFetch,
      });
      await widget.whenReady();
      // Warm up the JIT on a first answer, so the first window measures the renderer, not the compiler.
      const warmUp = chunks;
      chunks = chunks.slice(0, 1_000);
      await widget.send('Warm up');
      widget.reset();
      chunks = warmUp;
      next = 0;
      const stamps = [];
      widget.on('message-delta', () => stamps.push(performance.now()));
      const start = performance.now();
      await widget.send('Write a long answer');
      return { start, stamps };
    },
    { chunks: answerTokens(tokens) },
  );
  await context.close();
  const { start, stamps } = times;
  const intervals = stamps.map((stamp, index) => stamp - (index === 0 ? start : stamps[index - 1]));
  const mean = (values) => values.reduce((sum, value) => sum + value, 0) / values.length;
  // The first token also carries the request set-up; it is left out of the first window.
  const first = mean(intervals.slice(1, window + 1));
  const last = mean(intervals.slice(-window));
  return { first, last, ratio: last / first, total: stamps.at(-1) - start, count: stamps.length };
}

const results = [];
for (let run = 0; run < runs; run += 1) results.push(await measure());
await browser.close();
server.close();

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const micro = (milliseconds) => `${(milliseconds * 1000).toFixed(1)} µs`;
for (const [index, result] of results.entries()) {
  console.log(
    `run ${index + 1}: ${result.count} tokens in ${result.total.toFixed(0)} ms; per token: first 1,000 ${micro(result.first)}, last 1,000 ${micro(result.last)}, ratio ${result.ratio.toFixed(2)}`,
  );
}
const ratio = median(results.map((result) => result.ratio));
console.log(
  `median of ${runs}: first 1,000 tokens ${micro(median(results.map((result) => result.first)))}/token, ` +
    `last 1,000 tokens ${micro(median(results.map((result) => result.last)))}/token, ratio last/first ${ratio.toFixed(2)}`,
);
// A quadratic renderer reaches ratios of 5-10 here; allow noise, not growth.
if (ratio > 2) {
  console.error('render cost per token grows with the answer');
  process.exitCode = 1;
}
