import type { TokenLimits, TokenResponse } from '@airlock/protocol';
import { clientAddressKey } from '../http/client-address.js';
import type { AirlockContext } from '../context.js';
import { AirlockError, toAirlockError } from '../errors.js';
import { withCors } from '../http/cors.js';
import { errorResponse, json, readJsonObject } from '../http/responses.js';
import { newId } from '../ids.js';
import { enforceRateLimit } from '../limits/rate-limiter.js';
import type { Store, WidgetRecord } from '../stores/store.js';
import { isOriginAllowed, isWebOrigin } from '../widgets/origins.js';
import { publicConfig } from '../widgets/public-config.js';

/**
 * A rate limit: at most `limit` requests per `windowSeconds`.
 */
export interface RateLimit {
  limit: number;
  windowSeconds: number;
}

/**
 * Limits on public minting (`POST /airlock/token`). Each refusal is a 429
 * `rate_limited` with `Retry-After`.
 *
 * @example
 * ```ts
 * createAirlock({ mintRateLimits: { perAddress: { limit: 10, windowSeconds: 60 } } });
 * ```
 */
export interface MintRateLimits {
  /** Per client address (see `clientAddress`). Default: 30 a minute. */
  perAddress?: RateLimit;
  /** Per widget, over all visitors. Default: 600 a minute. */
  perWidget?: RateLimit;
}

/** Default public minting limits. */
export const defaultMintRateLimits: Required<MintRateLimits> = {
  perAddress: { limit: 30, windowSeconds: 60 },
  perWidget: { limit: 600, windowSeconds: 60 },
};

/**
 * Told about every token minted, public or backend: a view of the widget.
 */
export interface TokenMintedEvent {
  widgetId: string;
  subject: string;
  /** `public`: `POST /airlock/token`; `backend`: `mintToken`, the token handler, the admin API or the CLI. */
  via: 'public' | 'backend';
  origin?: string;
}

/**
 * A human check for public minting, such as a Turnstile or hCaptcha
 * verification. Return `false` to refuse (403 `forbidden`). `body` is the
 * parsed request body, so the widget may send the challenge answer in it.
 */
export type VerifyHuman = (request: Request, details: { widgetId: string; body: Record<string, unknown> }) => boolean | Promise<boolean>;

/**
 * Loads a widget that may be given tokens: it exists and is enabled.
 *
 * @example
 * ```ts
 * const widget = await loadUsableWidget(context.store, body.widgetId);
 * ```
 */
export async function loadUsableWidget(store: Store, widgetId: unknown): Promise<WidgetRecord> {
  if (typeof widgetId !== 'string' || widgetId.length === 0 || widgetId.length > 100) {
    throw new AirlockError('input_invalid', '"widgetId" must be a widget id.');
  }
  const widget = await store.getWidget(widgetId);
  if (!widget) throw new AirlockError('widget_not_found', 'There is no such widget.');
  if (!widget.enabled) throw new AirlockError('widget_disabled', 'This widget is turned off.');
  return widget;
}

/**
 * Mints a token for a widget, wraps it with the widget's public config and
 * reports the view.
 *
 * @example
 * ```ts
 * const answer = await mintFor(context, widget, { subject: 'visitor_1', origin: 'https://example.com', via: 'public' });
 * ```
 */
export async function mintFor(
  context: AirlockContext,
  widget: WidgetRecord,
  input: { subject: string; via: TokenMintedEvent['via']; origin?: string; site?: string; ttlSeconds?: number; limits?: TokenLimits },
): Promise<TokenResponse> {
  if (input.via === 'backend' && input.subject.startsWith(visitorSubjectPrefix)) {
    throw new AirlockError('input_invalid', `A user id may not start with "${visitorSubjectPrefix}": that names public visitors.`);
  }
  if (input.origin !== undefined && !isWebOrigin(input.origin)) {
    throw new AirlockError('input_invalid', '"origin" must be an origin such as https://example.com.');
  }
  const { tokens } = await context.started();
  const { token, expiresAt, expiresIn } = await tokens.mint({
    widgetId: widget.id,
    subject: input.subject,
    epoch: widget.epoch,
    origin: input.origin,
    site: input.site,
    ttlSeconds: input.ttlSeconds,
    limits: input.limits,
  });
  await reportMinted(context, { widgetId: widget.id, subject: input.subject, via: input.via, ...(input.origin && { origin: input.origin }) });
  return { token, expiresAt, expiresIn, widget: publicConfig(widget) };
}

/**
 * Counts one mint against a {@link RateLimit}; throws 429 `rate_limited` over it.
 * Public minting and the embed page share the same keys, so one visitor's
 * mints count once whichever way they come.
 *
 * @example
 * ```ts
 * await enforceMintLimit(context, `mint:widget:${widget.id}`, defaultMintRateLimits.perWidget);
 * ```
 */
