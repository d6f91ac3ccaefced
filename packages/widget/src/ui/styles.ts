// The private `--_…` properties resolve the documented `--airlock-…` custom
// properties against each theme's defaults, so a page can override any colour
// without knowing which theme is active.
const names = 'background surface text muted border accent on-accent error error-surface'.split(' ');
const theme = (colours: string): string =>
  colours
    .split(' ')
    .map((colour, index) => `--_${names[index]}:var(--airlock-${names[index]},#${colour});`)
    .join('');
const light = /* @__PURE__ */ theme('ffffff f1f3f5 1b1f24 5c6570 8a939d 2557d6 ffffff a4161a fdecec');
const dark = /* @__PURE__ */ theme('17191c 25282d e8eaed a0a7b0 6b737d 7aa2ff 0b1020 ffb4b0 3b1a1a');

/**
 * The widget's whole stylesheet. Sizes are in px: `rem` would follow the host
 * page's root font size. `--_viewport` is the visual viewport's height, kept up
 * to date by the widget (it shrinks when a mobile keyboard opens). Attribute
 * values go unquoted where CSS allows it: a few hundred bytes of the bundle.
 */
export const widgetCss = `
:host{all:initial;display:block;box-sizing:border-box;font:14px/1.45 var(--airlock-font,system-ui,-apple-system,"Segoe UI",Roboto,sans-serif);color:var(--_text);${light}}
:host([data-theme=dark]){${dark}}
@media (prefers-color-scheme:dark){:host([data-theme=auto]){${dark}}}
:host([data-mode=launcher]){--_x:var(--airlock-offset-x,var(--airlock-offset,20px));position:fixed;inset-inline-end:var(--_x);bottom:var(--airlock-offset-y,var(--airlock-offset,20px));z-index:var(--airlock-z-index,2147483000)}
:host([data-position=left]){inset-inline-end:auto;left:var(--_x)}
:host([data-position=right]){inset-inline-end:auto;right:var(--_x)}
:host([data-mode=inline]){width:100%;height:100%;min-height:320px}
:host([data-mode=page]){position:fixed;inset:0;height:var(--_viewport,100dvh)}
*,*::before,*::after{box-sizing:border-box}
[hidden]{display:none!important}
:focus-visible{outline:2px solid var(--_accent);outline-offset:2px}
[part~=panel]{display:flex;flex-direction:column;height:100%;overflow:hidden;background:var(--_background);color:var(--_text);border:1px solid var(--_border);border-radius:var(--airlock-radius,12px)}
:host([data-mode=launcher]) [part~=panel]{position:absolute;inset-inline-end:0;bottom:72px;width:var(--airlock-width,380px);max-width:calc(100vw - 40px);height:min(var(--airlock-height,560px),calc(var(--_viewport,100dvh) - 112px));box-shadow:0 8px 32px rgba(0,0,0,.2);animation:airlock-in .16s ease-out}
:host([data-position=left]) :is([part~=panel],[part~=teaser]){inset-inline-end:auto;left:0}
:host([data-position=right]) :is([part~=panel],[part~=teaser]){inset-inline-end:auto;right:0}
@media (max-width:480px){:host([data-mode=launcher]) [part~=panel]{position:fixed;inset:var(--_top,0px) 0 auto;width:auto;max-width:none;height:var(--_viewport,100dvh);border:0;border-radius:0;padding:env(safe-area-inset-top) env(safe-area-inset-right) env(safe-area-inset-bottom) env(safe-area-inset-left)}:host([data-open]) [part~=launcher]{display:none}}
:host([data-mode=page]) [part~=panel]{border:0;border-radius:0}
@keyframes airlock-in{from{opacity:0;transform:translateY(8px)}}
[part~=launcher]{width:56px;height:56px;padding:0;border-radius:28px;display:flex;align-items:center;justify-content:center;gap:8px;overflow:hidden;box-shadow:0 4px 16px rgba(0,0,0,.25)}
[part~=launcher][data-label]{width:auto;padding:0 20px 0 16px}
[part~=launcher] img{width:100%;height:100%;object-fit:cover}
[data-label] img{width:32px;height:32px;border-radius:50%}
[part~=logo]{width:28px;height:28px;border-radius:50%;object-fit:cover}
[part~=powered-by]{margin:0;padding:4px;text-align:center;font-size:12px;color:var(--_muted)}
[part~=teaser]{position:absolute;inset-inline-end:0;bottom:72px;display:flex;align-items:flex-start;width:max-content;max-width:min(280px,calc(100vw - 40px));background:var(--_background);color:var(--_text);border:1px solid var(--_border);border-radius:12px;box-shadow:0 4px 16px rgba(0,0,0,.2);animation:airlock-in .16s ease-out}
[part~=teaser] button:first-child{height:auto;padding:10px 4px 10px 14px;font-weight:400;text-align:start;color:inherit;background:none}
svg{fill:none;stroke:currentColor;stroke-width:2;stroke-linecap:round;stroke-linejoin:round}
[part~=header]{display:flex;align-items:center;gap:8px;padding-block:8px;padding-inline:16px 8px;border-bottom:1px solid var(--_border)}
h2{flex:1;margin:0;font-size:16px;font-weight:600}
[part~=body]{flex:1;display:flex;flex-direction:column;min-height:0}
[part~=transcript],[part~=result]{flex:1;overflow-y:auto;display:flex;flex-direction:column;gap:8px;padding:12px}
[part~=message]{max-width:85%;padding:8px 12px;border-radius:12px;white-space:pre-wrap;overflow-wrap:anywhere}
[part~=message-user]{align-self:flex-end;background:var(--_accent);color:var(--_on-accent)}
[part~=message-assistant]{align-self:flex-start;background:var(--_surface)}
[part~=message]>:first-child,[part~=result]>:first-child{margin-top:0}
[part~=message]>:last-child{margin-bottom:0}
p,ul,ol,pre,blockquote{margin:0 0 8px}
ul,ol{padding-inline-start:20px;white-space:normal}
li{white-space:pre-wrap}
blockquote{padding-inline-start:10px;border-inline-start:3px solid var(--_border)}
code{font:13px/1.4 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;background:var(--_background);border-radius:4px;padding:1px 4px}
pre{overflow-x:auto;padding:8px;background:var(--_background);border:1px solid var(--_border);border-radius:8px}
pre code{padding:0;white-space:pre}
a{color:inherit;text-decoration:underline}
[data-streaming]::after{content:"\\2026";color:var(--_muted)}
[part~=sources]{font-size:13px}
[part~=sources] ol{margin:4px 0 0}
summary,small{font-size:inherit;color:var(--_muted)}
[part~=actions]{display:flex;gap:4px;margin-top:4px}
[part~=actions] button,[part~=suggestion],[part~=retry]{height:32px;padding:0 10px;font-size:13px;font-weight:500;color:var(--_text);background:var(--_background);border:1px solid var(--_border)}
[part~=suggestions]{display:flex;flex-wrap:wrap;gap:6px;padding:0 12px 8px}
[part~=suggestion]{height:auto;min-height:32px;padding:6px 10px;text-align:start;border-radius:16px}
[part~=alert]{display:flex;align-items:center;gap:8px;margin:0 12px;color:var(--_error);background:var(--_error-surface);border-radius:8px}
[part~=alert]:not(:empty){margin-bottom:8px;padding:8px 12px}
[part~=composer],[part~=form]{display:flex;align-items:flex-end;gap:8px;margin:0;padding:12px;border-top:1px solid var(--_border)}
[part~=form]{flex-direction:column;align-items:stretch;border:0}
[part~=field]{display:flex;flex-direction:column;gap:4px}
label{font-weight:500}
textarea,input,select{flex:1;min-width:0;min-height:40px;padding:8px 10px;font:inherit;font-size:16px;line-height:1.4;color:inherit;background:var(--_background);border:1px solid var(--_border);border-radius:8px}
[part~=input]{max-height:120px;resize:none;field-sizing:content}
button{height:40px;padding:0 14px;font:inherit;font-weight:600;color:var(--_on-accent);background:var(--_accent);border:0;border-radius:8px;cursor:pointer}
button:disabled{opacity:.5;cursor:default}
[part~=icon-button]{width:36px;height:36px;padding:0;display:grid;place-items:center;color:var(--_text);background:transparent}
[part~=stop]{color:var(--_text);background:var(--_surface);border:1px solid var(--_border)}
[part~=image]{display:block;max-width:100%;height:auto;border-radius:8px}
progress{width:100%;accent-color:var(--_accent)}
.visually-hidden{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}
@media (prefers-reduced-motion:reduce){*{animation:none!important;transition:none!important;scroll-behavior:auto!important}}
`;

/**
 * A constructable stylesheet holding {@link widgetCss}. Adopted by the shadow
 * root rather than injected as `<style>`, so a `style-src 'self'` CSP allows it.
 * Made per widget because a sheet can only be adopted by the document that made it.
 */
export function createStyleSheet(document: Document, css = widgetCss): CSSStyleSheet {
  const view = document.defaultView as (Window & typeof globalThis) | null;
  const sheet = new (view?.CSSStyleSheet ?? CSSStyleSheet)();
  sheet.replaceSync(css);
  return sheet;
}
