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

  constructor(
    code: ErrorCode,
    message: string,
    options: { cause?: unknown; status?: number; headers?: Record<string, string> } = {},
  ) {
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
 * Turns anything thrown into an {@link AirlockError}; unknown errors become
 * `internal` with a generic message so that nothing internal leaks.
 */
export function toAirlockError(error: unknown): AirlockError {
  if (AirlockError.isInstance(error)) return error;
  return new AirlockError('internal', 'Something went wrong on the server.', { cause: error });
}
