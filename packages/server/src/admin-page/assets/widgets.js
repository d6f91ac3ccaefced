// @ts-check
// The widgets pages: the account's list, and one widget's page with its editor,
// live preview, embed code and (chat widgets) knowledge.
import { accountWidgets, adminBase, api } from './api.js';
import { confirmDialog, errorBox, h, render, toast, toastError } from './dom.js';
import { knowledgeSection } from './knowledge.js';
import { widgetForm } from './widget-form.js';
import { presentationFrom, previewConfig } from './widget-style.js';

/** The widgets of the shown account. */
export async function widgetsPage() {
  const section = h(
    'section',
    { 'aria-labelledby': 'widgets-title' },
    h('div', { class: 'row' }, h('h1', { id: 'widgets-title' }, 'Widgets'), h('a', { class: 'button', href: '#/widgets/new' }, 'New widget')),
  );
  render(section);
  let widgets;
  try {
    widgets = await accountWidgets();
  } catch (error) {
    section.append(errorBox(error));
    return;
  }
  if (widgets.length === 0) {
    section.append(h('p', { class: 'muted' }, 'No widgets yet.'));
    return;
  }
  section.append(
    h(
      'table',
      { class: 'list' },
      h('caption', { class: 'visually-hidden' }, 'Widgets of this account'),
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          ['Name', 'Type', 'Status', 'Allowed origins', 'Key'].map((name) => h('th', { scope: 'col' }, name)),
        ),
      ),
      h(
        'tbody',
        {},
        widgets.map((widget) =>
          h(
            'tr',
            {},
            h('td', { 'data-label': 'Name' }, h('a', { href: `#/widgets/${encodeURIComponent(widget.id)}` }, widget.name)),
            h('td', { 'data-label': 'Type' }, widget.type),
            h('td', { 'data-label': 'Status' }, widget.enabled ? 'enabled' : 'disabled'),
            h('td', { 'data-label': 'Allowed origins' }, widget.allowedOrigins.join(', ') || '—'),
            h('td', { 'data-label': 'Key' }, widget.keySource ?? 'default'),
          ),
        ),
      ),
    ),
  );
}

/**
 * @param {string} label
 * @param {string} code
 */
function embedBlock(label, code) {
  const codeElement = h('code', {}, code);
  return h(
    'div',
    { class: 'embed' },
    h(
      'div',
      { class: 'row' },
      h('h3', {}, label),
      h(
        'button',
        {
          type: 'button',
          class: 'secondary',
          'aria-label': `Copy the ${label.toLowerCase()}`,
          async onclick() {
            try {
              await navigator.clipboard.writeText(code);
              toast(`${label} copied.`);
            } catch {
              toast('Copying was refused by the browser; select the code and copy it.', 'error');
            }
          },
        },
        'Copy',
      ),
    ),
    h('pre', { tabindex: '0' }, codeElement),
  );
}

/**
 * One widget's page, or the form for a new one.
 * @param {string} id a widget's id, or `new`
 */
export async function widgetPage(id) {
  const creating = id === 'new';
  const section = h('section', { 'aria-labelledby': 'widget-title' }, h('p', {}, h('a', { href: '#/widgets' }, '← All widgets')));
  render(section);
  if (creating) {
    section.append(
      h('h1', { id: 'widget-title' }, 'New widget'),
      widgetForm(undefined, (saved) => (location.hash = `#/widgets/${encodeURIComponent(saved.id)}`)),
    );
    return;
  }
  /** @type {import('./api.js').Widget} */
  let widget;
  /** @type {import('./api.js').Embed | undefined} */
  let embed;
  try {
    widget = /** @type {import('./api.js').Widget} */ (await api('GET', `/widgets/${encodeURIComponent(id)}`));
    embed = /** @type {import('./api.js').Embed | undefined} */ (await api('GET', `/widgets/${encodeURIComponent(id)}/embed`).catch(() => undefined));
  } catch (error) {
    section.append(h('h1', { id: 'widget-title' }, 'Widget'), errorBox(error));
    return;
  }
  const path = `/widgets/${encodeURIComponent(widget.id)}`;
  const preview = h('iframe', { src: `${adminBase}/preview/${encodeURIComponent(widget.id)}`, title: `Live preview of ${widget.name}`, class: 'preview' });
  const reload = () => widgetPage(widget.id);
  const form = widgetForm(widget, reload);
  // The preview follows the form as the owner types; nothing is saved until Save.
  let pending = 0;
  form.addEventListener('input', () => {
    cancelAnimationFrame(pending);
    pending = requestAnimationFrame(() => {
      let config;
      try {
        config = previewConfig(presentationFrom(form));
      } catch {
        return; // Half-typed JSON: keep the last good preview.
      }
      preview.contentWindow?.postMessage({ airlockPreview: config }, location.origin);
    });
  });
  section.append(
    h(
      'div',
      { class: 'title-row' },
      h('h1', { id: 'widget-title' }, widget.name),
      h('span', { class: `badge ${widget.enabled ? 'on' : 'off'}` }, widget.enabled ? 'enabled' : 'disabled'),
    ),
    h(
      'div',
      { class: 'actions' },
      h(
        'button',
        {
          type: 'button',
          class: 'secondary',
          async onclick() {
            try {
              await api('PATCH', path, { enabled: !widget.enabled });
              toast(widget.enabled ? 'Widget disabled.' : 'Widget enabled.');
              await reload();
            } catch (error) {
              toastError(error);
            }
          },
        },
        widget.enabled ? 'Disable' : 'Enable',
      ),
      h(
        'button',
        {
          type: 'button',
          class: 'danger',
          async onclick() {
            const confirmed = await confirmDialog(
              'Revoke all tokens?',
              [h('p', {}, 'Every visitor’s current token stops working at once; widgets fetch new ones automatically.')],
              'Revoke tokens',
            );
            if (!confirmed) return;
            try {
              await api('POST', `${path}/revoke-tokens`);
              toast('All tokens of this widget were revoked.');
            } catch (error) {
              toastError(error);
            }
          },
        },
        'Revoke all tokens',
      ),
      h(
        'button',
        {
          type: 'button',
          class: 'danger',
          async onclick() {
            const confirmed = await confirmDialog(
              `Delete ${widget.name}?`,
              [h('p', {}, 'The widget stops working on every site at once. This cannot be undone.')],
              'Delete widget',
            );
            if (!confirmed) return;
            try {
              await api('DELETE', path);
              toast(`Widget ${widget.name} deleted.`);
              location.hash = '#/widgets';
            } catch (error) {
              toastError(error);
            }
          },
        },
        'Delete',
      ),
    ),
    h(
      'div',
      { class: 'split' },
      form,
      h(
        'aside',
        { 'aria-label': 'Preview and embed code' },
        h('h2', {}, 'Live preview'),
        h('p', { class: 'hint' }, 'Changes as you type; Save makes them live. Messages sent here go to the model like a visitor’s, and count in usage.'),
        preview,
        h('h2', {}, 'Embed code'),
        embed
          ? [embedBlock('Script tag', embed.scriptTag), embedBlock('Iframe', embed.iframe)]
          : h('p', { class: 'muted' }, 'The embed code is not available.'),
      ),
    ),
    // Uploads take effect at once, not on Save: a section of its own, under the form.
    ...(widget.type === 'chat' ? [knowledgeSection(widget)] : []),
  );
}
