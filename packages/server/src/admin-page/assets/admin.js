// The Airlock admin page: plain DOM, no framework, no build step. Every
// value from the server is put in the page as text (never as HTML).
/* global navigator, location, history, Node, HTMLElement, HTMLSelectElement, HTMLDialogElement, URLSearchParams, Event, requestAnimationFrame, cancelAnimationFrame, XMLHttpRequest, FormData */

const base = location.pathname.replace(/\/admin(\/.*)?$/, '');
const adminBase = `${base}/admin`;
const svgNs = 'http://www.w3.org/2000/svg';

const state = {
  principal: undefined,
  csrfToken: '',
  accounts: [],
  accountId: 'default',
};

// ---------- DOM helpers ----------

function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === false || value === null) continue;
    if (name.startsWith('on')) element.addEventListener(name.slice(2), value);
    else if (name === 'value') element.value = value;
    else if (name === 'checked') element.checked = Boolean(value);
    else element.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

function s(tag, attributes = {}, ...children) {
  const element = document.createElementNS(svgNs, tag);
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, String(value));
  for (const child of children.flat(Infinity)) if (child) element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  return element;
}

let fieldCount = 0;
/** A labelled form field; `control` gets an id the label points at. */
function field(label, control, hint) {
  const id = control.id || `field-${++fieldCount}`;
  control.id = id;
  const hintId = hint ? `${id}-hint` : undefined;
  if (hintId) control.setAttribute('aria-describedby', hintId);
  return h('div', { class: 'field' }, h('label', { for: id }, label), control, hint && h('p', { class: 'hint', id: hintId }, hint));
}

function main() {
  return document.getElementById('main');
}

function render(...children) {
  const target = main();
  target.replaceChildren(...children);
}

let toastTimer;
function toast(message, kind = 'ok') {
  const element = document.getElementById('toast');
  element.textContent = message;
  element.dataset.kind = kind;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => {
    element.textContent = '';
  }, 6000);
}

function errorBox(error) {
  return h('p', { class: 'error', role: 'alert' }, error instanceof Error ? error.message : String(error));
}

