import type { TokenLimits, TokenResponse } from '@airlock/protocol';
import { accountAdminRoutes } from './admin/accounts-routes.js';
import { authenticateAdminRequest } from './admin/session.js';
import { adminPageRoutes } from './admin-page/routes.js';
import { keyAdminRoutes } from './admin/keys-routes.js';
import { knowledgeAdminRoutes } from './admin/knowledge-routes.js';
import { tokenAdminRoutes } from './admin/tokens-routes.js';
import { usageAdminRoutes } from './admin/usage-routes.js';
import { widgetAdminRoutes } from './admin/widgets-routes.js';
import { assetRoutes } from './assets/routes.js';
import { embedRoutes } from './embed/routes.js';
import { resolveConfig, type AirlockConfig, type AirlockOptions } from './config.js';
import type { AirlockContext } from './context.js';
import { AirlockError, toAirlockError } from './errors.js';
import { createPreflightOriginCheck, preflight, withCors } from './http/cors.js';
import { errorResponse } from './http/responses.js';
import { findRoute, type Route } from './http/router.js';
import { ClusterCoordinator } from './cluster/coordinator.js';
import { MemoryLimitCounters } from './limits/counters.js';
import { GenerationLeases } from './limits/generation-leases.js';
import { ConversationSummaries } from './proxy/conversation-summaries.js';
import { KeyResolver } from './keys/key-resolver.js';
import { SharedKeyPolicy } from './keys/shared-key-policy.js';
import { createLogger, type Logger } from './logging/logger.js';
import { currentRequestContext, requestIdFor, runWithRequestContext } from './logging/request-context.js';
import { Metrics, routeLabel } from './operations/metrics.js';
import { operationsRoutes } from './operations/routes.js';
import { proxyRoutes } from './proxy/routes.js';
import { resolveUpstream, UpstreamClients } from './proxy/upstream.js';
import { openStore } from './stores/open-store.js';
import type { Store } from './stores/store.js';
import { loadUsableWidget, mintFor } from './tokens/public-minting.js';
import { tokenRoutes } from './tokens/routes.js';
import { SigningKeys } from './tokens/signing-keys.js';
import { createTokenHandler, type TokenHandlerOptions } from './tokens/token-handler.js';
import { TokenService } from './tokens/token-service.js';
import type { RuntimeAwareHandler } from './http/server-runtime.js';
import { defaultTransport } from './adapters/node-upstream.js';
import { createKeyring, type KeyEncryptionProvider } from './vault/key-encryption.js';
import { loadOrCreateDevMasterKey } from './vault/master-key-file.js';
import { Vault } from './vault/vault.js';
import { UsageMeter } from './usage/usage-meter.js';
import { openKnowledge } from './knowledge/open-knowledge.js';
import type { KnowledgeService } from './knowledge/knowledge-service.js';

export type { AirlockOptions } from './config.js';

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
  /**
   * Handles one request under `basePath`; answers 404 `not_found` elsewhere.
   * It reads a `ServerRequest`'s runtime parts when an adapter set them
   * (`readsRuntimeParts`), and any standard `Request` otherwise.
   */
  fetch: RuntimeAwareHandler;
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
  // Options and environment, read once: every area reads this frozen config.
  const config = resolveConfig(options);
  const now = config.now ?? (() => new Date());
  const logger = config.logger ?? createLogger();
  const { dataDir, basePath } = config;
  const vault = new Vault(resolveMasterKeys(config, dataDir, logger));
  const store = config.store ?? openStore(config.databaseUrl);
  const usage = new UsageMeter({ store, logger, now });
  const generationLeases = new GenerationLeases({ store, logger, leaseMs: config.proxy.reservationLeaseMs });
  const summaries = new ConversationSummaries({ store, vault, logger, now, retentionDays: config.proxy.summaryRetentionDays });
  const metrics = new Metrics();
  const upstreamSettings = resolveUpstream(config.upstream);
  const upstream = new UpstreamClients(
    { ...upstreamSettings, transport: upstreamSettings.transport ?? (upstreamSettings.fetch ? undefined : defaultTransport()) },
    (seconds) => metrics.observeUpstreamLatency(seconds),
  );

  const redisOptions = config.redis;
  const clock = () => now().getTime();
  const localCounters = new MemoryLimitCounters({ rateLimiter: config.rateLimiter, now: clock });
  const cluster = redisOptions
    ? new ClusterCoordinator({ redis: redisOptions, logger, fallback: localCounters, rateLimiter: config.rateLimiter, now: clock })
    : undefined;
  const counters = cluster?.counters ?? localCounters;

  const sharedKeyPolicy = new SharedKeyPolicy({
    ...(config.sharedKey.models && { models: [...config.sharedKey.models] }),
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
  const knowledge = openKnowledge({ store, options: config.knowledge, upstream, keys, logger, usage });
  let started: ReturnType<AirlockContext['started']> | undefined;
  let subscribed: (() => void) | undefined;
  const context: AirlockContext = {
    config,
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
      await config.onTokenMinted?.(event);
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
          refreshSeconds: config.signingKeyRefreshSeconds,
          onRotated: () => cluster?.publishSigningKeysChanged(),
        });
        if (cluster) {
          subscribed?.();
          subscribed = cluster.onSigningKeysChanged(() => keys.reload());
          // The first requests should find Redis connected; one that is down only delays them by the connect timeout.
          await cluster.connected();
        }
        return { keys, tokens: new TokenService({ keys, issuer: config.issuer, now }) };
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

  const logRequests = config.logRequests ?? false;
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
  const fetchHandler: RuntimeAwareHandler = Object.assign(
    (request: Request) => runWithRequestContext({ requestId: requestIdFor(request) }, () => handle(request)),
    { readsRuntimeParts: true as const },
  );

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

function resolveMasterKeys(config: AirlockConfig, dataDir: string, logger: Logger): KeyEncryptionProvider {
  const given = config.masterKeys;
  if (given !== undefined && given !== '') return typeof given === 'string' ? createKeyring(given) : given;
  if (!config.dev) {
    throw new AirlockError('internal', 'No master key: set AIRLOCK_MASTER_KEYS (for example "v1:<base64 of 32 random bytes>"), or use development mode.');
  }
  const { keyring, created, path } = loadOrCreateDevMasterKey(dataDir);
  if (created) logger.warn('created a development master key; do not use it in production', { path });
  return createKeyring(keyring);
}
