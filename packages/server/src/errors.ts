import { ERROR_STATUS, type ErrorBody, type ErrorCode } from '@airlock/protocol';

const brand = Symbol.for('airlock.server.error');

/**
 * The one error class of `@airlock/server`. Carries a stable {@link ErrorCode}
 * and the HTTP status it is answered with. Its `message` is written for the
 * person who sees it: it never contains a key, an upstream body, user input
 * or token-verification details (those go to `cause`, which is never sent).
 *
 * @example
 * ```ts
 * throw new AirlockError('origin_not_allowed', 'This site may not use this widget.');
 * ```
 */
export class AirlockError extends Error {
  readonly [brand] = true;
  override readonly name = 'AirlockError';
  readonly code: ErrorCode;
  readonly status: number;
  /** Extra response headers, such as `Retry-After`. */
  readonly headers: Record<string, string>;

  constructor(code: ErrorCode, message: string, options: { cause?: unknown; status?: number; headers?: Record<string, string> } = {}) {
    super(message, { cause: options.cause });
    this.code = code;
    // `?? 500`: a code from a newer protocol build than this server knows must not answer 200.
    this.status = options.status ?? ERROR_STATUS[code] ?? 500;
    this.headers = options.headers ?? {};
  }

  /** True for an `AirlockError` from any copy of this package. */
  static isInstance(value: unknown): value is AirlockError {
    return typeof value === 'object' && value !== null && brand in value;
  }

  /** The body sent to clients: OpenAI's error shape with Airlock's code. */
  toJSON(): ErrorBody {
    return { error: { message: this.message, type: 'airlock_error', code: this.code } };
  }
}

/**
 * An `input_invalid` error: the caller's input was refused, `message` says why.
 *
 * @example
 * ```ts
 * if (!Array.isArray(passages)) throw invalid('passages must be a list.');
 * ```
 */
export function invalid(message: string): AirlockError {
  return new AirlockError('input_invalid', message);
}

/**
 * Turns anything thrown into an {@link AirlockError}; unknown errors become
 * `internal` with a generic message so that nothing internal leaks.
 */
export function toAirlockError(error: unknown): AirlockError {
  if (AirlockError.isInstance(error)) return error;
  if (isConnectionFailure(error)) {
    return new AirlockError('service_unavailable', 'The server cannot reach its database right now; try again shortly.', {
      cause: error,
      headers: { 'retry-after': '1' },
    });
  }
  return new AirlockError('internal', 'Something went wrong on the server.', { cause: error });
}

const connectionErrnos = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);

/**
 * Whether an error says a service (the database) could not be reached or
 * dropped the connection, rather than that the request was wrong: socket
 * errors, PostgreSQL's connection-exception (`08…`) and shutdown or
 * starting-up (`57P01`–`57P03`) states, and `pg`'s own connection messages.
 * Such a request is answered 503 `service_unavailable` (retryable), not 500.
 *
 * @example
 * ```ts
 * isConnectionFailure(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })); // true
 * ```
 */
export function isConnectionFailure(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && (connectionErrnos.has(code) || code.startsWith('08') || /^57P0[123]$/.test(code))) return true;
  if (/^Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error/.test(error.message)) {
    return true;
  }
  return error.cause !== undefined && error.cause !== error && isConnectionFailure(error.cause);
}
