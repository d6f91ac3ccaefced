// @ts-check
// The API key page: the account's own key, which key its widgets use, and for
// operators the owner's access tokens and the shared key.
import { ApiError, account, accountWidgets, api, state } from './api.js';
import { confirmDialog, errorBox, field, formatDate, h, render, toast, toastError } from './dom.js';

/** @typedef {import('./api.js').Key} Key */

function keyExplainer() {
  return h(
    'p',
    { class: 'notice' },
    'Your key is encrypted as soon as it is saved and can never be shown again — not on this page, not in any answer or log. ',
    'Only its fingerprint stays visible. Rotate keys regularly (for example every 90 days, and at once if a key may have leaked): ',
    'save a new key here with Replace, then delete the old one in your OpenAI dashboard.',
  );
}

/** @param {Key} key */
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

/**
 * @param {string} label
 * @param {() => Promise<void>} onSaved
 * @param {string} [keyPath]
 */
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
          const saved = /** @type {Key} */ (await api('PUT', keyPath, { apiKey: input.value }));
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

/**
 * @param {() => Promise<void>} onDone
 * @param {string} [keyPath]
 */
async function revokeKey(onDone, keyPath = `/accounts/${account()}/key`) {
  try {
    await api('DELETE', keyPath);
    toast('Key revoked.');
  } catch (error) {
    if (!(error instanceof ApiError) || error.code !== 'key_in_use') {
      toastError(error);
      return;
    }
    /** @type {{ id: string, name: string }[]} */
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
      toastError(forced);
      return;
    }
  }
  await onDone();
}

/** The page of the shown account's key. */
export async function keysPage() {
  const section = h(
    'section',
    { 'aria-labelledby': 'keys-title', 'data-account': state.accountId },
    h('h1', { id: 'keys-title' }, 'OpenAI API key'),
    keyExplainer(),
  );
  render(section);
  /** @type {Key | undefined} */
  let key;
  /** @type {import('./api.js').Widget[]} */
  let widgets = [];
  try {
    [key, widgets] = await Promise.all([
      /** @type {Promise<Key | undefined>} */ (api('GET', `/accounts/${account()}/key`)).catch((error) => {
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
  const usesOwn = (/** @type {import('./api.js').Widget} */ widget) => widget.keySource === 'own' || (widget.keySource === undefined && hasOwnKey);
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
        h('button', { type: 'button', class: 'secondary', onclick: () => ((replace.hidden = false), replace.querySelector('input')?.focus()) }, 'Replace'),
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
  /** @type {import('./api.js').AccessToken[]} */
  let tokens = [];
  try {
    const answer = /** @type {{ accessTokens: import('./api.js').AccessToken[] }} */ (await api('GET', `/accounts/${account()}/access-tokens`));
    tokens = answer.accessTokens.filter((token) => !token.revokedAt);
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
                    await api('DELETE', `/accounts/${account()}/access-tokens/${encodeURIComponent(token.id)}`).catch(toastError);
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
            const created = /** @type {{ token: string }} */ (await api('POST', `/accounts/${account()}/access-tokens`, {}));
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
    shared = /** @type {import('./api.js').SharedKey} */ (await api('GET', '/shared-key'));
  } catch (error) {
    card.append(errorBox(error));
    return card;
  }
  /** @type {Record<string, string>} */
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
        { type: 'button', class: 'secondary', onclick: () => ((replace.hidden = false), replace.querySelector('input')?.focus()) },
        shared.source === 'vault' ? 'Replace shared key' : 'Save a shared key',
      ),
      shared.source === 'vault' && h('button', { type: 'button', class: 'danger', onclick: () => revokeKey(keysPage, '/shared-key') }, 'Revoke shared key'),
    ),
    replace,
  );
  return card;
}
