import type { LauncherIcon, WidgetProactiveGreeting, WidgetStyle, WidgetTexts } from '@airlock/protocol';
import { invalid } from '../errors.js';

const launcherIcons: readonly LauncherIcon[] = ['chat', 'help', 'sparkles'];
const maxTranslations = 40;
// Images travel in every token answer, so an inline one must stay small.
const maxImageUrlLength = 16 * 1024;
/** WCAG AA for normal text. */
const minimumContrast = 4.5;

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function text(value: unknown, field: string, max: number, options: { allowEmpty?: boolean } = {}): string {
  if (typeof value !== 'string') throw invalid(`"${field}" must be a string.`);
  const trimmed = value.trim();
  if ((!options.allowEmpty && trimmed.length === 0) || trimmed.length > max) {
    throw invalid(`"${field}" must be ${options.allowEmpty ? 'at most' : '1 to'} ${max} characters.`);
  }
  return trimmed;
}

function integer(value: unknown, field: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw invalid(`"${field}" must be a whole number from ${min} to ${max}.`);
  }
  return value;
}

/**
 * A colour as `#rrggbb` in lower case, from `#rgb` or `#rrggbb`.
 *
 * @example
 * ```ts
 * parseColour('#0A7', 'presentation.style.brandColor'); // '#00aa77'
 * ```
 */
export function parseColour(value: unknown, field: string): string {
  if (typeof value !== 'string' || !/^#(?:[0-9a-f]{3}|[0-9a-f]{6})$/i.test(value.trim())) {
    throw invalid(`"${field}" must be a colour such as #0a7d4f.`);
  }
  const hex = value.trim().slice(1).toLowerCase();
  return `#${hex.length === 3 ? [...hex].map((digit) => digit + digit).join('') : hex}`;
}

/** Relative luminance of a `#rrggbb` colour, as WCAG 2 defines it. */
function luminance(colour: string): number {
  const channel = (offset: number): number => {
    const value = Number.parseInt(colour.slice(offset, offset + 2), 16) / 255;
    return value <= 0.04045 ? value / 12.92 : ((value + 0.055) / 1.055) ** 2.4;
  };
  return 0.2126 * channel(1) + 0.7152 * channel(3) + 0.0722 * channel(5);
}

/**
 * The WCAG 2 contrast ratio of two `#rrggbb` colours, from 1 to 21.
 *
 * @example
 * ```ts
 * contrastRatio('#ffffff', '#000000'); // 21
 * ```
 */
export function contrastRatio(first: string, second: string): number {
  const [lighter, darker] = [luminance(first), luminance(second)].sort((a, b) => b - a) as [number, number];
  return (lighter + 0.05) / (darker + 0.05);
}

/**
 * White or black, whichever reads better on `background`. One of the two
 * always reaches at least 4.58:1, so any brand colour gets AA text.
 *
 * @example
 * ```ts
 * readableTextColour('#ffd400'); // '#000000'
 * ```
 */
export function readableTextColour(background: string): string {
  return contrastRatio(background, '#ffffff') >= contrastRatio(background, '#000000') ? '#ffffff' : '#000000';
}

function imageUrl(value: unknown, field: string): string {
  if (typeof value !== 'string' || value.length > maxImageUrlLength)
    throw invalid(`"${field}" must be an image URL of at most ${maxImageUrlLength} characters.`);
  const trimmed = value.trim();
  if (/^data:image\/(?:png|jpeg|gif|webp|svg\+xml);base64,[A-Za-z0-9+/]+=*$/.test(trimmed)) return trimmed;
  let url: URL;
  try {
    url = new URL(trimmed);
  } catch {
    throw invalid(`"${field}" must be an https: URL or a data:image/ URL.`);
  }
  if (url.protocol !== 'https:') throw invalid(`"${field}" must be an https: URL or a data:image/ URL.`);
  return url.href;
}

/**
 * Checks `presentation.style`. With `base`, the input is merged over it field
 * by field; a field set to `null` is removed. A text colour that does not reach
 * 4.5:1 against the brand colour (WCAG AA) is refused, naming one that does.
 *
 * @example
 * ```ts
 * parseWidgetStyle({ brandColor: '#0a7d4f', position: 'left', launcherLabel: 'Chat with us' });
 * ```
 */
