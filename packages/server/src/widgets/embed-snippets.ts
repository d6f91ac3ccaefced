import { AirlockError } from '../errors.js';

function escapeAttribute(value: string): string {
  return value.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/**
 * The two ways to put a widget on a page.
 *
 * @example
 * ```ts
 * const { scriptTag, iframe } = embedSnippets({ widgetId: 'wgt_1', serverUrl: 'https://chat.example.com' });
 * ```
 */
export interface EmbedSnippets {
  /** `<script>` tag: the widget mounts in the page (floating launcher by default). */
  scriptTag: string;
  /** `<iframe>`: the widget in its own page, isolated from the host page's scripts and styles. */
  iframe: string;
}

/**
 * Builds the embed snippets of a widget for a server at `serverUrl`
 * (the origin, optionally with a path prefix in front of `basePath`).
 *
 * @example
 * ```ts
 * embedSnippets({ widgetId: 'wgt_1', serverUrl: 'https://chat.example.com' }).scriptTag;
 * // '<script src="https://chat.example.com/airlock/widget.js" data-widget-id="wgt_1" async></script>'
 * ```
 */
export function embedSnippets(input: { widgetId: string; serverUrl: string; basePath?: string; title?: string }): EmbedSnippets {
  let server: URL;
  try {
    server = new URL(input.serverUrl);
  } catch (error) {
    throw new AirlockError('input_invalid', 'The server URL must be an absolute http(s) URL.', { cause: error });
  }
  if (server.protocol !== 'https:' && server.protocol !== 'http:') {
    throw new AirlockError('input_invalid', 'The server URL must be an absolute http(s) URL.');
  }
  const root = `${server.origin}${server.pathname.replace(/\/+$/, '')}${input.basePath ?? '/airlock'}`;
  const id = escapeAttribute(input.widgetId);
  const title = escapeAttribute(input.title ?? 'Chat');
  return {
    scriptTag: `<script src="${escapeAttribute(`${root}/widget.js`)}" data-widget-id="${id}" async></script>`,
    iframe:
      `<iframe src="${escapeAttribute(`${root}/embed/${encodeURIComponent(input.widgetId)}`)}" title="${title}" ` +
      `width="400" height="600" style="border:0;max-width:100%" allow="clipboard-write" loading="lazy"></iframe>`,
  };
}
