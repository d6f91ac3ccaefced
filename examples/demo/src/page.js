/**
 * The demo page. The widget is embedded exactly as a website owner would:
 * one script tag.
 * @param {{ widgetId: string, upstreamLabel: string, standIn: boolean }} options
 */
export function demoPage({ widgetId, upstreamLabel, standIn }) {
  const notice = standIn
    ? `<p class="notice" data-demo="stand-in-notice"><strong>Answers come from a local stand-in</strong>, not from OpenAI. Set <code>OPENAI_API_KEY</code> and restart the demo to use a real model.</p>`
    : `<p class="notice">Answers come from ${escapeHtml(upstreamLabel)}.</p>`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Airlock demo</title>
<link rel="icon" href="data:,">
<style>
  body { font: 16px/1.5 system-ui, sans-serif; max-width: 720px; margin: 40px auto; padding: 0 16px; color: #1f2328; }
  .notice { background: #fff8c5; border: 1px solid #d4a72c; border-radius: 6px; padding: 8px 12px; }
  code { background: #f6f8fa; padding: 0 4px; border-radius: 4px; }
  #chat { margin-top: 24px; }
</style>
</head>
<body>
<h1>Airlock demo</h1>
<p>The chat below is an Airlock widget embedded with one script tag. It holds only a short-lived token;
the OpenAI key stays on the server.</p>
${notice}
<pre><code>&lt;script src="/airlock/widget.js" data-widget-id="${escapeHtml(widgetId)}" async&gt;&lt;/script&gt;</code></pre>
<div id="chat"></div>
<script src="/airlock/widget.js" data-widget-id="${escapeHtml(widgetId)}" data-target="#chat" async></script>
</body>
</html>
`;
}

/** @param {string} text */
function escapeHtml(text) {
  return text.replace(/[&<>"']/g, (character) => `&#${character.charCodeAt(0)};`);
}
