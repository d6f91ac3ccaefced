import type { TokenResponse } from '@airlock/protocol';
import { WidgetScript } from './assets/widget-script.js';
import { AirlockError, toAirlockError } from './errors.js';
import { preflight, withCors } from './http/cors.js';
import { errorResponse, json, readJsonObject } from './http/responses.js';
import { newId } from './ids.js';
import { createLogger, type Logger } from './logging/logger.js';
import { defaultChatInputLimits, handleChatCompletions, type ChatInputLimits } from './proxy/chat-completions.js';
import { resolveUpstream, UpstreamClients, type UpstreamOptions } from './proxy/upstream.js';
import { SqliteStore } from './stores/sqlite-store.js';
import type { Store, WidgetRecord } from './stores/store.js';
import { SigningKeys } from './tokens/signing-keys.js';
import { TokenService, type VerifiedToken } from './tokens/token-service.js';
import { createKeyring, type KeyEncryptionProvider } from './vault/key-encryption.js';
import { loadOrCreateDevMasterKey } from './vault/master-key-file.js';
import { Vault } from './vault/vault.js';
import { isOriginAllowed } from './widgets/origins.js';
import { publicConfig } from './widgets/public-config.js';

/**
 * Options of {@link createAirlock}.
 *
 * @example
 * ```ts
 * const options: AirlockOptions = { databaseUrl: 'sqlite:.airlock/airlock.db', upstream: { apiKey: process.env.OPENAI_API_KEY } };
 * ```
 */
export interface AirlockOptions {
  /** Where Airlock keeps its data. Default: `process.env.AIRLOCK_DATABASE_URL ?? 'sqlite:<dataDir>/airlock.db'`. */
  databaseUrl?: string;
  /** A store to use instead of opening `databaseUrl`. */
  store?: Store;
  /**
   * Master keyring (`v2:<base64>,v1:<base64>`, primary first) or a KMS-backed
   * provider. Default: `process.env.AIRLOCK_MASTER_KEYS`; in development mode
   * only, a key file created in `dataDir`. Required otherwise.
   */
  masterKeys?: string | KeyEncryptionProvider;
  /** Development mode: creates a local master key file when none is given. Default: `false`. */
  dev?: boolean;
  /** Folder for the development key file and the default SQLite file. Default: `'.airlock'`. */
  dataDir?: string;
  /** The OpenAI (or OpenAI-compatible) upstream. Default key: `process.env.OPENAI_API_KEY`; default base URL: `process.env.OPENAI_BASE_URL ?? 'https://api.openai.com/v1'`. */
  upstream?: UpstreamOptions;
  /** Path prefix Airlock is mounted under. Default: `'/airlock'`. */
  basePath?: string;
  /** Token issuer (`iss`). Default: `'airlock'`. */
  issuer?: string;
  /** Limits on chat requests. Default: {@link defaultChatInputLimits}. */
  chatLimits?: Partial<ChatInputLimits>;
  /** Path of the widget script-tag bundle. Default: resolved from `@airlock/widget`. */
  widgetScriptPath?: string;
  /** Structured, redacting logger. Default: JSON lines on stderr at `info`. */
  logger?: Logger;
  /** Clock, for tests. Default: `() => new Date()`. */
  now?: () => Date;
}

/**
 * Input of {@link Airlock.mintToken}, for backends minting tokens for their
 * own signed-in users.
 *
 * @example
 * ```ts
 * await airlock.mintToken({ widgetId: 'wgt_1', userId: 'user_42' });
 * ```
 */
export interface MintTokenInput {
  widgetId: string;
  /** The token's subject: your user's id. */
  userId: string;
  /** Bind the token to a browser origin; it is then refused from any other. */
  origin?: string;
  /** Lifetime in seconds. Default: 600. */
  ttlSeconds?: number;
}

/**
 * A running Airlock: a Web-standard request handler plus the operations a
 * backend calls in code.
 *
 * @example
 * ```ts
 * const airlock = createAirlock({ dev: true });
 * const response = await airlock.fetch(new Request('http://localhost/airlock/.well-known/jwks.json'));
 * ```
 */
export interface Airlock {
  /** Handles one request under `basePath`; answers 404 `not_found` elsewhere. */
  fetch(request: Request): Promise<Response>;
  /** Mints a token in code (backend minting for private widgets). */
  mintToken(input: MintTokenInput): Promise<TokenResponse>;
  /** Resolves when the store is migrated and the signing keys are loaded; rejects with the start-up error. */
  ready(): Promise<void>;
  readonly store: Store;
  readonly basePath: string;
  close(): Promise<void>;
}

