import type { ServeOptions } from '../../adapters/node.js';
import type { KnowledgeOptions } from '../../knowledge/open-knowledge.js';
import type { ProxyOptions } from '../../proxy/proxy-services.js';
import type { UpstreamOptions } from '../../proxy/upstream.js';
import { act, CliCommand, runCommand, UsageError, wholeNumberFlag, type Outcome } from '../shared.js';

/** The shortest admin token `airlock serve` accepts: a guessable one opens every account. */
export const MIN_ADMIN_TOKEN_LENGTH = 32;

/** Everything `airlock serve` reads from its flags and the environment, checked before the server loads. */
export interface ServeSettings {
  dev: boolean;
  port: number;
  host: string;
  drainSeconds: number;
  logLevel: 'debug' | 'info' | 'warn' | 'error';
  logRequests: boolean;
  trustedProxies?: number;
  keyRotationReminderDays?: number;
  proxy: ProxyOptions;
  knowledge: KnowledgeOptions;
  upstream: Pick<UpstreamOptions, 'headersTimeoutMs' | 'firstChunkTimeoutMs' | 'idleTimeoutMs'>;
  http: Required<Omit<ServeOptions, 'port' | 'host'>>;
}

const environmentHelp = `
Environment (every variable: docs/deployment.md):
  AIRLOCK_DATABASE_URL  sqlite:<path> or postgres://… (default sqlite:.airlock/airlock.db)
  AIRLOCK_MASTER_KEYS   master keyring, e.g. v1:<base64 of 32 bytes>
  OPENAI_API_KEY        the operator's shared OpenAI key
  OPENAI_BASE_URL       an OpenAI-compatible API (default https://api.openai.com/v1)
  PORT, AIRLOCK_HOST    where to listen (default 8787 on 127.0.0.1)
  AIRLOCK_ADMIN_TOKEN   bearer token of the admin API and /airlock/metrics, at least
                        ${MIN_ADMIN_TOKEN_LENGTH} characters (openssl rand -base64 32)
  AIRLOCK_REDIS_URL     redis://… shared limits for several instances
  AIRLOCK_UPSTREAM_HEADERS_TIMEOUT_MS, AIRLOCK_UPSTREAM_FIRST_CHUNK_TIMEOUT_MS,
  AIRLOCK_UPSTREAM_IDLE_TIMEOUT_MS   how long to wait for OpenAI (30000, 30000, 60000)
  AIRLOCK_HTTP_HEADERS_TIMEOUT_MS, AIRLOCK_HTTP_REQUEST_TIMEOUT_MS,
  AIRLOCK_HTTP_KEEP_ALIVE_TIMEOUT_MS, AIRLOCK_MAX_CONNECTIONS
                        how long clients may take, and how many may connect
                        (10000, 30000, 5000, 10000)
`;

function logLevel(value: string | undefined): ServeSettings['logLevel'] {
  if (value === undefined || value === '') return 'info';
  if (value === 'debug' || value === 'info' || value === 'warn' || value === 'error') return value;
  throw new UsageError('AIRLOCK_LOG_LEVEL must be debug, info, warn or error.');
}

/** A whole number of at least `least` from the environment, or `undefined` when unset. */
function wholeNumber(name: string, least = 1): number | undefined {
  const value = process.env[name];
  if (value === undefined || value === '') return undefined;
  const number = Number(value);
  if (!Number.isInteger(number) || number < least) throw new UsageError(`${name} must be a whole number of at least ${least}.`);
  return number;
}