function formatDate(value) {
  if (!value) return '—';
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? value : date.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

/** Asks for confirmation in a modal dialog; resolves true when confirmed. */
function confirmDialog(title, body, confirmLabel) {
  const dialog = document.getElementById('dialog');
  if (!(dialog instanceof HTMLDialogElement)) return Promise.resolve(false);
  document.getElementById('dialog-title').textContent = title;
  document.getElementById('dialog-body').replaceChildren(...body);
  document.getElementById('dialog-confirm').textContent = confirmLabel;
  dialog.returnValue = '';
  dialog.showModal();
  return new Promise((resolve) => {
    dialog.addEventListener('close', () => resolve(dialog.returnValue === 'confirm'), { once: true });
  });
}

// ---------- API ----------

class ApiError extends Error {
  constructor(status, body) {
    super(body?.error?.message ?? `The server answered ${status}.`);
    this.status = status;
    this.code = body?.error?.code;
    this.body = body;
  }
}

async function api(method, path, body) {
  const headers = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET') headers['x-csrf-token'] = state.csrfToken;
  const response = await fetch(`${adminBase}${path}`, {
    method,
    headers,
    credentials: 'same-origin',
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  const parsed = text ? JSON.parse(text) : undefined;
  if (!response.ok) {
    if (response.status === 401 && path !== '/session') {
      state.principal = undefined;
      showSignIn('Your session ended; please sign in again.');
    }
    throw new ApiError(response.status, parsed);
  }
  return parsed;
}

const account = () => encodeURIComponent(state.accountId);

async function accountWidgets() {
  const { widgets } = await api('GET', '/widgets');
  return widgets.filter((widget) => widget.accountId === state.accountId);
}

// ---------- sign-in ----------

function showSignIn(message) {
  document.getElementById('nav').hidden = true;
  document.getElementById('sign-out').hidden = true;
  document.getElementById('account-picker').hidden = true;
  document.getElementById('principal').textContent = '';
  const input = h('input', { type: 'password', name: 'token', autocomplete: 'off', required: true, spellcheck: 'false' });
  const problem = h('div', { 'aria-live': 'polite' });
  const form = h(
    'form',
    {
      class: 'card narrow',
      async onsubmit(event) {
        event.preventDefault();
        problem.replaceChildren();
        try {
          const answer = await api('POST', '/session', { token: input.value });
          input.value = '';
          await startSession(answer);
        } catch (error) {
          problem.replaceChildren(errorBox(error));
        }
      },
    },
    h('h1', {}, 'Sign in'),
    message && h('p', { class: 'muted' }, message),
    field('Admin token or account access token', input, 'Operators use the admin token; account owners use the access token the operator gave them.'),
    problem,
    h('button', { type: 'submit' }, 'Sign in'),
  );
  render(form);
  input.focus();
}

async function startSession(session) {
  state.principal = session.principal;
  state.csrfToken = session.csrfToken;
  document.getElementById('nav').hidden = false;
  document.getElementById('sign-out').hidden = false;
  const picker = document.getElementById('account-picker');
  const select = document.getElementById('account');
  if (session.principal.kind === 'account') {
    state.accountId = session.principal.accountId;
    picker.hidden = true;
    document.getElementById('principal').textContent = `Account ${state.accountId}`;
  } else {
    document.getElementById('principal').textContent = 'Operator';
    try {
      state.accounts = (await api('GET', '/accounts')).accounts;
    } catch {
      state.accounts = [{ id: 'default', name: 'Default account' }];
    }
    if (!state.accounts.some((entry) => entry.id === state.accountId)) state.accountId = state.accounts[0]?.id ?? 'default';
    select.replaceChildren(...state.accounts.map((entry) => h('option', { value: entry.id }, `${entry.name} (${entry.id})`)));
    select.value = state.accountId;
    picker.hidden = false;
  }
  if (!location.hash || location.hash === '#') history.replaceState(null, '', '#/keys');
  await route();
}

// ---------- API key page ----------

function keyExplainer() {
  return h(
    'p',
    { class: 'notice' },
    'Your key is encrypted as soon as it is saved and can never be shown again — not on this page, not in any answer or log. ',
    'Only its fingerprint stays visible. Rotate keys regularly (for example every 90 days, and at once if a key may have leaked): ',
    'save a new key here with Replace, then delete the old one in your OpenAI dashboard.',
  );
}

function keyDetails(key) {
  const rows = [
    ['Fingerprint', key.fingerprint],
    ['Status', key.status],
    ['Saved', `${formatDate(key.savedAt)} (${key.ageDays === 1 ? '1 day' : `${key.ageDays ?? 0} days`} ago)`],
    ['Last used', formatDate(key.lastUsedAt)],
  ];
  if (key.lastErrorCode) rows.push(['Last error', key.lastErrorCode]);
  if (key.revokedAt) rows.push(['Revoked', formatDate(key.revokedAt)]);
  const facts = h(
    'dl',
    { class: 'facts', 'data-testid': 'key-details' },
    rows.map(([name, value]) => [h('dt', {}, name), h('dd', {}, value)]),
  );
  if (!key.rotationDue) return facts;
  return h(
    'div',
    {},
    h(
      'p',
      { class: 'notice', role: 'status', 'data-testid': 'rotation-due' },
      `This key is ${key.ageDays} days old: time to replace it. Replace saves the new key in one step and the widgets using it keep working; then delete the old key in your OpenAI dashboard.`,
    ),
    facts,
  );
}

function keySaveForm(label, onSaved, keyPath = `/accounts/${account()}/key`) {
  const input = h('input', { type: 'password', name: 'apiKey', autocomplete: 'off', spellcheck: 'false', required: true, placeholder: 'sk-…' });
  const problem = h('div', { 'aria-live': 'polite' });
  const button = h('button', { type: 'submit' }, 'Save key');
  return h(
    'form',
    {
      class: 'inline-form',
      async onsubmit(event) {
        event.preventDefault();
        problem.replaceChildren();
        button.disabled = true;
        button.textContent = 'Checking with OpenAI…';
        try {
          const saved = await api('PUT', keyPath, { apiKey: input.value });
          input.value = '';
          toast(`Key ${saved.fingerprint} saved.`);
          await onSaved();
        } catch (error) {
          input.value = '';
          problem.replaceChildren(errorBox(error));
        } finally {
          button.disabled = false;
          button.textContent = 'Save key';
        }
      },
    },
    field(label, input, 'Checked with OpenAI before it is saved. Paste it once; it is never shown again.'),
    problem,
    button,
  );
}

async function revokeKey(onDone, keyPath = `/accounts/${account()}/key`) {
  try {
    await api('DELETE', keyPath);
    toast('Key revoked.');
  } catch (error) {
    if (!(error instanceof ApiError) || error.code !== 'key_in_use') {
      toast(error.message, 'error');
      return;
    }
    const widgets = error.body?.widgets ?? [];
    const confirmed = await confirmDialog(
      'Revoke a key in use?',
      [
        h('p', {}, `${widgets.length} widget(s) use this key. If you revoke it anyway, they stop working (upstream_key_invalid) until you save a new key:`),
        h(
          'ul',
          { 'data-testid': 'widgets-using-key' },
          widgets.map((widget) => h('li', {}, `${widget.name} (${widget.id})`)),
        ),
      ],
      'Revoke anyway',
    );
    if (!confirmed) return;
    try {
      await api('DELETE', `${keyPath}?force=true`);
      toast('Key revoked; its widgets are stopped until a new key is saved.');
    } catch (forced) {
      toast(forced.message, 'error');
      return;
    }
  }
  await onDone();
}

async function keysPage() {
  const section = h(
    'section',
    { 'aria-labelledby': 'keys-title', 'data-account': state.accountId },
    h('h1', { id: 'keys-title' }, 'OpenAI API key'),
    keyExplainer(),
  );
  render(section);
  let key;
  let widgets = [];
  try {
    [key, widgets] = await Promise.all([
      api('GET', `/accounts/${account()}/key`).catch((error) => {
        if (error instanceof ApiError && error.status === 404) return undefined;
        throw error;
      }),
      accountWidgets(),
    ]);
  } catch (error) {
    section.append(errorBox(error));
    return;
  }
  const hasOwnKey = key !== undefined && key.status !== 'revoked';
  const usesOwn = (widget) => widget.keySource === 'own' || (widget.keySource === undefined && hasOwnKey);
  const own = widgets.filter(usesOwn);
  const shared = widgets.filter((widget) => !usesOwn(widget));
  section.append(
    h(
      'div',
      { class: 'card' },
      h('h2', {}, 'Which key your widgets use'),
      h(
        'p',
        { 'data-testid': 'key-in-use' },
        hasOwnKey ? 'This account has its own key.' : 'This account has no key of its own: its widgets use the shared key.',
      ),
      h(
        'ul',
        {},
        h('li', {}, `Own key: ${own.length ? own.map((widget) => widget.name).join(', ') : 'no widgets'}`),
        h('li', {}, `Shared key: ${shared.length ? shared.map((widget) => widget.name).join(', ') : 'no widgets'}`),
      ),
    ),
  );
  const card = h('div', { class: 'card' }, h('h2', {}, hasOwnKey ? 'Current key' : 'Add your key'));
  section.append(card);
  if (key) card.append(keyDetails(key));
  if (hasOwnKey) {
    const replace = keySaveForm('Replace with a new key', keysPage);
    replace.hidden = true;
    card.append(
      h(
        'div',
        { class: 'actions' },
        h('button', { type: 'button', class: 'secondary', onclick: () => ((replace.hidden = false), replace.querySelector('input').focus()) }, 'Replace'),
        h('button', { type: 'button', class: 'danger', onclick: () => revokeKey(keysPage) }, 'Revoke'),
      ),
      replace,
    );
  } else {
    card.append(keySaveForm('New OpenAI key', keysPage));
  }
  if (state.principal?.kind === 'operator') {
    section.append(await accessTokensCard(), await sharedKeyCard());
  }
}

/** Operator only: the access tokens with which this account's owner signs in. */
async function accessTokensCard() {
  const card = h('div', { class: 'card' }, h('h2', {}, 'Access for the account owner'));
  const shown = h('div', { 'aria-live': 'polite' });
  let tokens = [];
  try {
    tokens = (await api('GET', `/accounts/${account()}/access-tokens`)).accessTokens.filter((token) => !token.revokedAt);
  } catch (error) {
    card.append(errorBox(error));
    return card;
  }
  card.append(
    h('p', { class: 'muted' }, 'An access token lets the owner of this account sign in here and see only this account. It is shown once.'),
    tokens.length
      ? h(
          'ul',
          {},
          tokens.map((token) =>
            h(
              'li',
              {},
              `${token.label ?? token.id} — created ${formatDate(token.createdAt)}, last used ${formatDate(token.lastUsedAt)} `,
              h(
                'button',
                {
                  type: 'button',
                  class: 'danger',
                  'aria-label': `Revoke access token ${token.label ?? token.id}`,
                  async onclick() {
                    await api('DELETE', `/accounts/${account()}/access-tokens/${encodeURIComponent(token.id)}`).catch((error) => toast(error.message, 'error'));
                    await keysPage();
                  },
                },
                'Revoke',
              ),
            ),
          ),
        )
      : h('p', {}, 'No access tokens.'),
    h(
      'button',
      {
        type: 'button',
        class: 'secondary',
        async onclick() {
          try {
            const created = await api('POST', `/accounts/${account()}/access-tokens`, {});
            shown.replaceChildren(
              h('p', {}, 'Give this token to the account owner now; it cannot be shown again:'),
              h('pre', { tabindex: '0' }, h('code', { 'data-testid': 'new-access-token' }, created.token)),
            );
          } catch (error) {
            shown.replaceChildren(errorBox(error));
          }
        },
      },
      'Create access token',
    ),
    shown,
  );
  return card;
}

/** Operator only: the shared key, used by widgets of accounts without their own key. */
async function sharedKeyCard() {
  const card = h('div', { class: 'card' }, h('h2', {}, 'Shared key (all accounts)'));
  let shared;
  try {
    shared = await api('GET', '/shared-key');
  } catch (error) {
    card.append(errorBox(error));
    return card;
  }
  const sources = {
    vault: 'Saved here.',
    environment: 'From the server’s OPENAI_API_KEY setting.',
    none: 'No shared key: widgets without an own key cannot answer.',
  };
  card.append(h('p', {}, sources[shared.source] ?? shared.source));
  if (shared.key && shared.source === 'vault') card.append(keyDetails(shared.key));
  card.append(h('p', { class: 'muted' }, `Used by ${shared.widgets.length} widget(s) in all accounts.`));
  const replace = keySaveForm('New shared key', keysPage, '/shared-key');
  replace.hidden = true;
  card.append(
    h(
      'div',
      { class: 'actions' },
      h(
        'button',
        { type: 'button', class: 'secondary', onclick: () => ((replace.hidden = false), replace.querySelector('input').focus()) },
        shared.source === 'vault' ? 'Replace shared key' : 'Save a shared key',
      ),
      shared.source === 'vault' && h('button', { type: 'button', class: 'danger', onclick: () => revokeKey(keysPage, '/shared-key') }, 'Revoke shared key'),
    ),
    replace,
  );
  return card;
}

// ---------- widgets ----------

async function widgetsPage() {
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

const lines = (value) =>
  value
    .split('\n')
    .map((line) => line.trim())
    .filter(Boolean);
const optionalNumber = (value) => (value.trim() === '' ? null : Number(value));

// ---------- the style editor ----------

/** WCAG 2 relative luminance of `#rrggbb`. */
function luminance(colour) {
  const channel = (offset) => {
    const value = Number.parseInt(colour.slice(offset, offset + 2), 16) / 255;
    return value <= 0.04045 ? value / 12.92 : ((value + 0.055) / 1.055) ** 2.4;
  };
  return 0.2126 * channel(1) + 0.7152 * channel(3) + 0.0722 * channel(5);
}
function contrast(first, second) {
  const [lighter, darker] = [luminance(first), luminance(second)].sort((a, b) => b - a);
  return (lighter + 0.05) / (darker + 0.05);
}
const hexColour = (value) => {
  const match = /^#?([0-9a-f]{3}|[0-9a-f]{6})$/i.exec(value.trim());
  if (!match) return undefined;
  const hex = match[1].toLowerCase();
  return `#${hex.length === 3 ? [...hex].map((digit) => digit + digit).join('') : hex}`;
};
/** White or black, whichever reads better: what the server picks when no text colour is set. */
const readableOn = (background) => (contrast(background, '#ffffff') >= contrast(background, '#000000') ? '#ffffff' : '#000000');

/** The presentation the form describes, as the admin API takes it (null: not set). */
function presentationFrom(form) {
  const value = (name) => form.elements.namedItem(name)?.value ?? '';
  const text = (name) => (value(name).trim() === '' ? null : value(name).trim());
  const number = (name) => optionalNumber(value(name));
  const brandColor = hexColour(value('brandColor')) ?? null;
  const style = {
    brandColor,
    brandTextColor: (brandColor && hexColour(value('brandTextColor'))) || null,
    position: text('position'),
    offsetX: number('offsetX'),
    offsetY: number('offsetY'),
    launcherIcon: text('launcherIcon'),
    launcherImage: text('launcherImage'),
    launcherLabel: text('launcherLabel'),
    logo: text('logo'),
    width: number('width'),
    height: number('height'),
    radius: number('radius'),
    fontFamily: text('fontFamily'),
    poweredBy: form.elements.namedItem('poweredBy')?.checked || null,
  };
  const translations = value('translations').trim();
  const proactive = text('proactiveGreeting');
  const delay = number('proactiveDelay');
  const presentation = {
    title: value('title').trim() || value('name').trim(),
    theme: value('theme'),
    greeting: text('greeting'),
    placeholder: text('placeholder'),
    suggestedPrompts: lines(value('suggestedPrompts')),
    locale: text('locale'),
    style,
    translations: translations ? JSON.parse(translations) : null,
    proactiveGreeting: proactive ? { text: proactive, ...(delay !== null && { delaySeconds: delay }) } : null,
  };
  if (presentation.suggestedPrompts.length === 0) presentation.suggestedPrompts = null;
  return presentation;
}

/** What the preview shows while the owner types: the draft as a browser would get it. */
function previewConfig(presentation) {
  const config = {};
  for (const [name, entry] of Object.entries(presentation)) if (entry !== null) config[name] = entry;
  const style = {};
  for (const [name, entry] of Object.entries(presentation.style)) if (entry !== null) style[name] = entry;
  if (style.brandColor && !style.brandTextColor) style.brandTextColor = readableOn(style.brandColor);
  config.style = style;
  config.greeting ??= '';
  config.placeholder ??= '';
  config.suggestedPrompts ??= [];
  return config;
}

/** The Style fieldset: brand colour with its contrast, position, launcher, header, sizes, font. */
function styleFields(style, input) {
  const brand = input('brandColor', style.brandColor, { placeholder: '#2557d6', pattern: '#?([0-9a-fA-F]{3}|[0-9a-fA-F]{6})', spellcheck: 'false' });
  const picker = h('input', { type: 'color', value: style.brandColor ?? '#2557d6', 'aria-label': 'Pick the brand colour', class: 'swatch' });
  const textColour = input('brandTextColor', style.brandTextColor, {
    placeholder: 'automatic',
    pattern: '#?([0-9a-fA-F]{3}|[0-9a-fA-F]{6})',
    spellcheck: 'false',
  });
  const verdict = h('p', { class: 'hint', id: 'contrast-verdict', 'aria-live': 'polite', 'data-testid': 'contrast' });
  const judge = () => {
    const colour = hexColour(brand.value);
    if (colour) picker.value = colour;
    if (!colour) {
      verdict.textContent = brand.value.trim() ? 'Not a colour: use #rrggbb.' : 'The theme’s own blue.';
      verdict.className = brand.value.trim() ? 'hint error' : 'hint';
      return;
    }
    const chosen = hexColour(textColour.value) ?? readableOn(colour);
    const ratio = contrast(colour, chosen);
    const passes = ratio >= 4.5;
    verdict.textContent = `Text on it: ${chosen}${hexColour(textColour.value) ? '' : ' (chosen for you)'}, contrast ${ratio.toFixed(2)}:1 — ${passes ? 'passes WCAG AA' : `fails WCAG AA (4.5:1 needed); ${readableOn(colour)} passes`}.`;
    verdict.className = passes ? 'hint' : 'hint error';
  };
  picker.addEventListener('input', () => {
    brand.value = picker.value;
    brand.dispatchEvent(new Event('input', { bubbles: true }));
  });
  brand.addEventListener('input', judge);
  textColour.addEventListener('input', judge);
  judge();
  const brandField = field('Brand colour', brand, 'The launcher, Send and the visitor’s messages.');
  brandField.append(picker, verdict);
  return h(
    'fieldset',
    { 'data-testid': 'style' },
    h('legend', {}, 'Style'),
    brandField,
    field('Text on the brand colour', textColour, 'Leave empty: black or white, whichever reads better. A colour under 4.5:1 is refused.'),
    field(
      'Position',
      select(
        'position',
        [
          ['', 'Bottom, end of the line (right; left in Arabic and Hebrew)'],
          ['right', 'Bottom right'],
          ['left', 'Bottom left'],
        ],
        style.position ?? '',
      ),
    ),
    h(
      'div',
      { class: 'pair' },
      field('Distance from the side (px)', input('offsetX', style.offsetX, { type: 'number', min: 0, max: 200, placeholder: '20' })),
      field('Distance from the bottom (px)', input('offsetY', style.offsetY, { type: 'number', min: 0, max: 200, placeholder: '20' })),
    ),
    field(
      'Launcher icon',
      select(
        'launcherIcon',
        [
          ['', 'Speech bubble'],
          ['help', 'Question mark'],
          ['sparkles', 'Sparkles'],
        ],
        style.launcherIcon ?? '',
      ),
    ),
    field(
      'Launcher label',
      input('launcherLabel', style.launcherLabel, { maxlength: 40, placeholder: 'Chat with us' }),
      'Shown beside the icon; empty for a round button.',
    ),
    field(
      'Launcher image',
      input('launcherImage', style.launcherImage, { type: 'url', placeholder: 'https://…' }),
      'Replaces the icon: an https: address (or a data:image/ URL up to 16 KB).',
    ),
    field('Header logo or avatar', input('logo', style.logo, { type: 'url', placeholder: 'https://…' })),
    h(
      'div',
      { class: 'pair' },
      field('Panel width (px)', input('width', style.width, { type: 'number', min: 280, max: 720, placeholder: '380' })),
      field('Panel height (px)', input('height', style.height, { type: 'number', min: 320, max: 900, placeholder: '560' })),
    ),
    field('Corner radius (px)', input('radius', style.radius, { type: 'number', min: 0, max: 28, placeholder: '12' })),
    field('Font', input('fontFamily', style.fontFamily, { placeholder: 'Inter, sans-serif' }), 'A font your pages already load, then fallbacks.'),
    h(
      'div',
      { class: 'field check' },
      h('input', { type: 'checkbox', name: 'poweredBy', id: 'powered-by', checked: style.poweredBy ?? false }),
      h('label', { for: 'powered-by' }, 'Show “Powered by Airlock”'),
    ),
  );
}

/** Reads the form into a widget body: the fields every widget has, then the type's own. */
function widgetBody(form, current) {
  const value = (name) => form.elements.namedItem(name)?.value ?? '';
  const text = (name) => (value(name).trim() === '' ? null : value(name));
  const type = current?.type ?? value('type');
  const memoryStrategy = value('memory');
  const memory = { strategy: memoryStrategy };
  if (memoryStrategy === 'recent-context' || memoryStrategy === 'limited-recall') {
    const messages = optionalNumber(value('memoryMessages'));
    if (messages !== null) memory.messages = messages;
  }
  if (memoryStrategy === 'tokenized-summary') {
    const budget = optionalNumber(value('memoryBudget'));
    if (budget !== null) memory.budgetTokens = budget;
  }
  const blocked = lines(value('blocked'));
  const behaviour = {
    model: value('model').trim(),
    allowedModels: lines(value('allowedModels').replace(/,/g, '\n')),
    systemPrompt: text('systemPrompt'),
    temperature: optionalNumber(value('temperature')),
    maxOutputTokens: optionalNumber(value('maxOutputTokens')),
    promptFilter: blocked.length ? { blocked } : null,
    timeZone: text('timeZone'),
  };
  if (behaviour.allowedModels.length === 0) behaviour.allowedModels = null;
  if (type === 'chat') {
    behaviour.memory = memory;
    behaviour.allowClientInstructions = form.elements.namedItem('allowClientInstructions')?.checked || null;
    behaviour.vectorCount = optionalNumber(value('vectorCount'));
  }
  if (type === 'completion') {
    behaviour.promptTemplate = text('promptTemplate');
    const inputs = value('inputs').trim();
    behaviour.inputs = inputs ? JSON.parse(inputs) : null;
  }
  if (type === 'image') {
    const sizes = lines(value('sizes').replace(/,/g, '\n'));
    behaviour.image = {
      ...(sizes.length && { sizes }),
      ...(value('maxImages').trim() && { maxImages: Number(value('maxImages')) }),
      ...(value('quality').trim() && { quality: value('quality').trim() }),
    };
  }
  const presentation = presentationFrom(form);
  // No look set at all: no style object either.
  if (Object.values(presentation.style).every((entry) => entry === null)) presentation.style = null;
  const body = {
    name: value('name').trim(),
    enabled: form.elements.namedItem('enabled').checked,
    allowedOrigins: lines(value('allowedOrigins')),
    presentation,
    behaviour,
  };
  const keySource = value('keySource');
  // Sent only when set (or changed): older servers do not take the field.
  if (keySource !== (current?.keySource ?? '')) body.keySource = keySource === '' ? null : keySource;
  if (!current) {
    body.type = type;
    if (state.accountId !== 'default') body.accountId = state.accountId;
    // On creation, null means "not set": leave such fields out.
    for (const part of [body.presentation, body.behaviour]) for (const [name, entry] of Object.entries(part)) if (entry === null) delete part[name];
  }
  return body;
}

function select(name, options, selected) {
  return h(
    'select',
    { name },
    options.map(([value, label]) => h('option', { value, selected: value === selected }, label)),
  );
}

function widgetForm(widget, onSaved) {
  const behaviour = widget?.behaviour ?? { model: 'gpt-4o-mini' };
  const presentation = widget?.presentation ?? { title: '', theme: 'auto' };
  const memory = behaviour.memory ?? { strategy: 'standard' };
  const type = widget?.type ?? 'chat';
  const input = (name, value, attributes = {}) => h('input', { name, value: value ?? '', ...attributes });
  const area = (name, value, rows = 3) => h('textarea', { name, rows }, value ?? '');
  const problem = h('div', { 'aria-live': 'polite' });
  const typeSelect = select(
    'type',
    [
      ['chat', 'Chat'],
      ['completion', 'Text completion'],
      ['image', 'Image generation'],
    ],
    type,
  );
  if (widget) typeSelect.disabled = true;
  const typeGroups = {};
  const group = (forType, legend, ...children) => (typeGroups[forType] = h('fieldset', { 'data-type': forType }, h('legend', {}, legend), ...children));
  const form = h(
    'form',
    {
      class: 'widget-form',
      async onsubmit(event) {
        event.preventDefault();
        problem.replaceChildren();
        try {
          const body = widgetBody(form, widget);
          const saved = widget ? await api('PATCH', `/widgets/${encodeURIComponent(widget.id)}`, body) : await api('POST', '/widgets', body);
          toast(`Widget ${saved.name} saved.`);
          await onSaved(saved);
        } catch (error) {
          problem.replaceChildren(errorBox(error instanceof SyntaxError ? new Error('"Inputs" and "Texts in other languages" must be valid JSON.') : error));
        }
      },
    },
    h(
      'fieldset',
      {},
      h('legend', {}, 'Widget'),
      field('Name', input('name', widget?.name, { required: true, maxlength: 100 })),
      field('Type', typeSelect, widget ? 'The type cannot change; create a new widget instead.' : undefined),
      h(
        'div',
        { class: 'field check' },
        h('input', { type: 'checkbox', name: 'enabled', id: 'widget-enabled', checked: widget?.enabled ?? true }),
        h('label', { for: 'widget-enabled' }, 'Enabled'),
      ),
      field('Allowed origins', area('allowedOrigins', widget?.allowedOrigins.join('\n')), 'One per line: https://example.com or https://*.example.com.'),
      field(
        'OpenAI key',
        select(
          'keySource',
          [
            ['', 'Default (own key if the account has one)'],
            ['own', 'The account’s own key'],
            ['shared', 'The shared key'],
          ],
          widget?.keySource ?? '',
        ),
      ),
    ),
    h(
      'fieldset',
      {},
      h('legend', {}, 'Model'),
      field('Model', input('model', behaviour.model, { required: true })),
      field('Other allowed models', input('allowedModels', (behaviour.allowedModels ?? []).join(', ')), 'Comma-separated; clients may ask for these by name.'),
      field('System prompt', area('systemPrompt', behaviour.systemPrompt, 4), 'Never sent to the browser.'),
      field('Temperature', input('temperature', behaviour.temperature, { type: 'number', min: 0, max: 2, step: 0.1 })),
      field('Max output tokens per answer', input('maxOutputTokens', behaviour.maxOutputTokens, { type: 'number', min: 1, step: 1 })),
      field(
        'Blocked words and phrases',
        area('blocked', (behaviour.promptFilter?.blocked ?? []).join('\n')),
        'One per line; a match is refused without calling the model.',
      ),
      field('Time zone', input('timeZone', behaviour.timeZone, { placeholder: 'UTC' })),
    ),
    group(
      'chat',
      'Memory',
      field(
        'Strategy',
        select(
          'memory',
          [
            ['standard', 'Standard (everything that fits)'],
            ['recent-context', 'Recent context (last N messages)'],
            ['limited-recall', 'Limited recall (first question + last N)'],
            ['tokenized-summary', 'Summary of older turns'],
          ],
          memory.strategy,
        ),
      ),
      field('Messages kept (N)', input('memoryMessages', memory.messages, { type: 'number', min: 1 })),
      field('Summary budget (tokens)', input('memoryBudget', memory.budgetTokens, { type: 'number', min: 100 })),
      h(
        'div',
        { class: 'field check' },
        h('input', { type: 'checkbox', name: 'allowClientInstructions', id: 'allow-client-instructions', checked: behaviour.allowClientInstructions ?? false }),
        h(
          'label',
          { for: 'allow-client-instructions' },
          'Accept instructions from clients (their own system messages, sent after this widget\u2019s). Anyone with a token can then steer the model: keep it off for a public widget.',
        ),
      ),
      field(
        'Passages per answer (vector count)',
        input('vectorCount', behaviour.vectorCount, { type: 'number', min: 0, max: 20, step: 1, placeholder: '5' }),
        'How many passages of the widget’s knowledge files the model is given with each question, 0 to 20; empty: 5; 0: none.',
      ),
    ),
    group(
      'completion',
      'Text completion',
      field('Prompt template', area('promptTemplate', behaviour.promptTemplate, 4), 'Use {{name}} for each input, plus {{date}} and {{time}}.'),
      field('Inputs (JSON)', area('inputs', behaviour.inputs ? JSON.stringify(behaviour.inputs, null, 2) : '', 4)),
    ),
    group(
      'image',
      'Images',
      field('Sizes', input('sizes', (behaviour.image?.sizes ?? []).join(', '), { placeholder: '1024x1024' })),
      field('Images per request', input('maxImages', behaviour.image?.maxImages, { type: 'number', min: 1, max: 10 })),
      field('Quality', input('quality', behaviour.image?.quality)),
    ),
    h(
      'fieldset',
      {},
      h('legend', {}, 'Look and texts'),
      field('Title', input('title', presentation.title, { maxlength: 100 })),
      field(
        'Theme',
        select(
          'theme',
          [
            ['auto', 'Auto (follows the visitor)'],
            ['light', 'Light'],
            ['dark', 'Dark'],
          ],
          presentation.theme,
        ),
      ),
      field('Greeting', area('greeting', presentation.greeting, 2)),
      field('Input placeholder', input('placeholder', presentation.placeholder)),
      field('Suggested prompts', area('suggestedPrompts', (presentation.suggestedPrompts ?? []).join('\n')), 'One per line, at most 8.'),
      field('Language', input('locale', presentation.locale, { placeholder: 'visitor’s' }), 'Empty: each visitor’s own language (15 are built in).'),
      field(
        'Texts in other languages (JSON)',
        area('translations', presentation.translations ? JSON.stringify(presentation.translations, null, 2) : '', 4),
        'By language tag: {"fr": {"greeting": "Bonjour !", "placeholder": "…", "suggestedPrompts": ["…"], "proactiveGreeting": "…"}}. A visitor gets their exact tag (pt-BR), else their language (pt), else the texts above.',
      ),
      field(
        'Proactive message',
        input('proactiveGreeting', presentation.proactiveGreeting?.text, { maxlength: 300, placeholder: 'Questions? Ask us.' }),
        'A proactive greeting beside the closed launcher, once per visitor; empty for none.',
      ),
      field(
        'Show it after (seconds)',
        input('proactiveDelay', presentation.proactiveGreeting?.delaySeconds, { type: 'number', min: 0, max: 600, placeholder: '5' }),
      ),
    ),
    styleFields(presentation.style ?? {}, input),
    problem,
    h('div', { class: 'actions' }, h('button', { type: 'submit' }, widget ? 'Save changes' : 'Create widget')),
  );
  const showType = () => {
    for (const [forType, element] of Object.entries(typeGroups)) element.hidden = forType !== typeSelect.value;
  };
  typeSelect.addEventListener('change', showType);
  showType();
  return form;
}

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

async function widgetPage(id) {
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
  let widget;
  let embed;
  try {
    widget = await api('GET', `/widgets/${encodeURIComponent(id)}`);
    embed = await api('GET', `/widgets/${encodeURIComponent(id)}/embed`).catch(() => undefined);
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
              toast(error.message, 'error');
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
              toast(error.message, 'error');
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
              toast(error.message, 'error');
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
    widget.type === 'chat' && knowledgeSection(widget),
  );
}

// ---------- knowledge ----------

const knowledgeAccept = '.txt,.md,.html,.pdf,.docx,.csv,.json';
const pollMs = 700;
const finished = (status) => status === 'ready' || status === 'failed';

function formatBytes(bytes) {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toLocaleString(undefined, { maximumFractionDigits: 1 })} KB`;
  return `${(bytes / (1024 * 1024)).toLocaleString(undefined, { maximumFractionDigits: 1 })} MB`;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Sends one file as multipart/form-data with XMLHttpRequest (fetch reports no
 * upload progress), authenticated exactly as api() is: the session cookie and
 * the CSRF header. Resolves the server's `{ file, duplicate }`.
 */
function uploadKnowledgeFile(widgetId, file, fields, onProgress) {
  return new Promise((resolve, reject) => {
    const request = new XMLHttpRequest();
    request.open('POST', `${adminBase}/widgets/${encodeURIComponent(widgetId)}/knowledge`);
    request.setRequestHeader('accept', 'application/json');
    request.setRequestHeader('x-csrf-token', state.csrfToken);
    request.withCredentials = true;
    request.upload.addEventListener('progress', (event) => {
      if (event.lengthComputable && event.total > 0) onProgress(event.loaded / event.total);
    });
    request.addEventListener('load', () => {
      let parsed;
      try {
        parsed = request.responseText ? JSON.parse(request.responseText) : undefined;
      } catch {
        parsed = undefined;
      }
      if (request.status >= 200 && request.status < 300) {
        resolve(parsed);
        return;
      }
      if (request.status === 401) {
        state.principal = undefined;
        showSignIn('Your session ended; please sign in again.');
      }
      reject(new ApiError(request.status, parsed));
    });
    request.addEventListener('error', () => reject(new Error('The upload did not reach the server; check the connection and try again.')));
    request.addEventListener('abort', () => reject(new Error('The upload was stopped.')));
    const form = new FormData();
    form.append('file', file, file.name);
    if (fields.sourceUrl) form.append('sourceUrl', fields.sourceUrl);
    if (fields.replaces) form.append('replaces', fields.replaces);
    request.send(form);
  });
}

function statusText(file) {
  if (file.status === 'processing') return `Reading ${Math.round((file.progress ?? 0) * 100)}%`;
  if (file.status === 'queued') return 'Queued';
  if (file.status === 'ready') return 'ready';
  return 'failed';
}

/** A chat widget's knowledge: upload with a progress bar per file, the file list, and the retrieval test. */
function knowledgeSection(widget) {
  const path = `/widgets/${encodeURIComponent(widget.id)}/knowledge`;
  const section = h('section', { class: 'card knowledge', 'aria-labelledby': 'knowledge-title', 'data-testid': 'knowledge' });
  const limitsHint = h('p', { class: 'hint', id: 'knowledge-limits' }, 'Files this widget answers from; every answer names the passages it was given.');
  const sourceUrl = h('input', { type: 'url', name: 'knowledgeSourceUrl', placeholder: 'https://example.com/prices', spellcheck: 'false' });
  const chooser = h('input', {
    type: 'file',
    multiple: true,
    accept: knowledgeAccept,
    id: 'knowledge-files',
    class: 'file-input',
    'aria-describedby': 'knowledge-limits',
  });
  // Opened by each file's Replace button; never shown itself.
  const replacer = h('input', { type: 'file', accept: knowledgeAccept, hidden: true, 'data-testid': 'knowledge-replace-input' });
  const dropZone = h(
    'div',
    { class: 'drop-zone', 'data-testid': 'knowledge-drop' },
    h('label', { for: 'knowledge-files' }, h('strong', {}, 'Drop files here or choose files')),
    h('span', { class: 'hint' }, '.txt, .md, .html, .pdf, .docx, .csv, .json'),
    chooser,
  );
  const uploads = h('ul', { class: 'uploads', 'aria-label': 'Uploads', 'data-testid': 'knowledge-uploads' });
  const filesArea = h('div', { 'aria-live': 'polite' }, h('p', { class: 'muted' }, 'Loading…'));
  const totalsLine = h('p', { class: 'muted', 'data-testid': 'knowledge-totals' });
  let limits = {};
  let replacing;
  let listTimer;

  const refresh = async () => {
    clearTimeout(listTimer);
    let answer;
    try {
      answer = await api('GET', path);
    } catch (error) {
      filesArea.replaceChildren(errorBox(error));
      return;
    }
    limits = answer.limits ?? {};
    if (limits.maxFileBytes) {
      limitsHint.textContent = `Files this widget answers from; every answer names the passages it was given. Up to ${formatBytes(limits.maxFileBytes)} a file${limits.maxWidgetFiles ? `, ${limits.maxWidgetFiles} files` : ''}.`;
    }
    const totals = answer.totals ?? {};
    totalsLine.textContent = answer.files.length
      ? `${answer.files.length} file(s), ${formatBytes(totals.bytes ?? answer.files.reduce((sum, file) => sum + file.bytes, 0))}${totals.passages === undefined ? '' : `, ${totals.passages.toLocaleString()} passages`}.`
      : '';
    filesArea.replaceChildren(
      answer.files.length ? filesTable(answer.files) : h('p', { class: 'muted' }, 'No files yet: this widget answers from its system prompt alone.'),
    );
    // Files still being read (by an upload of another tab, or before this page loaded) are followed too.
    if (answer.files.some((file) => !finished(file.status))) {
      listTimer = setTimeout(() => {
        if (section.isConnected) void refresh();
      }, pollMs * 2);
    }
  };

  const filesTable = (files) =>
    h(
      'table',
      { class: 'list knowledge-files', 'data-testid': 'knowledge-files' },
      h('caption', { class: 'visually-hidden' }, 'Knowledge files of this widget'),
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          ['Name', 'Type', 'Size', 'Status', 'Passages', 'Tokens', 'Added', 'Actions'].map((name) => h('th', { scope: 'col' }, name)),
        ),
      ),
      h(
        'tbody',
        {},
        files.map((file) =>
          h(
            'tr',
            { 'data-file-id': file.id },
            h(
              'td',
              { 'data-label': 'Name' },
              file.sourceUrl && /^https?:\/\//i.test(file.sourceUrl)
                ? h('a', { href: file.sourceUrl, rel: 'noopener noreferrer', target: '_blank' }, file.name)
                : file.name,
            ),
            h('td', { 'data-label': 'Type' }, file.format),
            h('td', { 'data-label': 'Size' }, formatBytes(file.bytes)),
            h(
              'td',
              { 'data-label': 'Status' },
              h(
                'div',
                {},
                h('span', { class: `status ${file.status}`, 'data-testid': 'knowledge-status' }, statusText(file)),
                file.status === 'failed' && file.error && h('p', { class: 'hint error' }, file.error),
                file.vectorsNote && h('p', { class: 'hint', 'data-testid': 'vectors-note' }, file.vectorsNote),
              ),
            ),
            h('td', { 'data-label': 'Passages' }, file.passages.toLocaleString()),
            h('td', { 'data-label': 'Tokens' }, file.tokens.toLocaleString()),
            h('td', { 'data-label': 'Added' }, formatDate(file.createdAt)),
            h(
              'td',
              { 'data-label': 'Actions' },
              h(
                'div',
                { class: 'row-actions' },
                h(
                  'button',
                  {
                    type: 'button',
                    class: 'secondary',
                    'aria-label': `Replace ${file.name}`,
                    onclick() {
                      replacing = file;
                      replacer.value = '';
                      replacer.click();
                    },
                  },
                  'Replace',
                ),
                h(
                  'button',
                  {
                    type: 'button',
                    class: 'danger',
                    'aria-label': `Remove ${file.name}`,
                    async onclick() {
                      const confirmed = await confirmDialog(
                        `Remove ${file.name}?`,
                        [h('p', {}, 'Its passages and vectors are deleted at once; answers stop citing it.')],
                        'Remove file',
                      );
                      if (!confirmed) return;
                      try {
                        await api('DELETE', `${path}/${encodeURIComponent(file.id)}`);
                        toast(`${file.name} removed.`);
                      } catch (error) {
                        toast(error.message, 'error');
                      }
                      await refresh();
                    },
                  },
                  'Remove',
                ),
              ),
            ),
          ),
        ),
      ),
    );

  /** Uploads one file with its own progress bar: the upload first, then the server reading it. */
  const upload = async (file, replaces) => {
    const label = h('span', { class: 'upload-state' }, 'Waiting');
    const bar = h('progress', { max: 1, value: 0, 'aria-label': `Progress of ${file.name}` });
    const problem = h('div');
    const item = h(
      'li',
      { class: 'upload', 'data-name': file.name },
      h('div', { class: 'upload-head' }, h('span', { class: 'upload-name' }, file.name), label),
      bar,
      problem,
    );
    uploads.prepend(item);
    const fail = (message) => {
      item.dataset.state = 'failed';
      label.textContent = 'failed';
      bar.value = 0;
      problem.replaceChildren(h('p', { class: 'error', role: 'alert' }, message));
    };
    if (limits.maxFileBytes && file.size > limits.maxFileBytes) {
      fail(`This file is larger than ${formatBytes(limits.maxFileBytes)}, the limit per file.`);
      return;
    }
    item.dataset.state = 'uploading';
    label.textContent = 'Uploading 0%';
    let answer;
    try {
      answer = await uploadKnowledgeFile(widget.id, file, { sourceUrl: sourceUrl.value.trim(), replaces }, (fraction) => {
        bar.value = fraction;
        label.textContent = `Uploading ${Math.round(fraction * 100)}%`;
      });
    } catch (error) {
      fail(error instanceof Error ? error.message : String(error));
      return;
    }
    void refresh();
    if (answer.duplicate) {
      item.dataset.state = 'duplicate';
      bar.value = 1;
      label.textContent = 'already uploaded';
      problem.replaceChildren(h('p', { class: 'hint' }, `The same content is already in this widget’s knowledge as ${answer.file.name}; nothing was added.`));
      return;
    }
    // Then the server's own progress: reading, cutting into passages, embedding.
    let current = answer.file;
    bar.value = current.progress ?? 0;
    item.dataset.state = 'reading';
    while (!finished(current.status) && item.isConnected) {
      label.textContent = current.status === 'queued' ? 'Queued' : `Reading ${Math.round((current.progress ?? 0) * 100)}%`;
      await sleep(pollMs);
      try {
        current = (await api('GET', `${path}/${encodeURIComponent(current.id)}`)).file;
      } catch (error) {
        if (error instanceof ApiError && error.status === 404) {
          fail('This file was removed while it was being read.');
          return;
        }
        // A blip: try again at the next tick.
        continue;
      }
      bar.value = current.progress ?? 0;
    }
    if (!item.isConnected) return;
    if (current.status === 'failed') {
      fail(current.error ?? 'This file could not be read.');
    } else {
      item.dataset.state = 'ready';
      bar.value = 1;
      label.textContent = `ready: ${current.passages.toLocaleString()} passages`;
      if (current.vectorsNote) problem.replaceChildren(h('p', { class: 'hint' }, current.vectorsNote));
    }
    await refresh();
  };

  const uploadAll = async (files, replaces) => {
    for (const file of files) await upload(file, replaces);
  };

  chooser.addEventListener('change', () => {
    const files = [...(chooser.files ?? [])];
    chooser.value = '';
    void uploadAll(files);
  });
  replacer.addEventListener('change', () => {
    const [file] = replacer.files ?? [];
    const target = replacing;
    replacing = undefined;
    replacer.value = '';
    if (file && target) void uploadAll([file], target.id);
  });
  dropZone.addEventListener('dragover', (event) => {
    event.preventDefault();
    if (event.dataTransfer) event.dataTransfer.dropEffect = 'copy';
    dropZone.classList.add('over');
  });
  dropZone.addEventListener('dragleave', () => dropZone.classList.remove('over'));
  dropZone.addEventListener('drop', (event) => {
    event.preventDefault();
    dropZone.classList.remove('over');
    void uploadAll([...(event.dataTransfer?.files ?? [])]);
  });

  section.append(
    h('h2', { id: 'knowledge-title' }, 'Knowledge'),
    limitsHint,
    field('Source URL', sourceUrl, 'Optional: the page the next files come from; their citations link to it.'),
    dropZone,
    replacer,
    uploads,
    h('h3', {}, 'Files'),
    totalsLine,
    filesArea,
    retrievalTest(widget, path),
  );
  void refresh();
  return section;
}

/** "Try a question": the passages the widget would be given, ranked, with each retriever's standing. */
function retrievalTest(widget, path) {
  const question = h('input', { type: 'search', name: 'knowledgeQuestion', placeholder: 'How much is the Pro plan?', required: true, maxlength: 2000 });
  const results = h('div', { 'aria-live': 'polite', 'data-testid': 'knowledge-hits' });
  const button = h('button', { type: 'submit', class: 'secondary' }, 'Try');
  const standing = (name, entry) => (entry ? `${name} #${entry.rank} (${entry.score.toFixed(3)})` : `${name}: not found`);
  return h(
    'form',
    {
      class: 'retrieval-test',
      async onsubmit(event) {
        event.preventDefault();
        results.replaceChildren(h('p', { class: 'muted' }, 'Searching…'));
        button.disabled = true;
        try {
          const { hits } = await api('POST', `${path}/search`, { question: question.value });
          results.replaceChildren(
            hits.length
              ? h(
                  'ol',
                  { class: 'hits' },
                  hits.map((hit) =>
                    h(
                      'li',
                      { class: 'hit', 'data-rank': hit.rank },
                      h(
                        'p',
                        { class: 'hit-head' },
                        h('strong', {}, `#${hit.rank} `),
                        hit.passage.url && /^https?:\/\//i.test(hit.passage.url)
                          ? h('a', { href: hit.passage.url, rel: 'noopener noreferrer', target: '_blank', class: 'hit-file' }, hit.passage.file)
                          : h('span', { class: 'hit-file' }, hit.passage.file),
                        hit.passage.location && h('span', { class: 'muted' }, ` — ${hit.passage.location}`),
                      ),
                      h('p', { class: 'hint' }, `score ${hit.score.toFixed(4)} · ${standing('keyword', hit.keyword)} · ${standing('vector', hit.vector)}`),
                      h('p', { class: 'passage' }, hit.passage.text),
                    ),
                  ),
                )
              : h('p', { class: 'muted' }, 'No passage found: the widget would answer from its system prompt alone.'),
          );
        } catch (error) {
          results.replaceChildren(errorBox(error));
        } finally {
          button.disabled = false;
        }
      },
    },
    h('h3', {}, 'Try a question'),
    h('p', { class: 'hint' }, `The passages this widget would be given for a question (its vector count: ${widget.behaviour.vectorCount ?? 5}), best first.`),
    h('div', { class: 'inline-row' }, field('Question', question), button),
    results,
  );
}

// ---------- usage ----------

const dayMs = 86_400_000;
const isoDay = (date) => date.toISOString().slice(0, 10);

function daysBetween(from, to) {
  const days = [];
  for (let time = Date.parse(`${from}T00:00:00Z`); time <= Date.parse(`${to}T00:00:00Z`); time += dayMs) days.push(isoDay(new Date(time)));
  return days;
}

const errorCount = (day) => Object.values(day.errors ?? {}).reduce((sum, count) => sum + count, 0);
const metrics = [
  ['Views', (day) => day.views],
  ['Requests', (day) => day.requests],
  ['Tokens', (day) => day.inputTokens + day.outputTokens],
  ['Generations', (day) => day.generations],
  ['Errors', errorCount],
];

/** A bar chart of one metric per day, with a text summary for screen readers. */
function barChart(label, days, values) {
  const width = 560;
  const height = 120;
  const max = Math.max(1, ...values);
  const slot = width / Math.max(1, values.length);
  const total = values.reduce((sum, value) => sum + value, 0);
  const chart = s(
    'svg',
    {
      viewBox: `0 0 ${width} ${height + 18}`,
      role: 'img',
      'aria-label': `${label}: ${total} from ${days[0]} to ${days[days.length - 1]}, at most ${max} a day`,
      class: 'chart',
    },
    s('line', { x1: 0, y1: height, x2: width, y2: height, class: 'axis' }),
    values.map((value, index) => {
      const barHeight = Math.round((value / max) * (height - 4));
      return s(
        'rect',
        { x: index * slot + 1, y: height - barHeight, width: Math.max(1, slot - 2), height: barHeight, class: 'bar' },
        s('title', {}, `${days[index]}: ${value}`),
      );
    }),
    s('text', { x: 0, y: height + 14, class: 'tick' }, days[0] ?? ''),
    s('text', { x: width, y: height + 14, class: 'tick', 'text-anchor': 'end' }, days[days.length - 1] ?? ''),
  );
  return h(
    'figure',
    { class: 'card chart-card' },
    h('figcaption', {}, h('strong', {}, label), ` — ${total.toLocaleString()} in total, peak ${max === 1 && total === 0 ? 0 : max.toLocaleString()} a day`),
    chart,
  );
}

/** Operator only: sets an account's allowance of generations on the shared key. */
function allowanceForm(balance) {
  const amount = h('input', { type: 'number', name: 'allowance', min: 0, step: 1, value: balance.allowance ?? '', placeholder: 'unlimited' });
  const reset = h('input', { type: 'checkbox', name: 'resetUsed', id: 'reset-used' });
  return h(
    'form',
    {
      class: 'filters',
      async onsubmit(event) {
        event.preventDefault();
        try {
          await api('PUT', `/accounts/${account()}/generations`, { allowance: optionalNumber(amount.value), resetUsed: reset.checked });
          toast('Allowance saved.');
          await route();
        } catch (error) {
          toast(error.message, 'error');
        }
      },
    },
    field('Allowance (empty: unlimited)', amount),
    h('div', { class: 'field check' }, reset, h('label', { for: 'reset-used' }, 'Start a new period (used back to 0)')),
    h('button', { type: 'submit', class: 'secondary' }, 'Set allowance'),
  );
}

async function usagePage(query) {
  const today = new Date();
  const from = query.get('from') ?? isoDay(new Date(today.getTime() - 29 * dayMs));
  const to = query.get('to') ?? isoDay(today);
  const widgetId = query.get('widget') ?? '';
  const section = h('section', { 'aria-labelledby': 'usage-title' }, h('h1', { id: 'usage-title' }, 'Usage'));
  render(section);
  let widgets;
  try {
    widgets = await accountWidgets();
  } catch (error) {
    section.append(errorBox(error));
    return;
  }
  const fromInput = h('input', { type: 'date', name: 'from', value: from, required: true });
  const toInput = h('input', { type: 'date', name: 'to', value: to, required: true });
  const widgetSelect = select('widget', [['', 'Whole account'], ...widgets.map((widget) => [widget.id, widget.name])], widgetId);
  section.append(
    h(
      'form',
      {
        class: 'filters',
        onsubmit(event) {
          event.preventDefault();
          const next = new URLSearchParams({ from: fromInput.value, to: toInput.value });
          if (widgetSelect.value) next.set('widget', widgetSelect.value);
          location.hash = `#/usage?${next}`;
        },
      },
      field('From', fromInput),
      field('To', toInput),
      field('Widget', widgetSelect),
      h('button', { type: 'submit' }, 'Show'),
    ),
  );
  const allowance = h('div', { class: 'card', 'data-testid': 'allowance' }, h('h2', {}, 'Generation allowance'), h('p', { class: 'muted' }, 'Loading…'));
  section.append(allowance);
  api('GET', `/accounts/${account()}/generations`)
    .then((balance) => {
      allowance.replaceChildren(
        h('h2', {}, 'Generation allowance'),
        balance.allowance === null
          ? h('p', {}, `Unlimited. ${balance.used.toLocaleString()} used.`)
          : h(
              'p',
              {},
              h('strong', {}, `${balance.remaining.toLocaleString()} remaining`),
              ` of ${balance.allowance.toLocaleString()} (${balance.used.toLocaleString()} used).`,
            ),
        state.principal?.kind === 'operator' && allowanceForm(balance),
      );
    })
    .catch((error) => allowance.replaceChildren(h('h2', {}, 'Generation allowance'), errorBox(error)));
  const chosen = widgetId ? widgets.filter((widget) => widget.id === widgetId) : widgets;
  let answers;
  try {
    const range = new URLSearchParams({ from, to });
    answers = await Promise.all(chosen.map((widget) => api('GET', `/widgets/${encodeURIComponent(widget.id)}/usage?${range}`)));
  } catch (error) {
    section.append(errorBox(error));
    return;
  }
  const days = daysBetween(from, to);
  const byDay = new Map(days.map((day) => [day, { views: 0, requests: 0, inputTokens: 0, outputTokens: 0, generations: 0, errors: {} }]));
  for (const answer of answers) {
    for (const day of answer.days) {
      const sum = byDay.get(day.day);
      if (!sum) continue;
      sum.views += day.views;
      sum.requests += day.requests;
      sum.inputTokens += day.inputTokens;
      sum.outputTokens += day.outputTokens;
      sum.generations += day.generations;
      for (const [code, count] of Object.entries(day.errors)) sum.errors[code] = (sum.errors[code] ?? 0) + count;
    }
  }
  const series = days.map((day) => byDay.get(day));
  section.append(
    h(
      'p',
      { class: 'muted' },
      `${widgetId ? `Widget ${chosen[0]?.name ?? widgetId}` : `All ${chosen.length} widget(s) of the account`}, ${from} to ${to} (UTC days).`,
    ),
    h(
      'div',
      { class: 'charts' },
      metrics.map(([label, pick]) => barChart(label, days, series.map(pick))),
    ),
  );
  const errorTotals = {};
  for (const day of series) for (const [code, count] of Object.entries(day.errors)) errorTotals[code] = (errorTotals[code] ?? 0) + count;
  if (Object.keys(errorTotals).length) {
    section.append(
      h(
        'div',
        { class: 'card' },
        h('h2', {}, 'Errors by code'),
        h(
          'ul',
          {},
          Object.entries(errorTotals).map(([code, count]) => h('li', {}, `${code}: ${count}`)),
        ),
      ),
    );
  }
}

// ---------- routing ----------

async function route() {
  if (!state.principal) return;
  const [path, queryString] = location.hash.replace(/^#/, '').split('?');
  const query = new URLSearchParams(queryString ?? '');
  const parts = (path || '/keys').split('/').filter(Boolean);
  for (const link of document.querySelectorAll('#nav a')) {
    if (link instanceof HTMLElement) {
      if (link.dataset.section === parts[0]) link.setAttribute('aria-current', 'page');
      else link.removeAttribute('aria-current');
    }
  }
  if (parts[0] === 'widgets' && parts[1]) await widgetPage(decodeURIComponent(parts[1]));
  else if (parts[0] === 'widgets') await widgetsPage();
  else if (parts[0] === 'usage') await usagePage(query);
  else await keysPage();
}

async function start() {
  window.addEventListener('hashchange', () => void route());
  document.getElementById('sign-out').addEventListener('click', async () => {
    try {
      await api('DELETE', '/session');
    } finally {
      state.principal = undefined;
      state.csrfToken = '';
      showSignIn('You are signed out.');
    }
  });
  const select = document.getElementById('account');
  if (select instanceof HTMLSelectElement) {
    select.addEventListener('change', () => {
      state.accountId = select.value;
      void route();
    });
  }
  try {
    await startSession(await api('GET', '/session'));
  } catch {
    showSignIn();
  }
}

void start();
