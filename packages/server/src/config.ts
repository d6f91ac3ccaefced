import type { AdminSessionOptions } from './admin/session.js';
import { resolveRedisOptions, type RedisOptions, type ResolvedRedisOptions } from './cluster/redis.js';
import { sharedKeyModelsFrom, type SharedKeyOptions } from './keys/shared-key-policy.js';
import type { KnowledgeOptions } from './knowledge/open-knowledge.js';
import type { RateLimiter } from './limits/rate-limiter.js';
import type { Logger } from './logging/logger.js';
import type { ChatInputLimits, ProxyOptions } from './proxy/proxy-services.js';
import type { UpstreamOptions } from './proxy/upstream.js';
import type { Store } from './stores/store.js';
import type { MintRateLimits, TokenMintedEvent, VerifyHuman } from './tokens/public-minting.js';
import type { KeyEncryptionProvider } from './vault/key-encryption.js';

/**
 * Options of {@link createAirlock}.
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
 * The environment variables `createAirlock` reads, once: only {@link resolveConfig} reads them.
 *
 * @example
 * ```ts
 * const config = resolveConfig({}, { AIRLOCK_ADMIN_TOKEN: 'x'.repeat(32) });
 * ```
 */
export type AirlockEnvironment = Readonly<Record<string, string | undefined>>;

/**
 * The settings every area of a running Airlock reads: the options given to
 * `createAirlock` with the environment's fallbacks and the defaults applied,
 * resolved once and frozen (nested settings too), so nothing changes under a
 * running server and no area reads `process.env` itself.
 *
 * @example
 * ```ts
 * const config = resolveConfig({ basePath: '/chat/' }); // config.basePath === '/chat'
 * ```
 */
export interface AirlockConfig extends Readonly<
  Omit<AirlockOptions, 'upstream' | 'sharedKey' | 'redis' | 'adminSessions' | 'proxy' | 'chatLimits' | 'knowledge'>
> {
  readonly basePath: string;
  readonly dataDir: string;
  /** Unset when a `store` was given. */
  readonly databaseUrl: string;
  readonly dev: boolean;
  readonly adminToken: string | undefined;
  readonly publicUrl: string | undefined;
  readonly masterKeys: string | KeyEncryptionProvider | undefined;
  readonly upstream: Readonly<UpstreamOptions>;
  readonly sharedKey: Readonly<SharedKeyOptions>;
  /** Redis with its defaults, `undefined` without a URL (counts stay in-process). */
  readonly redis: Readonly<ResolvedRedisOptions> | undefined;
  readonly adminSessions: Readonly<AdminSessionOptions>;
  readonly proxy: Readonly<ProxyOptions>;
  readonly chatLimits: Readonly<Partial<ChatInputLimits>>;
  readonly knowledge: Readonly<KnowledgeOptions>;
}

/**
 * Resolves `createAirlock`'s options and the environment into the frozen
 * {@link AirlockConfig}. Throws `SyntaxError` for a malformed
 * `AIRLOCK_SHARED_KEY_MODELS`.
 *
 * @example
 * ```ts
 * const config = resolveConfig({ dataDir: '/var/lib/airlock' }, process.env);
 * ```
 */
export function resolveConfig(options: AirlockOptions = {}, env: AirlockEnvironment = process.env): AirlockConfig {
  const dataDir = options.dataDir ?? '.airlock';
  const config: AirlockConfig = {
    ...options,
    dataDir,
    basePath: (options.basePath ?? '/airlock').replace(/\/+$/, ''),
    databaseUrl: options.databaseUrl ?? env.AIRLOCK_DATABASE_URL ?? `sqlite:${dataDir}/airlock.db`,
    dev: options.dev ?? false,
    adminToken: options.adminToken ?? env.AIRLOCK_ADMIN_TOKEN,
    publicUrl: options.publicUrl ?? env.AIRLOCK_PUBLIC_URL,
    masterKeys: options.masterKeys ?? env.AIRLOCK_MASTER_KEYS,
    upstream: {
      ...options.upstream,
      apiKey: options.upstream?.apiKey ?? env.OPENAI_API_KEY,
      baseURL: options.upstream?.baseURL ?? env.OPENAI_BASE_URL,
    },
    sharedKey: { ...options.sharedKey, models: options.sharedKey?.models ?? sharedKeyModelsFrom(env.AIRLOCK_SHARED_KEY_MODELS) },
    redis: resolveRedisOptions(options.redis, env),
    adminSessions: {
      ...options.adminSessions,
      trustForwardedProto: options.adminSessions?.trustForwardedProto ?? env.AIRLOCK_TRUST_FORWARDED_PROTO === 'true',
    },
    proxy: options.proxy ?? {},
    chatLimits: options.chatLimits ?? {},
    knowledge: options.knowledge ?? {},
  };
  // The settings objects are copied and frozen; what the caller handed in as
  // an object of its own (a store, a logger, a key provider, callbacks) is kept as it is.
  const frozen: Record<string, unknown> = { ...config };
  for (const key of settingsKeys) if (key in frozen) frozen[key] = frozenCopy(frozen[key]);
  return Object.freeze(frozen) as unknown as AirlockConfig;
}

const settingsKeys = ['upstream', 'sharedKey', 'redis', 'adminSessions', 'proxy', 'chatLimits', 'knowledge', 'mintRateLimits'] as const;

// A frozen copy of plain objects and arrays all the way down (the caller's
// options stay as they were); functions, class instances and a knowledge
// `store` are kept as they are.
function frozenCopy<T>(value: T): T {
  if (Array.isArray(value)) return Object.freeze(value.map(frozenCopy)) as T;
  if (typeof value === 'object' && value !== null && Object.getPrototypeOf(value) === Object.prototype) {
    return Object.freeze(Object.fromEntries(Object.entries(value).map(([key, inner]) => [key, key === 'store' ? inner : frozenCopy(inner)]))) as T;
  }
  return value;
}
