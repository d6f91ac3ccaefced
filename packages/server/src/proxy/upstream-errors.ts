import OpenAI from 'openai';
import { AirlockError } from '../errors.js';

/**
 * Maps a failure of an upstream call to Airlock's stable codes. The upstream's
 * own message and body are kept in `cause` only: they can echo key
 * fragments, so they never reach the client.
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
    const status = error.status;
    if (status === 401 || status === 403) {
      return new AirlockError('upstream_key_invalid', 'The AI service refused this widget\u2019s API key.', { cause: error });
    }
    if (status === 429) {
      if (error.code === 'insufficient_quota') {
        return new AirlockError('upstream_quota_exhausted', 'The AI service account for this widget is out of credit.', { cause: error });
      }
      const retryAfter = error.headers?.get('retry-after');
      return new AirlockError('upstream_rate_limited', 'The AI service is busy; try again shortly.', {
        cause: error,
        headers: retryAfter && /^\d+$/.test(retryAfter) ? { 'retry-after': retryAfter } : { 'retry-after': '1' },
      });
    }
    if (status >= 500) {
      return new AirlockError('upstream_unavailable', 'The AI service is unavailable right now.', { cause: error });
    }
    return new AirlockError('input_invalid', 'The AI service could not handle this request.', { cause: error });
  }
  return new AirlockError('upstream_unavailable', 'The AI service could not be reached.', { cause: error });
}