export function enforceMintLimit(context: AirlockContext, key: string, limit: RateLimit): Promise<void> {
  return enforceRateLimit(context.counters, key, limit.limit, limit.windowSeconds * 1000);
}

async function reportMinted(context: AirlockContext, event: TokenMintedEvent): Promise<void> {
  try {
    await context.onTokenMinted(event);
  } catch (error) {
    // Counting a view must never cost the visitor their token.
    context.logger.warn('onTokenMinted failed', { widgetId: event.widgetId, error });
  }
}

/** Where the subject of every public visitor's token starts, so no visitor can take a backend user's id (and its limits). */
export const visitorSubjectPrefix = 'v:';

/**
 * What a visitor's mint request is: the page's site (the origin that shows
 * the widget), the origin the token's calls will come from, and the widget.
 */
export interface VisitorMintInput {
  /** The site the widget is shown on; it must be in the widget's allowed origins. */
  site: string | null;
  /** The origin the token is bound to: the site itself, or this server's own for the iframe page. */
  origin: string;
  /** The widget, when the path names it; otherwise the body's `widgetId`. */
  widgetId?: string;
  /** Told once the site is known to be allowed (errors from then on may be readable by it). */
  onSiteAllowed?: () => void;
}

/**
 * Mints a token for a public visitor: the one set of rules for
 * `POST /airlock/token` and the iframe page's token endpoint. Checks, in
 * order: the per-address limit (before any database read), the widget
 * (exists, enabled, allows public use: has allowed origins), the site
 * against its allow-list, the per-widget limit, the visitor id, then the
 * optional human check. The subject is the server's namespace for visitors
 * (`v:` and the visitor's id), never a backend user's id; the token carries
 * the site, which every call checks against the widget's current list.
 *
 * @example
 * ```ts
 * const answer = await mintForVisitor(context, request, { site: origin, origin });
 * ```
 */
export async function mintForVisitor(context: AirlockContext, request: Request, input: VisitorMintInput): Promise<TokenResponse> {
  const options = context.config;
  const limits = options.mintRateLimits;
  const address = clientAddressKey(request, options.clientAddress);
  // Without a known address (a runtime that does not expose one and no
  // clientAddress option) only the per-widget limit applies; one shared
  // bucket would let a single abuser lock every visitor out.
  if (address) await enforceMintLimit(context, `mint:address:${address}`, limits?.perAddress ?? defaultMintRateLimits.perAddress);
  const body = await readJsonObject(request, 4 * 1024, { optional: input.widgetId !== undefined });
  const widget = await loadUsableWidget(context.store, input.widgetId ?? body.widgetId);
  if (widget.allowedOrigins.length === 0) {
    throw new AirlockError('origin_not_allowed', "This widget is private: only its site's backend can give it tokens.");
  }
  if (!isOriginAllowed(input.site, widget.allowedOrigins)) {
    throw new AirlockError('origin_not_allowed', 'This site is not allowed to use this widget.');
  }
  input.onSiteAllowed?.();
  await enforceMintLimit(context, `mint:widget:${widget.id}`, limits?.perWidget ?? defaultMintRateLimits.perWidget);
  const visitorId = body.visitorId;
  if (visitorId !== undefined && (typeof visitorId !== 'string' || !/^[A-Za-z0-9_-]{1,128}$/.test(visitorId))) {
    throw new AirlockError('input_invalid', '"visitorId" must be 1 to 128 letters, digits, "_" or "-".');
  }
  if (options.verifyHuman && !(await options.verifyHuman(request, { widgetId: widget.id, body }))) {
    throw new AirlockError('forbidden', 'Please confirm you are human, then try again.');
  }
  return mintFor(context, widget, {
    subject: `${visitorSubjectPrefix}${visitorId ?? newId('vis')}`,
    origin: input.origin,
    site: input.site!,
    via: 'public',
  });
}

/**
 * `POST /airlock/token`: public minting, by {@link mintForVisitor} with the
 * request's `Origin` as the site. The origin refusal and every error after
 * it are readable by that origin (so the widget can say the chat is not
 * available on this page, or see `Retry-After`); earlier ones are not.
 *
 * @example
 * ```ts
 * const response = await handlePublicMint(context, request);
 * ```
 */
export async function handlePublicMint(context: AirlockContext, request: Request): Promise<Response> {
  const origin = request.headers.get('origin');
  let readable = false;
  try {
    const answer = await mintForVisitor(context, request, { site: origin, origin: origin ?? '', onSiteAllowed: () => (readable = true) });
    return withCors(json(answer), origin);
  } catch (error) {
    const airlockError = toAirlockError(error);
    // A refused site may read its refusal (a code and a plain message), so the
    // widget can tell the visitor the chat is not available on this page and
    // tell the owner which origin to allow.
    if (!readable && airlockError.code !== 'origin_not_allowed') throw error;
    if (airlockError.code === 'internal') context.logger.error('public minting failed', { error: airlockError.cause });
    return withCors(errorResponse(airlockError), origin);
  }
}