/** The proxy limits an operator can set without code (docs/deployment.md lists them). */
function proxyOptionsFromEnvironment(): ProxyOptions {
  const allowance = process.env.AIRLOCK_DEFAULT_GENERATION_ALLOWANCE;
  return {
    maxOutputTokens: wholeNumber('AIRLOCK_MAX_OUTPUT_TOKENS'),
    limits: {
      widgetRequestsPerMinute: wholeNumber('AIRLOCK_WIDGET_REQUESTS_PER_MINUTE'),
      visitorRequestsPerMinute: wholeNumber('AIRLOCK_VISITOR_REQUESTS_PER_MINUTE'),
      tokenRequestsPerMinute: wholeNumber('AIRLOCK_TOKEN_REQUESTS_PER_MINUTE'),
      addressRequestsPerMinute: wholeNumber('AIRLOCK_ADDRESS_REQUESTS_PER_MINUTE'),
      concurrentStreamsPerVisitor: wholeNumber('AIRLOCK_STREAMS_PER_VISITOR'),
    },
    defaultGenerationAllowance:
      // 0 is a real setting: accounts without their own allowance may not use the shared key.
      allowance === undefined || allowance === '' ? undefined : allowance === 'unlimited' ? null : wholeNumber('AIRLOCK_DEFAULT_GENERATION_ALLOWANCE', 0),
    // Renewed every third of it: shorter leases could run out between renewals.
    reservationLeaseMs: wholeNumber('AIRLOCK_RESERVATION_LEASE_MS', 30),
    summaryRetentionDays: wholeNumber('AIRLOCK_SUMMARY_RETENTION_DAYS'),
  };
}

/**
 * The knowledge settings an operator can set without code (docs/deployment.md
 * lists them); `airlock knowledge` reads the same.
 *
 * @example
 * ```ts
 * createAirlock({ knowledge: knowledgeOptionsFromEnvironment() });
 * ```
 */
export function knowledgeOptionsFromEnvironment(): KnowledgeOptions {
  const megabytes = (name: string) => {
    const value = wholeNumber(name);
    return value === undefined ? undefined : value * 1024 * 1024;
  };
  const limits = {
    maxFileBytes: megabytes('AIRLOCK_KNOWLEDGE_MAX_FILE_MB'),
    maxWidgetBytes: megabytes('AIRLOCK_KNOWLEDGE_MAX_WIDGET_MB'),
    maxAccountBytes: megabytes('AIRLOCK_KNOWLEDGE_MAX_ACCOUNT_MB'),
    maxWidgetFiles: wholeNumber('AIRLOCK_KNOWLEDGE_MAX_FILES'),
  };
  const model = process.env.AIRLOCK_EMBEDDING_MODEL;
  const workers = wholeNumber('AIRLOCK_KNOWLEDGE_WORKERS');
  const dimensions = wholeNumber('AIRLOCK_EMBEDDING_DIMENSIONS');
  return {
    limits: Object.fromEntries(Object.entries(limits).filter(([, value]) => value !== undefined)),
    ...(model !== undefined && model !== '' && { embeddingModel: model }),
    ...(dimensions !== undefined && { embeddingDimensions: dimensions }),
    ...(workers !== undefined && { workers }),
  };
}

/**
 * Refuses an admin token short enough to guess: it opens the admin API of
 * every account. Says how to make one.
 */
function checkAdminToken(token: string | undefined): void {
  if (token === undefined || token === '') return;
  if (token.length >= MIN_ADMIN_TOKEN_LENGTH) return;
  throw new UsageError(
    `AIRLOCK_ADMIN_TOKEN has ${token.length} characters; it needs at least ${MIN_ADMIN_TOKEN_LENGTH} random ones. ` +
      `Make one with: openssl rand -base64 32 (or: node -e "console.log(require('node:crypto').randomBytes(32).toString('base64url'))")`,
  );
}

/**
 * Reads and checks the flags and environment of `airlock serve`, so that a
 * mistake stops it with one line before anything is opened.
 *
 * @example
 * ```ts
 * const settings = serveSettings({ port: '0' });
 * ```
 */
