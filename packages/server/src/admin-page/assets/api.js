// @ts-check
// The admin API as the page calls it: the session cookie, the CSRF header,
// errors as ApiError, and the JSON shapes of its answers.

/**
 * @typedef {{ kind: 'operator' } | { kind: 'account', accountId: string }} Principal
 * @typedef {{ principal: Principal, csrfToken: string }} Session
 * @typedef {{ id: string, name: string }} Account
 * @typedef {{ brandColor?: string | null, brandTextColor?: string | null, position?: string | null, offsetX?: number | null, offsetY?: number | null, launcherIcon?: string | null, launcherImage?: string | null, launcherLabel?: string | null, logo?: string | null, width?: number | null, height?: number | null, radius?: number | null, fontFamily?: string | null, poweredBy?: boolean | null }} Style
 * @typedef {{ title: string, theme: string, greeting?: string | null, placeholder?: string | null, suggestedPrompts?: string[] | null, locale?: string | null, style?: Style | null, translations?: object | null, proactiveGreeting?: { text: string, delaySeconds?: number } | null }} Presentation
 * @typedef {{ strategy: string, messages?: number, budgetTokens?: number }} Memory
 * @typedef {{ model: string, allowedModels?: string[] | null, systemPrompt?: string | null, temperature?: number | null, maxOutputTokens?: number | null, promptFilter?: { blocked: string[] } | null, timeZone?: string | null, memory?: Memory, allowClientInstructions?: boolean | null, vectorCount?: number | null, promptTemplate?: string | null, inputs?: object[] | null, image?: { sizes?: string[], maxImages?: number, quality?: string } }} Behaviour
 * @typedef {{ id: string, accountId: string, name: string, type: string, enabled: boolean, allowedOrigins: string[], keySource?: string, presentation: Presentation, behaviour: Behaviour }} Widget
 * @typedef {{ fingerprint: string, status: string, savedAt: string, ageDays?: number, lastUsedAt?: string, lastErrorCode?: string, revokedAt?: string, rotationDue?: boolean }} Key
 * @typedef {{ id: string, label?: string, createdAt: string, lastUsedAt?: string, revokedAt?: string }} AccessToken
 * @typedef {{ source: string, key?: Key, widgets: { id: string, name: string }[] }} SharedKey
 * @typedef {{ scriptTag: string, iframe: string }} Embed
 * @typedef {{ day: string, views: number, requests: number, inputTokens: number, outputTokens: number, generations: number, errors: Record<string, number> }} UsageDay
 * @typedef {{ allowance: number | null, used: number, remaining: number }} Balance
 * @typedef {{ id: string, name: string, format: string, bytes: number, status: string, progress?: number, error?: string, vectorsNote?: string, passages: number, tokens: number, createdAt: string, sourceUrl?: string }} KnowledgeFile
 * @typedef {{ files: KnowledgeFile[], limits?: { maxFileBytes?: number, maxWidgetFiles?: number }, totals?: { bytes?: number, passages?: number } }} KnowledgeList
 * @typedef {{ rank: number, score: number }} Standing
 * @typedef {{ rank: number, score: number, keyword?: Standing, vector?: Standing, passage: { file: string, url?: string, location?: string, text: string } }} Hit
 */

const base = location.pathname.replace(/\/admin(\/.*)?$/, '');
export const adminBase = `${base}/admin`;

/** Who is signed in, and the account the page shows. */
export const state = {
  /** @type {Principal | undefined} */
  principal: undefined,
  csrfToken: '',
  /** @type {Account[]} */
  accounts: [],
  accountId: 'default',
};

/**
 * What the entry module (admin.js) provides, set when it starts: it owns the
 * sign-in form and the router, which the modules here and the pages call back.
 */
export const shell = {
  /** @type {(message?: string) => void} */
  showSignIn: () => {},
  /** @type {() => Promise<void>} */
  route: async () => {},
};

export class ApiError extends Error {
  /**
   * @param {number} status
   * @param {any} body the answer's JSON, if any
   */
  constructor(status, body) {
    super(body?.error?.message ?? `The server answered ${status}.`);
    this.status = status;
    /** @type {string | undefined} */
    this.code = body?.error?.code;
    this.body = body;
  }
}

function sessionEnded() {
  state.principal = undefined;
  shell.showSignIn('Your session ended; please sign in again.');
}

/**
 * One admin API call; resolves its JSON answer, whose shape the caller names.
 * @param {string} method
 * @param {string} path under /admin
 * @param {unknown} [body]
 * @returns {Promise<unknown>}
 */
export async function api(method, path, body) {
  /** @type {Record<string, string>} */
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
    if (response.status === 401 && path !== '/session') sessionEnded();
    throw new ApiError(response.status, parsed);
  }
  return parsed;
}

/** The shown account's id, for a path. */
export const account = () => encodeURIComponent(state.accountId);

/** The widgets of the shown account. */
export async function accountWidgets() {
  const { widgets } = /** @type {{ widgets: Widget[] }} */ (await api('GET', '/widgets'));
  return widgets.filter((widget) => widget.accountId === state.accountId);
}

/**
 * Sends one file as multipart/form-data with XMLHttpRequest (fetch reports no
 * upload progress), authenticated exactly as api() is: the session cookie and
 * the CSRF header. Resolves the server's `{ file, duplicate }`.
 * @param {string} widgetId
 * @param {File} file
 * @param {{ sourceUrl?: string, replaces?: string }} fields
 * @param {(fraction: number) => void} onProgress
 * @returns {Promise<{ file: KnowledgeFile, duplicate?: boolean }>}
 */
export function uploadKnowledgeFile(widgetId, file, fields, onProgress) {
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
      if (request.status === 401) sessionEnded();
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