/**
 * Creates an Airlock server. Returns at once; the store is migrated and keys
 * loaded on first use (await {@link Airlock.ready} to surface start-up errors
 * early). Throws immediately when no master key is configured outside
 * development mode.
 *
 * @example
 * ```ts
 * import { createAirlock } from '@airlock/server';
 * import { serve } from '@airlock/server/node';
 *
 * const airlock = createAirlock({ masterKeys: process.env.AIRLOCK_MASTER_KEYS });
 * await airlock.ready();
 * serve(airlock.fetch, { port: 8787 });
 * ```
 */
export function createAirlock(options: AirlockOptions = {}): Airlock {
  const now = options.now ?? (() => new Date());
  const logger = options.logger ?? createLogger();
  const dataDir = options.dataDir ?? '.airlock';
  const basePath = (options.basePath ?? '/airlock').replace(/\/+$/, '');
  const vault = new Vault(resolveMasterKeys(options, dataDir, logger));
  const store = options.store ?? openConfiguredStore(options.databaseUrl ?? process.env.AIRLOCK_DATABASE_URL ?? `sqlite:${dataDir}/airlock.db`);
  const upstream = new UpstreamClients(
    resolveUpstream({
      ...options.upstream,
      apiKey: options.upstream?.apiKey ?? process.env.OPENAI_API_KEY,
      baseURL: options.upstream?.baseURL ?? process.env.OPENAI_BASE_URL,
    }),
  );
  const chatLimits: ChatInputLimits = { ...defaultChatInputLimits, ...options.chatLimits };
  const widgetScript = new WidgetScript(options.widgetScriptPath);

  let started: Promise<{ tokens: TokenService; keys: SigningKeys }> | undefined;
  const start = () =>
    (started ??= (async () => {
      await store.migrate();
      const keys = await SigningKeys.load(store, vault, now);
      return { keys, tokens: new TokenService({ keys, issuer: options.issuer, now }) };
    })().catch((error: unknown) => {
      // Let the next request try again (a database that was briefly away, say).
      started = undefined;
      throw error;
    }));

  const chatContext = {
    upstream,
    limits: chatLimits,
    async apiKeyFor(_widget: WidgetRecord) {
      const key = upstream.settings.apiKey;
      if (!key) throw new AirlockError('upstream_key_invalid', 'No OpenAI key is configured for this widget.');
      return key;
    },
  };

  async function loadUsableWidget(widgetId: unknown): Promise<WidgetRecord> {
    if (typeof widgetId !== 'string' || widgetId.length === 0 || widgetId.length > 100) {
      throw new AirlockError('input_invalid', '"widgetId" must be a widget id.');
    }
    const widget = await store.getWidget(widgetId);
    if (!widget) throw new AirlockError('widget_not_found', 'There is no such widget.');
    if (!widget.enabled) throw new AirlockError('widget_disabled', 'This widget is turned off.');
    return widget;
  }

  async function mint(widget: WidgetRecord, subject: string, origin?: string, ttlSeconds?: number): Promise<TokenResponse> {
    const { tokens } = await start();
    const { token, expiresAt } = await tokens.mint({ widgetId: widget.id, subject, epoch: widget.epoch, origin, ttlSeconds });
    return { token, expiresAt, widget: publicConfig(widget) };
  }

  async function handleTokenRequest(request: Request): Promise<Response> {
    const origin = request.headers.get('origin');
    const body = await readJsonObject(request, 4 * 1024);
    const widget = await loadUsableWidget(body.widgetId);
    if (!isOriginAllowed(origin, widget.allowedOrigins)) {
      throw new AirlockError('origin_not_allowed', 'This site is not allowed to use this widget.');
    }
    const visitorId = body.visitorId;
    if (visitorId !== undefined && (typeof visitorId !== 'string' || !/^[A-Za-z0-9_-]{1,128}$/.test(visitorId))) {
      throw new AirlockError('input_invalid', '"visitorId" must be 1 to 128 letters, digits, "_" or "-".');
    }
    return withCors(json(await mint(widget, visitorId ?? newId('vis'), origin!)), origin);
  }

  async function authenticate(request: Request): Promise<{ verified: VerifiedToken; widget: WidgetRecord }> {
    const url = new URL(request.url);
    // Tokens in URLs end up in logs, history and Referer headers: refuse them outright.
    if (['token', 'access_token', 'api_key', 'key'].some((name) => url.searchParams.has(name))) {
      throw new AirlockError('token_invalid', 'Send the token in the Authorization header, never in the URL.');
    }
    const header = request.headers.get('authorization');
    if (!header) throw new AirlockError('token_missing', 'This request needs a token.');
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    if (!match) throw new AirlockError('token_invalid', 'This token is not valid.');
    const { tokens } = await start();
    const verified = await tokens.verify(match[1]!);
    const widget = await store.getWidget(verified.widgetId);
    if (!widget) throw new AirlockError('token_invalid', 'This token is not valid.');
    if (!widget.enabled) throw new AirlockError('widget_disabled', 'This widget is turned off.');
    if (verified.epoch < widget.epoch) throw new AirlockError('token_invalid', 'This token has been revoked.');
    const origin = request.headers.get('origin');
    if (verified.origin && origin && origin !== verified.origin) {
      throw new AirlockError('origin_not_allowed', 'This token belongs to another site.');
    }
    return { verified, widget };
  }

  async function route(request: Request, path: string): Promise<Response> {
    const method = request.method;
    if (path === '/token') {
      if (method === 'OPTIONS') return preflight(request);
      if (method !== 'POST') throw new AirlockError('method_not_allowed', 'Use POST.');
      return handleTokenRequest(request);
    }
    if (path.startsWith('/v1/')) {
      if (method === 'OPTIONS') return preflight(request);
      if (path === '/v1/chat/completions') {
        if (method !== 'POST') throw new AirlockError('method_not_allowed', 'Use POST.');
        const { widget } = await authenticate(request);
        return handleChatCompletions(request, widget, chatContext);
      }
      throw new AirlockError('not_found', 'There is nothing here.');
    }
    if (path === '/widget.js' && (method === 'GET' || method === 'HEAD')) return widgetScript.respond(request);
    if (path === '/.well-known/jwks.json' && method === 'GET') {
      const { keys } = await start();
      return json(keys.jwks(), { headers: { 'cache-control': 'public, max-age=300' } });
    }
    throw new AirlockError('not_found', 'There is nothing here.');
  }

  return {
    store,
    basePath,
    async fetch(request) {
      const url = new URL(request.url);
      const path = url.pathname.startsWith(`${basePath}/`) ? url.pathname.slice(basePath.length) : undefined;
      const origin = request.headers.get('origin');
      try {
        if (path === undefined) throw new AirlockError('not_found', 'There is nothing here.');
        const response = await route(request, path);
        if (path.startsWith('/v1/') && request.method !== 'OPTIONS') withCors(response, origin);
        return response;
      } catch (error) {
        const airlockError = toAirlockError(error);
        if (airlockError.code === 'internal') logger.error('request failed', { path: url.pathname, error: airlockError.cause });
        const response = errorResponse(airlockError);
        // Error bodies carry only a code and a plain message, so the widget may
        // read them (to renew an expired token, say) — except an origin refusal.
        const readable = path?.startsWith('/v1/') && airlockError.code !== 'origin_not_allowed';
        return withCors(response, readable ? origin : null);
      }
    },
    async mintToken(input) {
      const widget = await loadUsableWidget(input.widgetId);
      if (typeof input.userId !== 'string' || input.userId.length === 0 || input.userId.length > 256) {
        throw new AirlockError('input_invalid', '"userId" must be a non-empty string of at most 256 characters.');
      }
      return mint(widget, input.userId, input.origin, input.ttlSeconds);
    },
    async ready() {
      await start();
    },
    async close() {
      await store.close();
    },
  };
}

function resolveMasterKeys(options: AirlockOptions, dataDir: string, logger: Logger): KeyEncryptionProvider {
  const given = options.masterKeys ?? process.env.AIRLOCK_MASTER_KEYS;
  if (given !== undefined && given !== '') return typeof given === 'string' ? createKeyring(given) : given;
  if (!options.dev) {
    throw new AirlockError(
      'internal',
      'No master key: set AIRLOCK_MASTER_KEYS (for example "v1:<base64 of 32 random bytes>"), or use development mode.',
    );
  }
  const { keyring, created, path } = loadOrCreateDevMasterKey(dataDir);
  if (created) logger.warn('created a development master key; do not use it in production', { path });
  return createKeyring(keyring);
}

function openConfiguredStore(databaseUrl: string): Store {
  if (databaseUrl.startsWith('sqlite:')) return new SqliteStore({ path: databaseUrl.slice('sqlite:'.length) });
  throw new AirlockError('internal', `Unsupported database URL scheme "${databaseUrl.split(':')[0]}:"; use sqlite:<path>.`);
}
