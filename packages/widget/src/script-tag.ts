/**
 * The script-tag entry, built as `dist/airlock.global.js` and served as
 * `…/airlock/widget.js`. The only module with side effects: it defines
 * `window.Airlock`, runs the calls queued before it loaded, and mounts the
 * widget its `<script>` element names.
 *
 * ```html
 * <script src="https://example.com/airlock/widget.js" data-widget-id="wgt_123" async></script>
 * ```
 *
 * @packageDocumentation
 */
import { createWidget, type Widget, type WidgetOptions } from './index';

type Command = 'create' | 'open' | 'close' | 'toggle' | 'send' | 'reset' | 'destroy' | 'on';

/** What the script tag puts on `window`: a command function, as the queue stub promised. */
interface AirlockGlobal {
  (command: Command, ...args: unknown[]): unknown;
  createWidget: typeof createWidget;
  /** The widgets mounted by script tags and `Airlock('create', …)`. */
  widgets: Widget[];
  /** Calls made through the stub before the bundle loaded. */
  q?: ArrayLike<unknown>[];
}

declare global {
  interface Window {
    /** The Airlock global; before the bundle loads, possibly the queue stub (a function with `q`). */
    Airlock?: AirlockGlobal;
  }
}

// An attribute rather than a WeakSet, so that a second copy of this bundle on
// the same page (the tag pasted twice, or a CMS injecting it again) sees it too.
const mountedAttribute = 'data-airlock-mounted';

/** Reads every option a `data-*` attribute can carry. */
function optionsFrom(script: HTMLScriptElement): WidgetOptions {
  const data = script.dataset;
  // The bundle is served from `{apiBase}/widget.js`, so the API lives beside it.
  const options: WidgetOptions = { widgetId: data.widgetId ?? '', apiBase: data.apiBase ?? new URL('.', script.src).href };
  if (data.target) {
    const target = document.querySelector(data.target);
    if (!target) throw new Error(`Airlock: no element matches data-target="${data.target}".`);
    options.target = target;
  }
  // Options whose attribute is their value as written.
  for (const name of ['mode', 'theme', 'locale', 'storage', 'storageKey'] as const) if (data[name]) Object.assign(options, { [name]: data[name] });
  if (data.open !== undefined) options.open = data.open !== 'false';
  if (data.tokenUrl) options.tokenUrl = new URL(data.tokenUrl, script.src).href;
  if (data.strings) options.strings = JSON.parse(data.strings) as WidgetOptions['strings'];
  return options;
}

function mount(script: HTMLScriptElement, widgets: Widget[]): void {
  if (!script.dataset.widgetId || script.hasAttribute(mountedAttribute)) return;
  script.setAttribute(mountedAttribute, '');
  try {
    widgets.push(createWidget(optionsFrom(script)));
  } catch (error) {
    // One broken tag (no `src`, say) must not keep the page's other widgets from mounting.
    console.error(error);
  }
}

// `currentScript` is only set while this script is first evaluated, so read it now.
const current = document.currentScript instanceof HTMLScriptElement ? document.currentScript : undefined;
const scripts = current ? [current] : Array.from(document.querySelectorAll<HTMLScriptElement>('script[data-widget-id]'));

const existing = window.Airlock;
const airlock: AirlockGlobal =
  existing && typeof existing.createWidget === 'function'
    ? (existing as AirlockGlobal)
    : Object.assign(
        (command: Command, ...args: unknown[]): unknown => {
          if (command === 'create') {
            const options = args[0] as Partial<WidgetOptions>;
            const apiBase = options.apiBase ?? (current?.src ? new URL('.', current.src).href : '');
            const widget = createWidget({ ...options, apiBase } as WidgetOptions);
            airlock.widgets.push(widget);
            return widget;
          }
          // Other commands are the handle's methods, applied to every widget of the global.
          const results = airlock.widgets.map((widget) => (widget[command] as (...values: unknown[]) => unknown)(...args));
          if (command === 'destroy') airlock.widgets.length = 0;
          return results;
        },
        { createWidget, widgets: [] as Widget[] },
      );
const queued = existing?.q;
window.Airlock = airlock;

const start = (): void => {
  scripts.forEach((script) => mount(script, airlock.widgets));
  for (const call of Array.from(queued ?? [])) {
    try {
      airlock(...(Array.from(call) as [Command, ...unknown[]]));
    } catch (error) {
      console.error(error);
    }
  }
};
// A synchronous tag in <head> runs before <body> exists.
if (document.body) start();
else document.addEventListener('DOMContentLoaded', start, { once: true });
