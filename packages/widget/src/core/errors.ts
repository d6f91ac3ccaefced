import { ERROR_CODES, type ErrorCode } from '@airlock/protocol';

// `Symbol.for` puts the brand in the global symbol registry, so an error thrown
// by the script-tag bundle is still recognised by a copy of this class loaded
// from npm (where `instanceof` would fail across the two copies).
const brand = Symbol.for('airlock.widget.error');

/**
 * Options of {@link WidgetError}.
 */
export interface WidgetErrorOptions {
  /** HTTP status of the response that carried the error. Default: `undefined` (none). */
  status?: number;
  /** The underlying error, kept for debugging. Default: `undefined`. */
  cause?: unknown;
}

/**
 * The one error class of `@airlock/widget`. `code` is a stable value from
 * `@airlock/protocol`'s {@link ErrorCode} union, so callers switch on it rather
 * than on `message`.
 *
 * @example
 * ```ts
 * widget.on('error', (error) => {
 *   if (WidgetError.isInstance(error) && error.code === 'rate_limited') showRetryLater();
 * });
 * ```
 */
export class WidgetError extends Error {
  /** Stable machine-readable reason. */
  readonly code: ErrorCode;
  /** HTTP status of the failing response, when there was one. */
  readonly status: number | undefined;
  // A literal rather than `this.constructor.name`, which minification mangles.
  override readonly name = 'WidgetError';
  private readonly [brand] = true;

  constructor(code: ErrorCode, message: string, options: WidgetErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.status = options.status;
  }

  /**
   * Whether `value` is a {@link WidgetError}, from this or any other copy of the package.
   *
   * @example
   * ```ts
   * try { await client.getToken(); } catch (error) { if (WidgetError.isInstance(error)) console.warn(error.code); }
   * ```
   */
  static isInstance(value: unknown): value is WidgetError {
    return typeof value === 'object' && value !== null && (value as { [brand]?: unknown })[brand] === true;
  }
}

/** Narrows an unknown `code` from the wire to the closed union; unknown codes become `internal`. */
export function toErrorCode(value: unknown): ErrorCode {
  return (ERROR_CODES as readonly unknown[]).includes(value) ? (value as ErrorCode) : 'internal';
}

/**
 * Turns a non-2xx response into a {@link WidgetError}, reading Airlock's
 * `{error: {code, message}}` body when there is one.
 */
export async function errorFromResponse(response: Response): Promise<WidgetError> {
  let body: unknown;
  try {
    body = await response.json();
  } catch {
    // A proxy or CDN in front of the server may answer with HTML; the status is all we have.
  }
  const error = (body as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
  const message = typeof error?.message === 'string' ? error.message : `The server answered ${response.status}.`;
  return new WidgetError(toErrorCode(error?.code), message, { status: response.status });
}

/** Wraps a rejected `fetch` (offline, DNS, CORS refusal) in a {@link WidgetError}. */
export function networkError(cause: unknown): WidgetError {
  // The protocol has no client-side "network" code yet; from the visitor's side an
  // unreachable Airlock server is the service being unavailable.
  return new WidgetError('upstream_unavailable', 'Airlock is unreachable.', { cause });
}