export function parseWidgetStyle(value: unknown, base?: WidgetStyle): WidgetStyle {
  if (!isPlainObject(value)) throw invalid('"presentation.style" must be an object.');
  const next: Record<string, unknown> = { ...base };
  for (const [field, raw] of Object.entries(value)) {
    const name = `presentation.style.${field}`;
    if (raw === undefined) continue;
    if (raw === null) {
      delete next[field];
      continue;
    }
    switch (field) {
      case 'brandColor':
      case 'brandTextColor':
        next[field] = parseColour(raw, name);
        break;
      case 'position':
        if (raw !== 'left' && raw !== 'right') throw invalid(`"${name}" must be left or right.`);
        next.position = raw;
        break;
      case 'offsetX':
      case 'offsetY':
        next[field] = integer(raw, name, 0, 200);
        break;
      case 'launcherIcon':
        if (!launcherIcons.includes(raw as LauncherIcon)) throw invalid(`"${name}" must be one of ${launcherIcons.join(', ')}.`);
        next.launcherIcon = raw;
        break;
      case 'launcherImage':
      case 'logo':
        next[field] = imageUrl(raw, name);
        break;
      case 'launcherLabel':
        next.launcherLabel = text(raw, name, 40);
        break;
      case 'width':
        next.width = integer(raw, name, 280, 720);
        break;
      case 'height':
        next.height = integer(raw, name, 320, 900);
        break;
      case 'radius':
        next.radius = integer(raw, name, 0, 28);
        break;
      case 'fontFamily': {
        const family = text(raw, name, 200);
        // It becomes CSS: only what a font-family list needs, so it cannot end the declaration.
        if (!/^[\p{L}\p{N} ,'"_-]+$/u.test(family)) throw invalid(`"${name}" must be a font-family list such as Inter, sans-serif.`);
        next.fontFamily = family;
        break;
      }
      case 'poweredBy':
        if (typeof raw !== 'boolean') throw invalid(`"${name}" must be true or false.`);
        next.poweredBy = raw;
        break;
      default:
        throw invalid(`"${name}" is not a style setting.`);
    }
  }
  if (typeof next.brandTextColor === 'string') {
    if (typeof next.brandColor !== 'string') throw invalid('"presentation.style.brandTextColor" needs a "brandColor" to sit on.');
    const ratio = contrastRatio(next.brandColor, next.brandTextColor);
    if (ratio < minimumContrast) {
      const better = readableTextColour(next.brandColor);
      throw invalid(
        `Text ${next.brandTextColor} on ${next.brandColor} has a contrast of ${ratio.toFixed(2)}:1; WCAG AA needs ${minimumContrast}:1. ` +
          `Use ${better}, or leave "brandTextColor" unset and it is chosen for you.`,
      );
    }
  }
  return next as WidgetStyle;
}

function parseTexts(value: unknown, field: string): WidgetTexts {
  if (!isPlainObject(value)) throw invalid(`"${field}" must be an object.`);
  const texts: WidgetTexts = {};
  for (const [name, raw] of Object.entries(value)) {
    if (raw === undefined || raw === null) continue;
    const path = `${field}.${name}`;
    switch (name) {
      case 'title':
        texts.title = text(raw, path, 100);
        break;
      case 'greeting':
        texts.greeting = text(raw, path, 1000, { allowEmpty: true });
        break;
      case 'placeholder':
        texts.placeholder = text(raw, path, 200, { allowEmpty: true });
        break;
      case 'proactiveGreeting':
        texts.proactiveGreeting = text(raw, path, 300);
        break;
      case 'suggestedPrompts':
        if (!Array.isArray(raw) || raw.length > 8) throw invalid(`"${path}" must be a list of at most 8 prompts.`);
        texts.suggestedPrompts = raw.map((prompt, index) => text(prompt, `${path}[${index}]`, 200));
        break;
      default:
        throw invalid(`"${path}" is not a text that can be translated.`);
    }
  }
  return texts;
}

/**
 * A language tag in its usual case (`pt-BR`, `zh-Hant`), or `undefined` when
 * it is not one.
 *
 * @example
 * ```ts
 * normaliseLanguageTag('PT-br'); // 'pt-BR'
 * ```
 */
export function normaliseLanguageTag(value: string): string | undefined {
  if (!/^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8}){0,3}$/.test(value)) return undefined;
  const [language, ...rest] = value.split('-');
  const subtags = rest.map((part) =>
    part.length === 2 ? part.toUpperCase() : part.length === 4 ? part[0]!.toUpperCase() + part.slice(1).toLowerCase() : part.toLowerCase(),
  );
  return [language!.toLowerCase(), ...subtags].join('-');
}

