/**
 * Airlock's wire contracts, shared by the browser widget and the server.
 *
 * This package has no runtime dependencies and (apart from {@link ERROR_CODES}
 * and {@link ERROR_STATUS}) exports only types.
 *
 * @packageDocumentation
 */

/**
 * Every error code Airlock can answer with. Stable public API: clients may
 * switch on these values.
 *
 * @example
 * ```ts
 * import { ERROR_CODES } from '@airlock/protocol';
 * ERROR_CODES.includes('token_expired'); // true
 * ```
 */
export const ERROR_CODES = [
  'token_missing',
  'token_invalid',
  'token_expired',
  'sign_in_required',
  'origin_not_allowed',
  'widget_not_found',
  'widget_disabled',
  'rate_limited',
  'quota_exhausted',
  'prompt_blocked',
  'input_invalid',
  'payload_too_large',
  'not_found',
  'method_not_allowed',
  'admin_unauthorized',
  'unauthenticated',
  'forbidden',
  'key_in_use',
  'conflict',
  'upstream_key_invalid',
  'upstream_quota_exhausted',
  'upstream_rate_limited',
  'upstream_unavailable',
  'upstream_timeout',
  'upstream_rejected',
  'limits_unavailable',
  'service_unavailable',
  'internal',
] as const;

/**
 * A stable Airlock error code.
 */
export type ErrorCode = (typeof ERROR_CODES)[number];

/**
 * The HTTP status each error code is answered with.
 *
 * @example
 * ```ts
 * ERROR_STATUS.origin_not_allowed; // 403
 * ```
 */
export const ERROR_STATUS: Readonly<Record<ErrorCode, number>> = {
  token_missing: 401,
  token_invalid: 401,
  token_expired: 401,
  sign_in_required: 401,
  origin_not_allowed: 403,
  widget_not_found: 404,
  widget_disabled: 403,
  rate_limited: 429,
  quota_exhausted: 429,
  prompt_blocked: 400,
  input_invalid: 400,
  payload_too_large: 413,
  not_found: 404,
  method_not_allowed: 405,
  admin_unauthorized: 401,
  unauthenticated: 401,
  forbidden: 403,
  key_in_use: 409,
  conflict: 409,
  upstream_key_invalid: 502,
  upstream_quota_exhausted: 502,
  upstream_rate_limited: 429,
  upstream_unavailable: 502,
  upstream_timeout: 504,
  upstream_rejected: 502,
  limits_unavailable: 503,
  service_unavailable: 503,
  internal: 500,
};

/**
 * The body of every error response, in OpenAI's error shape, so OpenAI
 * clients surface Airlock errors as they would OpenAI's own.
 *
 * @example
 * ```json
 * {"error": {"message": "This token has expired.", "type": "airlock_error", "code": "token_expired"}}
 * ```
 */
export interface ErrorBody {
  error: {
    message: string;
    type: 'airlock_error';
    code: ErrorCode;
  };
}

/**
 * Kinds of widget.
 */
export type WidgetType = 'chat' | 'completion' | 'image';

/**
 * Colour scheme of a widget's UI. `auto` follows `prefers-color-scheme`.
 */
export type WidgetTheme = 'light' | 'dark' | 'auto';

/**
 * What the browser may know about a widget. Never carries the system prompt,
 * the model, a prompt template, the filter or anything about keys.
 */
export interface WidgetPublicConfig {
  id: string;
  type: WidgetType;
  title: string;
  theme: WidgetTheme;
  greeting?: string;
  placeholder?: string;
  suggestedPrompts?: string[];
  locale?: string;
  /** The form fields of a text-completion widget, in order; absent for chat and image widgets. */
  inputs?: WidgetInput[];
  /** How the widget looks: brand colour, position, launcher, sizes, font. Absent: the built-in look. */
  style?: WidgetStyle;
  /**
   * Greeting, placeholder, suggested prompts and proactive greeting in other
   * languages, by language tag (`fr`, `pt-BR`). The widget picks the visitor's
   * tag, then its language; fields missing there come from the top level.
   */
  translations?: Record<string, WidgetTexts>;
  /** A short message shown beside the closed launcher after a delay, once per visitor. Absent: none. */
  proactiveGreeting?: WidgetProactiveGreeting;
}

/**
 * The texts of a widget that an owner may translate.
 */
export interface WidgetTexts {
  title?: string;
  greeting?: string;
  placeholder?: string;
  suggestedPrompts?: string[];
  /** Text of the proactive greeting in this language. */
  proactiveGreeting?: string;
}

/**
 * A proactive greeting: a small, dismissible message beside the closed
 * launcher, shown once per visitor.
 */
export interface WidgetProactiveGreeting {
  text: string;
  /** Seconds after the page loads before it shows. Default: `5`. */
  delaySeconds?: number;
}

/**
 * Icons the launcher can show.
 */
export type LauncherIcon = 'chat' | 'help' | 'sparkles';

/**
 * A widget's look. Every field is optional; a page's own CSS custom
 * properties (`--airlock-accent`, …) still take precedence over these.
 */
