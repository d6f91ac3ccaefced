import type { ErrorCode } from '@airlock/protocol';

const tryLater = 'Too many messages right now. Please wait a moment and try again.';
const unavailable = 'This chat is not available on this page.';
const limitReached = 'This chat has reached its usage limit. Please try again later.';

// Visitors see these words, never the server's message: it is written for
// developers and may name things a visitor cannot act on.
const plainWords: Partial<Record<ErrorCode, string>> = {
  origin_not_allowed: unavailable,
  widget_not_found: unavailable,
  widget_disabled: unavailable,
  rate_limited: tryLater,
  upstream_rate_limited: tryLater,
  quota_exhausted: limitReached,
  upstream_quota_exhausted: limitReached,
  prompt_blocked: 'That message cannot be sent. Please rephrase it.',
  input_invalid: 'That message cannot be sent. Please change it and try again.',
  payload_too_large: 'That message is too long. Please shorten it.',
  upstream_unavailable: 'The chat cannot be reached right now. Please try again.',
  upstream_timeout: 'The reply took too long. Please try again.',
};

/** The sentence shown to a visitor for an error code. */
export function errorText(code: ErrorCode): string {
  return plainWords[code] ?? 'Something went wrong. Please try again.';
}
