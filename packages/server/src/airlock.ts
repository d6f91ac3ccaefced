import type { TokenLimits, TokenResponse } from '@airlock/protocol';
import { accountAdminRoutes } from './admin/accounts-routes.js';
import { authenticateAdminRequest, type AdminSessionOptions } from './admin/session.js';
import { adminPageRoutes } from './admin-page/routes.js';
import { keyAdminRoutes } from './admin/keys-routes.js';
import { knowledgeAdminRoutes } from './admin/knowledge-routes.js';
import { tokenAdminRoutes } from './admin/tokens-routes.js';
import { usageAdminRoutes } from './admin/usage-routes.js';
import { widgetAdminRoutes } from './admin/widgets-routes.js';
import { assetRoutes } from './assets/routes.js';
import { embedRoutes } from './embed/routes.js';
import type { AirlockContext } from './context.js';
import { AirlockError, toAirlockError } from './errors.js';
import { createPreflightOriginCheck, preflight, withCors } from './http/cors.js';
import { errorResponse } from './http/responses.js';
import { findRoute, type Route } from './http/router.js';
import { ClusterCoordinator } from './cluster/coordinator.js';
import { resolveRedisOptions, type RedisOptions } from './cluster/redis.js';
import { MemoryLimitCounters } from './limits/counters.js';
import { GenerationLeases } from './limits/generation-leases.js';
import { ConversationSummaries } from './proxy/conversation-summaries.js';
import type { RateLimiter } from './limits/rate-limiter.js';
import { KeyResolver } from './keys/key-resolver.js';
import { SharedKeyPolicy, sharedKeyModelsFrom, type SharedKeyOptions } from './keys/shared-key-policy.js';
import { createLogger, type Logger } from './logging/logger.js';
import { currentRequestContext, requestIdFor, runWithRequestContext } from './logging/request-context.js';
import { Metrics, routeLabel } from './operations/metrics.js';
import { operationsRoutes } from './operations/routes.js';
import type { ChatInputLimits } from './proxy/chat-completions.js';
import type { ProxyOptions } from './proxy/proxy-services.js';
import { proxyRoutes } from './proxy/routes.js';
import { resolveUpstream, UpstreamClients, type UpstreamOptions } from './proxy/upstream.js';
import { openStore } from './stores/open-store.js';
import type { Store } from './stores/store.js';
import type { MintRateLimits, TokenMintedEvent, VerifyHuman } from './tokens/public-minting.js';
import { loadUsableWidget, mintFor } from './tokens/public-minting.js';
import { tokenRoutes } from './tokens/routes.js';
import { SigningKeys } from './tokens/signing-keys.js';
import { createTokenHandler, type TokenHandlerOptions } from './tokens/token-handler.js';
import { TokenService } from './tokens/token-service.js';
import { requestPartsReader } from './http/request-parts.js';
import { createKeyring, type KeyEncryptionProvider } from './vault/key-encryption.js';
import { loadOrCreateDevMasterKey } from './vault/master-key-file.js';
import { Vault } from './vault/vault.js';
import { UsageMeter } from './usage/usage-meter.js';
import { openKnowledge, type KnowledgeOptions } from './knowledge/open-knowledge.js';
import type { KnowledgeService } from './knowledge/knowledge-service.js';

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
  /** Bearer token for the admin API. Default: `process.env.AIRLOCK_ADMIN_TOKEN`; without one the admin API answers 401. */
  adminToken?: string;
  /** Token issuer (`iss`). Default: `'airlock'`. */
  issuer?: string;
  /** Limits on chat requests. Default: 64 KB bodies, 100 messages, 16,000 characters a message. */
  chatLimits?: Partial<ChatInputLimits>;
  /** Proxy caps, rate limits, generation costs and allowances. Default: see {@link ProxyOptions}. */
  proxy?: ProxyOptions;
  /** Widgets' knowledge files: limits and the embedding model. Default: see {@link KnowledgeOptions}. */
  knowledge?: KnowledgeOptions;
  /**
   * The operator's rules for the shared OpenAI key: the models that accounts
   * granted `listed-models` may use on it. Which accounts may use it at all
   * is each account's setting (`airlock accounts shared-key`). Default: see
   * {@link SharedKeyOptions}.
   */
  sharedKey?: SharedKeyOptions;
  /** Path of the widget script-tag bundle. Default: resolved from `@airlock/widget`. */
  widgetScriptPath?: string;
  /** Counts requests for rate limits. Default: in Redis when `redis` is configured, else in-process (`MemoryRateLimiter`, per instance). */
  rateLimiter?: RateLimiter;
  /**
   * Redis, shared by every instance: rate limits, concurrent streams per
   * visitor, per-token budgets and idempotency keys are counted there
   * (atomically), and signing-key rotations are announced to every instance
   * at once. While Redis is away, limited requests answer 503
   * `limits_unavailable` unless `failOpen` is set. Default: `{ url:
   * process.env.AIRLOCK_REDIS_URL }`; without a URL every count is in-process,
   * so limits hold per instance. See {@link RedisOptions}.
   */
  redis?: RedisOptions;
  /** Structured, redacting logger. Default: JSON lines on stderr at `info`. */
  logger?: Logger;
  /**
   * Write one `info` line per request (request id, method, route, status,
   * duration, error code) to the logger. Default: `false`; `airlock serve`
   * turns it on (`AIRLOCK_LOG_REQUESTS=0` turns it off there).
   */
  logRequests?: boolean;
  /** Clock, for tests. Default: `() => new Date()`. */
  now?: () => Date;
  /**
   * Days after which a saved OpenAI key is shown as due for replacement (the
   * admin page, `GET …/key`, `airlock keys show`); `0` never reminds.
   * Default: `90`.
   */
  keyRotationReminderDays?: number;
  /** Limits on public minting (`POST /token`) per client address and per widget. Default: 30 a minute per address, 600 a minute per widget. */
  mintRateLimits?: MintRateLimits;
  /** A human check (captcha) run before each public mint; `false` answers 403 `forbidden`. Default: none. */
  verifyHuman?: VerifyHuman;
  /**
   * The client address used for per-address limits. Default: the socket
   * address recorded by Airlock's adapters. Behind a reverse proxy, return
   * the address your proxy puts in `X-Forwarded-For` (only it, as clients can
   * send that header too).
   */
  clientAddress?: (request: Request) => string | undefined;
  /** Called for every token minted (a widget view), public or backend. Default: none. */
  onTokenMinted?: (event: TokenMintedEvent) => void | Promise<void>;
  /** Public URL of this server (`https://chat.example.com`), used in embed snippets. Default: `process.env.AIRLOCK_PUBLIC_URL`, else the request's own origin. */
  publicUrl?: string;
  /** How often each instance re-reads the signing keys, so a rotation reaches all of them. Default: 60 (seconds). */
  signingKeyRefreshSeconds?: number;
  /** Sign-in sessions of the admin page at `{basePath}/admin/`. Default: see {@link AdminSessionOptions}. */
  adminSessions?: AdminSessionOptions;
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
  /** Per-token limits (requests, output tokens), carried as a claim and enforced by the proxy. Default: none. */
  limits?: TokenLimits;
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
  /**
   * A handler to mount in your own app: `POST` answers a token for the user
   * your `authenticate(request)` hook returns, or 401 `unauthenticated`.
   */
  tokenHandler(options: TokenHandlerOptions): (request: Request) => Promise<Response>;
  /** Revokes every token of a widget issued so far, on every instance; returns the new epoch. */
  revokeTokens(widgetId: string): Promise<number>;
  /** Adds a new signing key; older keys keep verifying until their tokens have expired. */
  rotateSigningKey(): Promise<{ kid: string; retiring: { kid: string; acceptedUntil: string }[] }>;
  /** Resolves when the store is migrated and the signing keys are loaded; rejects with the start-up error. */
  ready(): Promise<void>;
  /**
   * Starts shutting down: `/readyz` answers 503 so load balancers stop
   * sending traffic, and new requests get 503 `service_unavailable` (with
   * `Connection: close`), while answers already streaming go on. Call
   * {@link Airlock.close} once they have finished (`airlock serve` does this
   * on SIGTERM, with a deadline).
   */
  drain(): void;
  readonly store: Store;
  /** The widgets' knowledge files (upload, list, remove, search); `undefined` for a custom store without a knowledge store. */
  readonly knowledge: KnowledgeService | undefined;
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
  const store =
    options.store ?? openStore(options.databaseUrl ?? process.env.AIRLOCK_DATABASE_URL ?? `sqlite:${dataDir}/airlock.db`);
  const usage = new UsageMeter({ store, logger, now });
  const generationLeases = new GenerationLeases({ store, logger, leaseMs: options.proxy?.reservationLeaseMs });
  const summaries = new ConversationSummaries({ store, vault, logger, now, retentionDays: options.proxy?.summaryRetentionDays });
  const metrics = new Metrics();
  const upstream = new UpstreamClients(
    resolveUpstream({
      ...options.upstream,
      apiKey: options.upstream?.apiKey ?? process.env.OPENAI_API_KEY,
      baseURL: options.upstream?.baseURL ?? process.env.OPENAI_BASE_URL,
    }),
    (seconds) => metrics.observeUpstreamLatency(seconds),
  );

  const redisOptions = resolveRedisOptions(options.redis);
  const clock = () => now().getTime();
  const localCounters = new MemoryLimitCounters({ rateLimiter: options.rateLimiter, now: clock });
  const cluster = redisOptions
    ? new ClusterCoordinator({ redis: redisOptions, logger, fallback: localCounters, rateLimiter: options.rateLimiter, now: clock })
    : undefined;
  const counters = cluster?.counters ?? localCounters;

  const sharedKeyPolicy = new SharedKeyPolicy({
    models: options.sharedKey?.models ?? sharedKeyModelsFrom(process.env.AIRLOCK_SHARED_KEY_MODELS),
  });
  const keys = new KeyResolver({
    store,
    vault,
    logger,
    now,
    environmentKey: () => upstream.settings.apiKey,
    confirmRefused: (apiKey) => upstream.keyIsRefused(apiKey),
    checkSharedUse: (widget, stored) => sharedKeyPolicy.assertCall(widget, stored),
  });
  const knowledge = openKnowledge({ store, options: options.knowledge ?? {}, upstream, keys, logger, usage });
  let started: ReturnType<AirlockContext['started']> | undefined;
  let subscribed: (() => void) | undefined;
  const context: AirlockContext = {
    options,
    basePath,
    store,
    vault,
    upstream,
    keys,
    ...(knowledge && { knowledge }),
    sharedKey: sharedKeyPolicy,
    counters,
    usage,
    generationLeases,
    summaries,
    logger,
    metrics,
    lifecycle: { draining: false },
    readinessProbes: [],
    now,
    onTokenMinted: async (event) => {
      usage.recordView(event.widgetId);
      context.metrics.recordMint(event.via);
      await options.onTokenMinted?.(event);
    },
    started: () =>
      (started ??= (async () => {
        await store.migrate();
        // Gives back what a killed run left reserved, once its leases end.
        generationLeases.start();
        // Deletes the conversation summaries past their retention, now and every hour.
        summaries.start();
        // Files a stopped run left half read are failed with a reason, never left looking busy.
        await knowledge?.recover();
        const keys = await SigningKeys.load(store, vault, {
          now,
          refreshSeconds: options.signingKeyRefreshSeconds,
          onRotated: () => cluster?.publishSigningKeysChanged(),
        });
        if (cluster) {
          subscribed?.();
          subscribed = cluster.onSigningKeysChanged(() => keys.reload());
          // The first requests should find Redis connected; one that is down only delays them by the connect timeout.
          await cluster.connected();
        }
        return { keys, tokens: new TokenService({ keys, issuer: options.issuer, now }) };
      })().catch((error: unknown) => {
        // Let the next request try again (a database that was briefly away, say).
        started = undefined;
        throw error;
      })),
  };
  if (cluster) context.readinessProbes.push({ name: 'redis', ping: () => cluster.ping() });

  // Which origins may send OpenAI's SDK headers: those some widget allows.
  const preflightOriginCheck = createPreflightOriginCheck(context.store);
  // One table for every area; each area's routes live in its own folder.
  const routes: Route[] = [
    ...operationsRoutes(context),
    ...tokenRoutes(context),
    ...proxyRoutes(context),
    ...assetRoutes(context),
    ...embedRoutes(context),
    ...widgetAdminRoutes(context),
    ...knowledgeAdminRoutes(context),
    ...tokenAdminRoutes(context),
    ...accountAdminRoutes(context),
    ...keyAdminRoutes(context),
    ...usageAdminRoutes(context),
    ...adminPageRoutes(context),
  ];

  const logRequests = options.logRequests ?? false;
  // Metric and log label of each route, worked out once rather than per request.
  const routeLabels = new Map(routes.map((route) => [route, routeLabel(route.path)]));
  // Operations endpoints keep answering while the instance drains.
  const answeredWhileDraining = new Set(['/healthz', '/readyz', '/metrics']);

  async function handle(request: Request): Promise<Response> {
    const started = performance.now();
    const url = new URL(request.url);
    const path = url.pathname.startsWith(`${basePath}/`) ? url.pathname.slice(basePath.length) : undefined;
    const origin = request.headers.get('origin');
    let route: Route | undefined;
    let response: Response;
    let code: string | undefined;
    try {
      if (path === undefined) throw new AirlockError('not_found', 'There is nothing here.');
      const found = findRoute(routes, request.method, path);
      route = found.route;
      if (context.lifecycle.draining && !answeredWhileDraining.has(path)) {
        throw new AirlockError('service_unavailable', 'This server is shutting down; try again.', {
          headers: { 'retry-after': '1', connection: 'close' },
        });
      }
      if (request.method === 'OPTIONS' && route.browser !== 'none') {
        response = preflight(request, { originAllowed: await preflightOriginCheck(origin) });
      } else {
        // /metrics takes the admin token too: its wrong guesses count like any other.
        if (path.startsWith('/admin/') || path === '/metrics') await authenticateAdminRequest(context, request);
        response = await route.handle(request, found.params);
        if (route.browser === 'widget') response = withCors(response, origin);
      }
    } catch (error) {
      const airlockError = toAirlockError(error);
      code = airlockError.code;
      if (code === 'internal') logger.error('request failed', { path: url.pathname, error: airlockError.cause });
      else if (code === 'service_unavailable' && airlockError.cause) logger.warn('database unreachable', { path: url.pathname, error: airlockError.cause });
      metrics.recordError(code);
      // Error bodies carry only a code and a plain message, so a widget may
      // read them: to renew an expired token, say, or to tell the visitor the
      // chat is not available on this page (an origin refusal).
      const readable = route?.browser === 'widget';
      response = withCors(errorResponse(airlockError), readable ? origin : null);
    }
    const label = (route && routeLabels.get(route)) ?? 'unmatched';
    metrics.recordRequest(label, request.method, response.status);
    // Every response of ours is built here, so its headers are mutable (as withCors relies on too).
    response.headers.set('x-request-id', currentRequestContext()!.requestId);
    if (logRequests) {
      const durationMs = Math.round((performance.now() - started) * 10) / 10;
      logger.info('request', { method: request.method, route: label, status: response.status, durationMs, ...(code && { code }) });
    }
    return response;
  }

  // Every route reads bodies and the disconnect signal through http/request-parts.ts,
  // so the Node adapters may build lighter Requests for it.
  const fetchHandler = Object.assign((request: Request) => runWithRequestContext({ requestId: requestIdFor(request) }, () => handle(request)), {
    [requestPartsReader]: true,
  });

  return {
    store,
    knowledge,
    basePath,
    fetch: fetchHandler,
    async mintToken(input) {
      const widget = await loadUsableWidget(store, input.widgetId);
      if (typeof input.userId !== 'string' || input.userId.length === 0 || input.userId.length > 256) {
        throw new AirlockError('input_invalid', '"userId" must be a non-empty string of at most 256 characters.');
      }
      return mintFor(context, widget, {
        subject: input.userId,
        via: 'backend',
        origin: input.origin,
        ttlSeconds: input.ttlSeconds,
        limits: input.limits,
      });
    },
    tokenHandler(handlerOptions) {
      return createTokenHandler(context, handlerOptions);
    },
    async revokeTokens(widgetId) {
      await context.started();
      return store.bumpWidgetEpoch(widgetId);
    },
    async rotateSigningKey() {
      const { keys } = await context.started();
      return keys.rotate();
    },
    async ready() {
      await context.started();
    },
    drain() {
      context.lifecycle.draining = true;
    },
    async close() {
      generationLeases.stop();
      summaries.stop();
      await knowledge?.close();
      await usage.flush();
      await cluster?.close();
      upstream.close();
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