export interface WidgetStyle {
  /** The launcher, Send button and the visitor's messages, as `#rrggbb`. Default: the theme's blue. */
  brandColor?: string;
  /**
   * Text and icons on the brand colour, as `#rrggbb`, at least 4.5:1 against it
   * (WCAG AA). The server works it out (black or white) when the owner sets none.
   */
  brandTextColor?: string;
  /** Which bottom corner the launcher and panel sit in. Default: the end of the line (right, or left in Arabic and Hebrew). */
  position?: 'left' | 'right';
  /** Distance from the side of the page, in px. Default: `20`. */
  offsetX?: number;
  /** Distance from the bottom of the page, in px. Default: `20`. */
  offsetY?: number;
  /** The launcher's built-in icon. Default: `'chat'`. */
  launcherIcon?: LauncherIcon;
  /** An `https:` (or `data:image/`) URL shown in the launcher instead of the icon. */
  launcherImage?: string;
  /** A label beside the launcher's icon, such as "Chat with us". Default: none (a round button). */
  launcherLabel?: string;
  /** An `https:` (or `data:image/`) URL of a logo or avatar shown in the header. */
  logo?: string;
  /** Width of the launcher's panel, in px. Default: `380`. */
  width?: number;
  /** Height of the launcher's panel, in px. Default: `560`. */
  height?: number;
  /** Corner radius of the panel, in px. Default: `12`. */
  radius?: number;
  /** A CSS font-family list, such as `Inter, sans-serif`. Default: the visitor's system font. */
  fontFamily?: string;
  /** Whether the panel shows "Powered by Airlock" at its foot. Default: `false`. */
  poweredBy?: boolean;
}

/**
 * One visitor input declared by a text-completion widget. The server fills the
 * widget's prompt template with the values; the template never reaches the browser.
 */
export interface WidgetInput {
  /** Key of the value in `POST /v1/completions/fill`'s `inputs` object. */
  name: string;
  /** Visible label of the form field. */
  label: string;
  type: 'text' | 'textarea' | 'number' | 'select';
  /** Whether the form refuses to submit without a value. Default: `false`. */
  required?: boolean;
  /** Longest accepted value, in characters (text and textarea). Default: no limit beyond the server's. */
  maxLength?: number;
  /** The choices of a `select`. */
  options?: string[];
}

/**
 * One passage an answer was given, as the widget shows it under the answer.
 * Sent by the server for a widget with knowledge: in a streamed chat
 * completion, on the first chunk (the one with `delta.role`), as the top-level
 * field `airlock_sources: AnswerSource[]`; in a non-streamed completion, as the
 * same top-level field of its JSON. Absent when no passage was given to the model.
 *
 * Every field is text for a browser to show as text, never HTML; a client links
 * `url` only when it parses as an `http:` or `https:` URL.
 */
export interface AnswerSource {
  /** Stable id of the passage (`<fileId>:<ordinal>`). */
  id: string;
  /** What to show: the file's title or name, e.g. "Pricing.pdf". */
  title: string;
  /** Where in the file, human-readable: "page 3", "Plans › Annual", "rows 4–9". Absent when the file has no structure. */
  location?: string;
  /** The file's source URL (set by the owner), when it has one: the citation is a link. Always http(s). */
  url?: string;
}

/**
 * Body of `POST /airlock/token` (public minting).
 */
export interface TokenRequest {
  widgetId: string;
  /** A stable id the widget keeps per visitor; the server makes one when absent. */
  visitorId?: string;
}

/**
 * Answer of `POST /airlock/token`.
 *
 * @example
 * ```ts
 * const { token, expiresAt } = (await response.json()) as TokenResponse;
 * ```
 */
export interface TokenResponse {
  /** A JWT to send as `Authorization: Bearer <token>`. */
  token: string;
  /** Expiry as milliseconds since the epoch, by the server's clock. */
  expiresAt: number;
  /**
   * Seconds the token is valid from when it was issued. Clients schedule
   * renewal from this on their own monotonic clock, since a visitor's device
   * clock may be minutes off the server's. Absent from older servers: the
   * token's `exp - iat` says the same.
   */
  expiresIn?: number;
  widget: WidgetPublicConfig;
}

/**
 * Claims of an Airlock widget token (beyond the registered `iss`, `aud`,
 * `sub`, `jti`, `iat`, `exp`).
 */
export interface TokenClaims {
  /** The widget this token is scoped to. */
  wid: string;
  /** The browser origin the token was minted for, when any. */
  origin?: string;
  /** For a public visitor's token: the site (allowed origin) it was minted for, checked on every call. */
  site?: string;
  /** The widget's revocation epoch at minting time. */
  epoch: number;
  /** Per-token limits set by a backend at minting time; the server enforces them. */
  limits?: TokenLimits;
}

/**
 * Limits a backend may put on one token (claim `limits`). Absent fields mean
 * no per-token limit (the widget's own limits and budgets still apply).
 */
export interface TokenLimits {
  /** Most proxy requests this token may make. */
  requests?: number;
  /** Most model output tokens this token may use, summed over its requests. */
  outputTokens?: number;
}

/** Token audience and issuer strings used by Airlock. */
export const TOKEN_AUDIENCE = 'airlock-widget';