/**
 * Checks `presentation.translations`: texts by language tag. The whole map is
 * replaced on update; `null` for one tag removes it.
 *
 * @example
 * ```ts
 * parseTranslations({ fr: { greeting: 'Bonjour !' }, 'pt-BR': { placeholder: 'Pergunte…' } });
 * ```
 */
export function parseTranslations(value: unknown): Record<string, WidgetTexts> {
  if (!isPlainObject(value)) throw invalid('"presentation.translations" must be an object of texts by language tag.');
  const entries = Object.entries(value).filter(([, texts]) => texts !== null && texts !== undefined);
  if (entries.length > maxTranslations) throw invalid(`"presentation.translations" may hold at most ${maxTranslations} languages.`);
  const translations: Record<string, WidgetTexts> = {};
  for (const [tag, texts] of entries) {
    const normalised = normaliseLanguageTag(tag);
    if (!normalised) throw invalid(`"presentation.translations.${tag}": "${tag}" is not a language tag such as fr or pt-BR.`);
    translations[normalised] = parseTexts(texts, `presentation.translations.${normalised}`);
  }
  return translations;
}

/**
 * Checks `presentation.proactiveGreeting`: `{text, delaySeconds}`.
 *
 * @example
 * ```ts
 * parseProactiveGreeting({ text: 'Need help choosing?', delaySeconds: 8 });
 * ```
 */
export function parseProactiveGreeting(value: unknown): WidgetProactiveGreeting {
  if (!isPlainObject(value)) throw invalid('"presentation.proactiveGreeting" must be an object with "text".');
  for (const field of Object.keys(value)) {
    if (field !== 'text' && field !== 'delaySeconds') throw invalid(`"presentation.proactiveGreeting.${field}" is not a proactive greeting setting.`);
  }
  const greeting: WidgetProactiveGreeting = { text: text(value.text, 'presentation.proactiveGreeting.text', 300) };
  if (value.delaySeconds !== undefined && value.delaySeconds !== null) {
    greeting.delaySeconds = integer(value.delaySeconds, 'presentation.proactiveGreeting.delaySeconds', 0, 600);
  }
  return greeting;
}

/**
 * The style a browser gets: the saved one, with the text colour on the brand
 * colour worked out when the owner chose none.
 *
 * @example
 * ```ts
 * publicStyle({ brandColor: '#ffd400' }); // { brandColor: '#ffd400', brandTextColor: '#000000' }
 * ```
 */
export function publicStyle(style: WidgetStyle): WidgetStyle {
  const {
    brandColor,
    brandTextColor,
    position,
    offsetX,
    offsetY,
    launcherIcon,
    launcherImage,
    launcherLabel,
    logo,
    width,
    height,
    radius,
    fontFamily,
    poweredBy,
  } = style;
  // Field by field, like the rest of the public config, so nothing else can leak.
  const copy: WidgetStyle = {
    brandColor,
    brandTextColor,
    position,
    offsetX,
    offsetY,
    launcherIcon,
    launcherImage,
    launcherLabel,
    logo,
    width,
    height,
    radius,
    fontFamily,
    poweredBy,
  };
  if (brandColor && !brandTextColor) copy.brandTextColor = readableTextColour(brandColor);
  for (const key of Object.keys(copy) as (keyof WidgetStyle)[]) if (copy[key] === undefined) delete copy[key];
  return copy;
}