export function serveSettings(flags: { dev?: boolean; port?: string; host?: string; drainSeconds?: string }): ServeSettings {
  const port = wholeNumberFlag(flags.port ?? process.env.PORT ?? '8787', flags.port === undefined ? 'PORT' : '--port', 0)!;
  if (port > 65_535) throw new UsageError('--port must be a port number (0 to 65535).');
  const drainSeconds = Number(flags.drainSeconds ?? process.env.AIRLOCK_DRAIN_SECONDS ?? 30);
  if (!Number.isFinite(drainSeconds) || drainSeconds < 0) throw new UsageError('--drain-seconds must be a number of seconds (0 or more).');
  checkAdminToken(process.env.AIRLOCK_ADMIN_TOKEN);
  const http = {
    headersTimeoutMs: wholeNumber('AIRLOCK_HTTP_HEADERS_TIMEOUT_MS') ?? 10_000,
    requestTimeoutMs: wholeNumber('AIRLOCK_HTTP_REQUEST_TIMEOUT_MS') ?? 30_000,
    keepAliveTimeoutMs: wholeNumber('AIRLOCK_HTTP_KEEP_ALIVE_TIMEOUT_MS') ?? 5_000,
    maxConnections: wholeNumber('AIRLOCK_MAX_CONNECTIONS') ?? 10_000,
  };
  if (http.headersTimeoutMs > http.requestTimeoutMs) {
    throw new UsageError('AIRLOCK_HTTP_HEADERS_TIMEOUT_MS must not be longer than AIRLOCK_HTTP_REQUEST_TIMEOUT_MS (the headers are part of the request).');
  }
  const trustedProxies = wholeNumber('AIRLOCK_TRUSTED_PROXIES');
  const keyRotationReminderDays = wholeNumber('AIRLOCK_KEY_ROTATION_REMINDER_DAYS', 0);
  return {
    dev: flags.dev ?? false,
    port,
    host: flags.host ?? process.env.AIRLOCK_HOST ?? '127.0.0.1',
    drainSeconds,
    logLevel: logLevel(process.env.AIRLOCK_LOG_LEVEL),
    logRequests: process.env.AIRLOCK_LOG_REQUESTS !== '0',
    ...(trustedProxies !== undefined && { trustedProxies }),
    ...(keyRotationReminderDays !== undefined && { keyRotationReminderDays }),
    proxy: proxyOptionsFromEnvironment(),
    knowledge: knowledgeOptionsFromEnvironment(),
    upstream: {
      headersTimeoutMs: wholeNumber('AIRLOCK_UPSTREAM_HEADERS_TIMEOUT_MS'),
      firstChunkTimeoutMs: wholeNumber('AIRLOCK_UPSTREAM_FIRST_CHUNK_TIMEOUT_MS'),
      idleTimeoutMs: wholeNumber('AIRLOCK_UPSTREAM_IDLE_TIMEOUT_MS'),
    },
    http,
  };
}

/**
 * `airlock serve [--dev] [--port N] [--host ADDRESS] [--drain-seconds N]`.
 *
 * @example
 * ```ts
 * program.addCommand(serveCommand(outcome));
 * ```
 */
export function serveCommand(outcome: Outcome): CliCommand {
  return new CliCommand('serve')
    .description('run the Airlock server')
    .option('--dev', 'create a development master key in .airlock/ when AIRLOCK_MASTER_KEYS is not set (never in production)')
    .option('--port <port>', 'port to listen on, 0 for a free one (default: PORT, else 8787)')
    .option('--host <address>', 'address to listen on (default: AIRLOCK_HOST, else 127.0.0.1)')
    .option('--drain-seconds <seconds>', 'on SIGTERM, how long open answers may finish (default: AIRLOCK_DRAIN_SECONDS, else 30)')
    .addHelpText('after', environmentHelp)
    .action(
      act(outcome, async (flags: { dev?: boolean; port?: string; host?: string; drainSeconds?: string }) => {
        const settings = serveSettings(flags);
        // Loaded only now: the server pulls in the proxy and the stores,
        // which every other command (and `serve --help`) can do without.
        const { runServer } = await import('./serve-process.js');
        return runServer(settings);
      }),
    );
}

/** Runs `airlock serve …` in this process until a signal stops it; answers the exit code. */
export function runServe(args: string[]): Promise<number> {
  return runCommand(serveCommand, args);
}
