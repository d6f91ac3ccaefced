import OpenAI from 'openai';
import { AirlockError } from '../errors.js';

/**
 * What the upstream said when it refused a call, without its message (which
 * can echo key fragments): for the operator's log.
 */
export interface UpstreamRefusal {
  /** The HTTP status; `200` for an error event inside a streamed answer. */
  status: number;
  /** OpenAI's `error.code`, `null` when it sent none. */
  code: string | null;
  /** OpenAI's `error.type`, `null` when it sent none. */
  type: string | null;
}

// The answers with which OpenAI says the key itself is unusable (not that it
// lacks a permission, or that this request is wrong): a wrong, revoked or
// deleted key, or one whose account was shut down.
const invalidKeyCodes = new Set(['invalid_api_key', 'account_deactivated']);

interface Refusal {
  status: number;
  code: string | null;
  type: string | null;
  retryAfter?: string | null;
}

// Known upstream codes whose cause the visitor or operator can act on, with a message that says so.
function mapKnownCode(refusal: Refusal, cause: unknown): AirlockError | undefined {
  const { code, type } = refusal;
  if (code !== null && invalidKeyCodes.has(code)) {
    return new AirlockError('upstream_key_invalid', 'The AI service refused this widget\u2019s API key.', { cause });
  }
  if (code === 'insufficient_quota' || type === 'insufficient_quota' || code === 'billing_hard_limit_reached') {
    return new AirlockError('upstream_quota_exhausted', 'The AI service account for this widget is out of credit.', { cause });
  }
  if (code === 'rate_limit_exceeded' || refusal.status === 429) {
    const retryAfter = refusal.retryAfter;
    return new AirlockError('upstream_rate_limited', 'The AI service is busy; try again shortly.', {
      cause,
      headers: retryAfter && /^\d+$/.test(retryAfter) ? { 'retry-after': retryAfter } : { 'retry-after': '1' },
    });
  }
  switch (code) {
    case 'context_length_exceeded':
      return new AirlockError('input_invalid', 'This conversation is too long for the AI model; start a new one or send a shorter message.', { cause });
    case 'string_above_max_length':
      return new AirlockError('input_invalid', 'The message is longer than the AI service accepts; send a shorter one.', { cause });
    case 'content_policy_violation':
    case 'content_filter':
    case 'moderation_blocked':
    case 'invalid_prompt':
      return new AirlockError('prompt_blocked', 'The AI service\u2019s safety system declined this request; rephrase it.', { cause });
    case 'model_not_found':
      return new AirlockError('upstream_rejected', 'The AI service does not let this widget\u2019s key use its model.', { cause });
    case 'unsupported_parameter':
    case 'unsupported_value':
      return new AirlockError('upstream_rejected', 'The AI service does not accept this widget\u2019s settings for its model.', { cause });
  }
  return undefined;
}

function mapRefusal(refusal: Refusal, cause: unknown): AirlockError {
  const known = mapKnownCode(refusal, cause);
  if (known) return known;
  const { status } = refusal;
  if (status === 401 || status === 403) {
    // The key may be fine: it lacks a permission (missing scopes), or may not
    // use this model, endpoint or region. Not the visitor's doing, and no
    // reason to take the key out of service.
    return new AirlockError('upstream_rejected', 'The AI service does not allow this widget\u2019s key to make this request.', { cause });
  }
  if (status >= 500 || refusal.type === 'server_error' || status === 200) {
    return new AirlockError('upstream_unavailable', 'The AI service is unavailable right now.', { cause });
  }
  return new AirlockError('upstream_rejected', 'The AI service rejected this request.', { cause });
}

/**
 * Maps a failure of an upstream call to Airlock's stable codes. The upstream's
 * own message and body are kept in `cause` only: they can echo key
 * fragments, so they never reach the client. Only OpenAI's own invalid-key
 * answers (`invalid_api_key`, `account_deactivated`) become
 * `upstream_key_invalid`; other refusals that are not the visitor's doing
 * (a missing permission, a model the key may not use, a setting the model
 * does not take, any 4xx Airlock does not know) become `upstream_rejected`.
 *
 * @example
 * ```ts
 * try { await client.chat.completions.create(params); } catch (error) { throw upstreamError(error); }
 * ```
 */
export function upstreamError(error: unknown): AirlockError {
  if (AirlockError.isInstance(error)) return error;
  if (error instanceof OpenAI.APIConnectionTimeoutError) {
    return new AirlockError('upstream_timeout', 'The AI service took too long to answer.', { cause: error });
  }
  if (error instanceof OpenAI.APIError && typeof error.status === 'number') {
    return mapRefusal(
      { status: error.status, code: stringOrNull(error.code), type: stringOrNull(error.type), retryAfter: error.headers?.get('retry-after') },
      error,
    );
  }
  return new AirlockError('upstream_unavailable', 'The AI service could not be reached.', { cause: error });
}

/**
 * Maps an error event inside a streamed answer (`data: {"error": {…}}`, the
 * `error` object given here) as {@link upstreamError} maps an HTTP refusal.
 *
 * @example
 * ```ts
 * relay.fail(upstreamErrorEvent({ message: 'Boom', type: 'server_error', code: null }));
 * ```
 */
export function upstreamErrorEvent(error: Record<string, unknown>): AirlockError {
  // An APIError as the cause, like the HTTP refusals', so the refusal is read back the same way.
  const cause = new OpenAI.APIError(200, error, undefined, new Headers());
  return mapRefusal({ status: 200, code: stringOrNull(error.code), type: stringOrNull(error.type) }, cause);
}

/**
 * The error for an upstream body that is not an SSE answer (a page, JSON or
 * garbage under a 200).
 *
 * @example
 * ```ts
 * relay.fail(malformedStreamError());
 * ```
 */
export function malformedStreamError(): AirlockError {
  return new AirlockError('upstream_unavailable', 'The AI service sent an answer Airlock could not read.', {
    cause: new Error('The upstream body under a 200 was not an SSE stream of JSON events.'),
  });
}

/**
 * What the upstream answered, for an error made by {@link upstreamError} or
 * {@link upstreamErrorEvent} from its refusal; `undefined` for any other
 * error (a timeout, a broken connection, Airlock's own).
 *
 * @example
 * ```ts
 * const refusal = upstreamRefusalOf(error); // { status: 403, code: 'model_not_found', type: 'invalid_request_error' }
 * ```
 */
export function upstreamRefusalOf(error: unknown): UpstreamRefusal | undefined {
  const cause = AirlockError.isInstance(error) ? error.cause : undefined;
  if (!(cause instanceof OpenAI.APIError) || typeof cause.status !== 'number') return undefined;
  return { status: cause.status, code: stringOrNull(cause.code), type: stringOrNull(cause.type) };
}

/**
 * Whether the upstream said that the key itself is invalid (OpenAI: 401
 * `invalid_api_key` or `account_deactivated`, or the same code in a stream),
 * the only answers for which a stored key is taken out of service.
 *
 * @example
 * ```ts
 * if (isInvalidKeyAnswer(error)) await store.recordOpenAiKeyError(keyId, error.code, { invalidate: true });
 * ```
 */
export function isInvalidKeyAnswer(error: unknown): boolean {
  const refusal = upstreamRefusalOf(error);
  return refusal !== undefined && (refusal.status === 401 || refusal.status === 200) && refusal.code !== null && invalidKeyCodes.has(refusal.code);
}

function stringOrNull(value: unknown): string | null {
  return typeof value === 'string' ? value : null;
}
