// @ts-check
// The Airlock admin page: plain DOM, no framework, no build step. This entry
// signs in, routes by the location's hash and wires the page's fixed controls;
// each area's page is a module beside it. Every value from the server is put
// in the page as text (never as HTML).
import { api, shell, state } from './api.js';
import { byId, errorBox, field, h, render } from './dom.js';
import { keysPage } from './keys.js';
import { usagePage } from './usage.js';
import { widgetPage, widgetsPage } from './widgets.js';

/** @param {string} [message] why the form is shown */
function showSignIn(message) {
  byId('nav').hidden = true;
  byId('sign-out').hidden = true;
  byId('account-picker').hidden = true;
  byId('principal').textContent = '';
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
          await startSession(/** @type {import('./api.js').Session} */ (answer));
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

/** @param {import('./api.js').Session} session */
async function startSession(session) {
  state.principal = session.principal;
  state.csrfToken = session.csrfToken;
  byId('nav').hidden = false;
  byId('sign-out').hidden = false;
  const picker = byId('account-picker');
  const select = /** @type {HTMLSelectElement} */ (byId('account'));
  if (session.principal.kind === 'account') {
    state.accountId = session.principal.accountId;
    picker.hidden = true;
    byId('principal').textContent = `Account ${state.accountId}`;
  } else {
    byId('principal').textContent = 'Operator';
    try {
      state.accounts = /** @type {{ accounts: import('./api.js').Account[] }} */ (await api('GET', '/accounts')).accounts;
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

/** Shows the page the location's hash names. */
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
  shell.showSignIn = showSignIn;
  shell.route = route;
  window.addEventListener('hashchange', () => void route());
  byId('sign-out').addEventListener('click', async () => {
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
    await startSession(/** @type {import('./api.js').Session} */ (await api('GET', '/session')));
  } catch {
    showSignIn();
  }
}

void start();
