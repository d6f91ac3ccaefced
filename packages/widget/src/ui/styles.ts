// The private `--_…` properties resolve the documented `--airlock-…` custom
// properties against each theme's defaults, so a page can override any colour
// without knowing which theme is active.
const light =
  '--_background:var(--airlock-background,#ffffff);--_surface:var(--airlock-surface,#f1f3f5);' +
  '--_text:var(--airlock-text,#1b1f24);--_muted:var(--airlock-muted,#5c6570);--_border:var(--airlock-border,#d0d5db);' +
  '--_accent:var(--airlock-accent,#2557d6);--_on-accent:var(--airlock-on-accent,#ffffff);' +
  '--_error:var(--airlock-error,#a4161a);--_error-surface:var(--airlock-error-surface,#fdecec);';
const dark =
  '--_background:var(--airlock-background,#17191c);--_surface:var(--airlock-surface,#25282d);' +
  '--_text:var(--airlock-text,#e8eaed);--_muted:var(--airlock-muted,#a0a7b0);--_border:var(--airlock-border,#3a3f46);' +
  '--_accent:var(--airlock-accent,#7aa2ff);--_on-accent:var(--airlock-on-accent,#0b1020);' +
  '--_error:var(--airlock-error,#ffb4b0);--_error-surface:var(--airlock-error-surface,#3b1a1a);';

/** The widget's whole stylesheet. Sizes are in px: `rem` would follow the host page's root font size. */
export const widgetCss = `
:host{all:initial;display:block;box-sizing:border-box;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--_text);${light}}
:host([data-theme="dark"]){${dark}}
@media (prefers-color-scheme:dark){:host([data-theme="auto"]){${dark}}}
:host([data-placement="floating"]){position:fixed;right:16px;bottom:16px;z-index:2147483000;width:360px;height:520px;max-width:calc(100vw - 32px);max-height:calc(100vh - 32px)}
:host([data-placement="inline"]){width:100%;height:100%;min-height:320px}
*,*::before,*::after{box-sizing:border-box}
[hidden]{display:none!important}
:focus-visible{outline:2px solid var(--_accent);outline-offset:2px}
[part~="panel"]{display:flex;flex-direction:column;height:100%;overflow:hidden;background:var(--_background);border:1px solid var(--_border);border-radius:12px}
:host([data-placement="floating"]) [part~="panel"]{box-shadow:0 8px 32px rgba(0,0,0,.18)}
[part~="header"]{margin:0;padding:12px 16px;font-size:16px;font-weight:600;border-bottom:1px solid var(--_border)}
[part~="transcript"]{flex:1;overflow-y:auto;display:flex;flex-direction:column;gap:8px;padding:12px}
[part~="message"]{max-width:85%;padding:8px 12px;border-radius:12px;white-space:pre-wrap;overflow-wrap:anywhere}
[part~="message-user"]{align-self:flex-end;background:var(--_accent);color:var(--_on-accent)}
[part~="message-assistant"]{align-self:flex-start;background:var(--_surface)}
[data-streaming]::after{content:"\\2026";color:var(--_muted)}
[part~="alert"]{margin:0 12px;color:var(--_error);background:var(--_error-surface);border-radius:8px}
[part~="alert"]:not(:empty){margin-bottom:8px;padding:8px 12px}
[part~="composer"]{display:flex;align-items:flex-end;gap:8px;margin:0;padding:12px;border-top:1px solid var(--_border)}
[part~="input"]{flex:1;min-height:40px;max-height:120px;resize:none;padding:9px 10px;font:inherit;color:inherit;background:var(--_background);border:1px solid var(--_border);border-radius:8px}
button{height:40px;padding:0 14px;font:inherit;font-weight:600;color:var(--_on-accent);background:var(--_accent);border:0;border-radius:8px;cursor:pointer}
button:disabled{opacity:.5;cursor:default}
[part~="stop"]{color:var(--_text);background:var(--_surface);border:1px solid var(--_border)}
.visually-hidden{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}
`;

/**
 * A constructable stylesheet holding {@link widgetCss}. Adopted by the shadow
 * root rather than injected as `<style>`, so a `style-src 'self'` CSP allows it.
 * Made per widget because a sheet can only be adopted by the document that made it.
 */
export function createStyleSheet(): CSSStyleSheet {
  const sheet = new CSSStyleSheet();
  sheet.replaceSync(widgetCss);
  return sheet;
}
