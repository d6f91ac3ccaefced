import { currentRequestContext } from './request-context.js';

/**
 * Severity of a log line.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/**
 * Where the server writes its log lines. Every line passes through
 * {@link redact} first, so a key that slips into a message or a field is
 * replaced before it is written.
 *
 * @example
 * ```ts
 * const logger = createLogger({ level: 'info' });
 * logger.info('server started', { port: 8787 });
 * ```
 */
export interface Logger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

/** Options of {@link createLogger}. */
export interface LoggerOptions {
  /** Lowest level written. Default: `'info'`. */
  level?: LogLevel;
  /** Receives each JSON line (without newline). Default: `process.stderr`. */
  write?: (line: string) => void;
  /** Clock, for tests. Default: `() => new Date()`. */
  now?: () => Date;
}

const order: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

// OpenAI keys (sk-…, sk-proj-…), bearer credentials, JWT-shaped strings,
// and the password in a connection URL (postgres://user:password@host, redis://:password@host).
const secretPatterns = [
  /\bsk-[A-Za-z0-9_-]{6,}/g,
  /\bBearer\s+[A-Za-z0-9._~+/=-]+/gi,
  /\beyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+/g,
  /(?<=\b[a-z][a-z0-9+.-]*:\/\/[^\s/@:]*:)[^\s/@]+(?=@)/gi,
];

/**
 * Replaces anything that looks like a key or a token with `[redacted]`.
 *
 * @example
 * ```ts
 * redact('used sk-live-1234567890'); // 'used [redacted]'
 * ```
 */
export function redact(text: string): string {
  let result = text;
  for (const pattern of secretPatterns) result = result.replace(pattern, '[redacted]');
  return result;
}

/**
 * Creates a logger that writes structured JSON lines with secrets redacted.
 *
 * @example
 * ```ts
 * const lines: string[] = [];
 * const logger = createLogger({ write: (line) => lines.push(line) });
 * logger.warn('upstream refused the key', { code: 'upstream_key_invalid' });
 * ```
 */
export function createLogger(options: LoggerOptions = {}): Logger {
  const threshold = order[options.level ?? 'info'];
  const write = options.write ?? ((line: string) => process.stderr.write(`${line}\n`));
  const now = options.now ?? (() => new Date());
  const log =
    (level: LogLevel) =>
    (message: string, fields: Record<string, unknown> = {}) => {
      if (order[level] < threshold) return;
      const requestId = currentRequestContext()?.requestId;
      const line = JSON.stringify({ time: now().toISOString(), level, message, ...(requestId && { requestId }), ...fields }, errorReplacer);
      write(redact(line));
    };
  return { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') };
}

function errorReplacer(_key: string, value: unknown): unknown {
  if (value instanceof Error) {
    return { name: value.name, message: value.message, code: (value as { code?: unknown }).code };
  }
  return value;
}

/** A logger that writes nothing, for embedding without logs. */
export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };
