/**
 * The script-tag entry, built as `dist/airlock.global.js` and served as
 * `…/airlock/widget.js`. The only module with side effects: it defines
 * `window.Airlock` and mounts the widget its `<script>` element names.
 *
 * ```html
 * <script src="https://example.com/airlock/widget.js" data-widget-id="wgt_123" async></script>
 * ```
 *
 * @packageDocumentation
 */
import { createWidget } from './index';

/** What the script tag puts on `window`. */
interface AirlockGlobal {
  createWidget: typeof createWidget;
}

declare global {
  interface Window {
    Airlock?: Partial<AirlockGlobal>;
  }
}

// An attribute rather than a WeakSet, so that a second copy of this bundle on
// the same page (the tag pasted twice, or a CMS injecting it again) sees it too.
const mountedAttribute = 'data-airlock-mounted';

function mount(script: HTMLScriptElement): void {
  const widgetId = script.dataset.widgetId;
  if (!widgetId || script.hasAttribute(mountedAttribute)) return;
  script.setAttribute(mountedAttribute, '');
  try {
    // The bundle is served from `{apiBase}/widget.js`, so the API lives beside it.
    const apiBase = script.dataset.apiBase ?? new URL('.', script.src).href;
    // `data-target` names an element to render inline in; default: a floating panel.
    const target = script.dataset.target ? document.querySelector<HTMLElement>(script.dataset.target) : undefined;
    if (script.dataset.target && !target) throw new Error(`Airlock: no element matches data-target="${script.dataset.target}".`);
    createWidget({ widgetId, apiBase, ...(target && { target }) });
  } catch (error) {
    // One broken tag (no `src`, say) must not keep the page's other widgets from mounting.
    console.error(error);
  }
}

// `currentScript` is only set while this script is first evaluated, so read it now.
const current = document.currentScript;
const scripts =
  current instanceof HTMLScriptElement
    ? [current]
    : Array.from(document.querySelectorAll<HTMLScriptElement>('script[data-widget-id]'));

window.Airlock = Object.assign(window.Airlock ?? {}, { createWidget });

// A synchronous tag in <head> runs before <body> exists.
if (document.body) scripts.forEach(mount);
else document.addEventListener('DOMContentLoaded', () => scripts.forEach(mount), { once: true });
