/**
 * Faults: the errors OpenAI really returns, as behaviours the test upstream
 * answers with, so a test reads `faults.rateLimited(2)` rather than an error body.
 */
import type { ErrorBehaviour, StreamErrorBehaviour } from './behaviours.js';

/**
 * Named constructors for the errors OpenAI really returns, with its messages,
 * types and codes.
 *
 * @example
 * ```ts
 * upstream.next(faults.invalidKey());
 * upstream.next(faults.insufficientQuota());
 * upstream.next(faults.rateLimited(2));
 * upstream.next(faults.serverError(503));
 * ```
 */
export const faults = {
  /**
   * 401 `invalid_api_key`.
   *
   * @example
   * ```ts
   * upstream.next(faults.invalidKey());
   * ```
   */
  invalidKey(): ErrorBehaviour {
    return {
      type: 'error',
      status: 401,
      error: {
        message: 'Incorrect API key provided. You can find your API key at https://platform.openai.com/account/api-keys.',
        type: 'invalid_request_error',
        code: 'invalid_api_key',
        param: null,
      },
    };
  },

  /**
   * 429 `insufficient_quota`: the account is out of credit (retrying does not help).
   *
   * @example
   * ```ts
   * upstream.next(faults.insufficientQuota());
   * ```
   */
  insufficientQuota(): ErrorBehaviour {
    return {
      type: 'error',
      status: 429,
      error: {
        message:
          'You exceeded your current quota, please check your plan and billing details. For more information on this error, read the docs: https://platform.openai.com/docs/guides/error-codes/api-errors.',
        type: 'insufficient_quota',
        code: 'insufficient_quota',
        param: null,
      },
    };
  },

  /**
   * 429 `rate_limit_exceeded` with a `retry-after` header.
   *
   * @param retryAfterSeconds - Value of the `retry-after` header. Default: 1.
   * @example
   * ```ts
   * upstream.next(faults.rateLimited(20));
   * ```
   */
  rateLimited(retryAfterSeconds = 1): ErrorBehaviour {
    return {
      type: 'error',
      status: 429,
      headers: { 'retry-after': String(retryAfterSeconds) },
      error: {
        message: `Rate limit reached for requests per min (RPM): Limit 3, Used 3, Requested 1. Please try again in ${retryAfterSeconds}s.`,
        type: 'requests',
        code: 'rate_limit_exceeded',
        param: null,
      },
    };
  },

  /**
   * 401 for a key that is valid but lacks a permission (a restricted key
   * without the scope an endpoint needs). OpenAI sends no `code` here: the
   * key itself is fine.
   *
   * @example
   * ```ts
   * upstream.next(faults.missingScopes());
   * ```
   */
  missingScopes(scope = 'model.request'): ErrorBehaviour {
    return {
      type: 'error',
      status: 401,
      error: {
        message: `You have insufficient permissions for this operation. Missing scopes: ${scope}. Check that you have the correct role in your organization (Reader, Writer, Owner) and project (Member, Owner), and if you're using a restricted API key, that it has the necessary scopes.`,
        type: 'invalid_request_error',
        code: null,
        param: null,
      },
    };
  },

  /**
   * 403 `model_not_found`: the key's project may not use this model.
   *
   * @example
   * ```ts
   * upstream.next(faults.modelNotAllowed('gpt-4o'));
   * ```
   */
  modelNotAllowed(model = 'gpt-4o'): ErrorBehaviour {
    return {
      type: 'error',
      status: 403,
      error: {
        message: `Project \`proj_test\` does not have access to model \`${model}\``,
        type: 'invalid_request_error',
        code: 'model_not_found',
        param: null,
      },
    };
  },

  /**
   * 400 `context_length_exceeded`: the messages and the answer do not fit the model's context window.
   *
   * @example
   * ```ts
   * upstream.next(faults.contextLengthExceeded());
   * ```
   */
  contextLengthExceeded(): ErrorBehaviour {
    return {
      type: 'error',
      status: 400,
      error: {
        message:
          "This model's maximum context length is 128000 tokens. However, your messages resulted in 130412 tokens. Please reduce the length of the messages.",
        type: 'invalid_request_error',
        code: 'context_length_exceeded',
        param: 'messages',
      },
    };
  },

  /**
   * A `server_error` event inside a streamed answer, after `afterChunks` content deltas.
   *
   * @param afterChunks - Content deltas sent first. Default: 0.
   * @example
   * ```ts
   * upstream.next(faults.streamError(2));
   * ```
   */
  streamError(afterChunks = 0): StreamErrorBehaviour {
    return {
      type: 'stream-error',
      afterChunks,
      error: {
        message: 'The server had an error while processing your request. Sorry about that!',
        type: 'server_error',
        code: null,
        param: null,
      },
    };
  },

  /**
   * A 5xx `server_error`; 503 carries OpenAI's "overloaded" message.
   *
   * @param status - HTTP status. Default: 500.
   * @example
   * ```ts
   * upstream.next(faults.serverError(503));
   * ```
   */
  serverError(status = 500): ErrorBehaviour {
    const message =
      status === 503
        ? 'The engine is currently overloaded, please try again later.'
        : 'The server had an error while processing your request. Sorry about that!';
    return { type: 'error', status, error: { message, type: 'server_error', code: null, param: null } };
  },

  /**
   * 404 on `POST /v1/embeddings` only, as an OpenAI-compatible server without
   * embeddings answers. Queue it with `next()` for one request, or make it the
   * default with `setDefault()` to turn embeddings off while chat keeps its
   * plain answer (or start the upstream with `embeddings: false`).
   *
   * @example
   * ```ts
   * upstream.setDefault(faults.embeddingsUnavailable());
   * ```
   */
  embeddingsUnavailable(): ErrorBehaviour {
    return {
      type: 'error',
      status: 404,
      match: { path: '/v1/embeddings' },
      error: { message: 'Invalid URL (POST /v1/embeddings)', type: 'invalid_request_error', code: null, param: null },
    };
  },
} as const;
