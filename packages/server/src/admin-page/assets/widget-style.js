// @ts-check
// The widget editor's look: the Style fieldset with its contrast check, the
// presentation the form describes, and the preview's configuration of it.
import { field, h, lines, optionalNumber, select } from './dom.js';

/**
 * @typedef {(name: string, value?: string | number | null, attributes?: import('./dom.js').Attributes) => HTMLInputElement} InputMaker
 */

/** A form control's value by name; '' when the form has none. */
export const valueOf = (/** @type {HTMLFormElement} */ form, /** @type {string} */ name) =>
  /** @type {HTMLInputElement | null} */ (form.elements.namedItem(name))?.value ?? '';

/** Whether a form's checkbox is ticked. */
export const checkedOf = (/** @type {HTMLFormElement} */ form, /** @type {string} */ name) =>
  /** @type {HTMLInputElement | null} */ (form.elements.namedItem(name))?.checked;

/** WCAG 2 relative luminance of `#rrggbb`. */
function luminance(/** @type {string} */ colour) {
  const channel = (/** @type {number} */ offset) => {
    const value = Number.parseInt(colour.slice(offset, offset + 2), 16) / 255;
    return value <= 0.04045 ? value / 12.92 : ((value + 0.055) / 1.055) ** 2.4;
  };
  return 0.2126 * channel(1) + 0.7152 * channel(3) + 0.0722 * channel(5);
}
function contrast(/** @type {string} */ first, /** @type {string} */ second) {
  const [lighter = 0, darker = 0] = [luminance(first), luminance(second)].sort((a, b) => b - a);
  return (lighter + 0.05) / (darker + 0.05);
}
const hexColour = (/** @type {string} */ value) => {
  const match = /^#?([0-9a-f]{3}|[0-9a-f]{6})$/i.exec(value.trim());
  if (!match) return undefined;
  const hex = /** @type {string} */ (match[1]).toLowerCase();
  return `#${hex.length === 3 ? [...hex].map((digit) => digit + digit).join('') : hex}`;
};
/** White or black, whichever reads better: what the server picks when no text colour is set. */
const readableOn = (/** @type {string} */ background) => (contrast(background, '#ffffff') >= contrast(background, '#000000') ? '#ffffff' : '#000000');

/** The presentation the form describes, as the admin API takes it (null: not set). */
export function presentationFrom(/** @type {HTMLFormElement} */ form) {
  const value = (/** @type {string} */ name) => valueOf(form, name);
  const text = (/** @type {string} */ name) => (value(name).trim() === '' ? null : value(name).trim());
  const number = (/** @type {string} */ name) => optionalNumber(value(name));
  const brandColor = hexColour(value('brandColor')) ?? null;
  const style = {
    brandColor,
    brandTextColor: (brandColor && hexColour(value('brandTextColor'))) || null,
    position: text('position'),
    offsetX: number('offsetX'),
    offsetY: number('offsetY'),
    launcherIcon: text('launcherIcon'),
    launcherImage: text('launcherImage'),
    launcherLabel: text('launcherLabel'),
    logo: text('logo'),
    width: number('width'),
    height: number('height'),
    radius: number('radius'),
    fontFamily: text('fontFamily'),
    poweredBy: checkedOf(form, 'poweredBy') || null,
  };
  const translations = value('translations').trim();
  const proactive = text('proactiveGreeting');
  const delay = number('proactiveDelay');
  const prompts = lines(value('suggestedPrompts'));
  /** @type {import('./api.js').Presentation} */
  const presentation = {
    title: value('title').trim() || value('name').trim(),
    theme: value('theme'),
    greeting: text('greeting'),
    placeholder: text('placeholder'),
    suggestedPrompts: prompts.length ? prompts : null,
    locale: text('locale'),
    style,
    translations: translations ? JSON.parse(translations) : null,
    proactiveGreeting: proactive ? { text: proactive, ...(delay !== null && { delaySeconds: delay }) } : null,
  };
  return presentation;
}

/** What the preview shows while the owner types: the draft as a browser would get it. */
export function previewConfig(/** @type {import('./api.js').Presentation} */ presentation) {
  /** @type {Record<string, any>} */
  const config = {};
  for (const [name, entry] of Object.entries(presentation)) if (entry !== null) config[name] = entry;
  /** @type {Record<string, any>} */
  const style = {};
  for (const [name, entry] of Object.entries(presentation.style ?? {})) if (entry !== null) style[name] = entry;
  if (style.brandColor && !style.brandTextColor) style.brandTextColor = readableOn(style.brandColor);
  config.style = style;
  config.greeting ??= '';
  config.placeholder ??= '';
  config.suggestedPrompts ??= [];
  return config;
}

/** The Style fieldset: brand colour with its contrast, position, launcher, header, sizes, font. */
/**
 * @param {import('./api.js').Style} style
 * @param {InputMaker} input
 */
export function styleFields(style, input) {
  const brand = input('brandColor', style.brandColor, { placeholder: '#2557d6', pattern: '#?([0-9a-fA-F]{3}|[0-9a-fA-F]{6})', spellcheck: 'false' });
  const picker = h('input', { type: 'color', value: style.brandColor ?? '#2557d6', 'aria-label': 'Pick the brand colour', class: 'swatch' });
  const textColour = input('brandTextColor', style.brandTextColor, {
    placeholder: 'automatic',
    pattern: '#?([0-9a-fA-F]{3}|[0-9a-fA-F]{6})',
    spellcheck: 'false',
  });
  const verdict = h('p', { class: 'hint', id: 'contrast-verdict', 'aria-live': 'polite', 'data-testid': 'contrast' });
  const judge = () => {
    const colour = hexColour(brand.value);
    if (colour) picker.value = colour;
    if (!colour) {
      verdict.textContent = brand.value.trim() ? 'Not a colour: use #rrggbb.' : 'The theme’s own blue.';
      verdict.className = brand.value.trim() ? 'hint error' : 'hint';
      return;
    }
    const chosen = hexColour(textColour.value) ?? readableOn(colour);
    const ratio = contrast(colour, chosen);
    const passes = ratio >= 4.5;
    verdict.textContent = `Text on it: ${chosen}${hexColour(textColour.value) ? '' : ' (chosen for you)'}, contrast ${ratio.toFixed(2)}:1 — ${passes ? 'passes WCAG AA' : `fails WCAG AA (4.5:1 needed); ${readableOn(colour)} passes`}.`;
    verdict.className = passes ? 'hint' : 'hint error';
  };
  picker.addEventListener('input', () => {
    brand.value = picker.value;
    brand.dispatchEvent(new Event('input', { bubbles: true }));
  });
  brand.addEventListener('input', judge);
  textColour.addEventListener('input', judge);
  judge();
  const brandField = field('Brand colour', brand, 'The launcher, Send and the visitor’s messages.');
  brandField.append(picker, verdict);
  return h(
    'fieldset',
    { 'data-testid': 'style' },
    h('legend', {}, 'Style'),
    brandField,
    field('Text on the brand colour', textColour, 'Leave empty: black or white, whichever reads better. A colour under 4.5:1 is refused.'),
    field(
      'Position',
      select(
        'position',
        [
          ['', 'Bottom, end of the line (right; left in Arabic and Hebrew)'],
          ['right', 'Bottom right'],
          ['left', 'Bottom left'],
        ],
        style.position ?? '',
      ),
    ),
    h(
      'div',
      { class: 'pair' },
      field('Distance from the side (px)', input('offsetX', style.offsetX, { type: 'number', min: 0, max: 200, placeholder: '20' })),
      field('Distance from the bottom (px)', input('offsetY', style.offsetY, { type: 'number', min: 0, max: 200, placeholder: '20' })),
    ),
    field(
      'Launcher icon',
      select(
        'launcherIcon',
        [
          ['', 'Speech bubble'],
          ['help', 'Question mark'],
          ['sparkles', 'Sparkles'],
        ],
        style.launcherIcon ?? '',
      ),
    ),
    field(
      'Launcher label',
      input('launcherLabel', style.launcherLabel, { maxlength: 40, placeholder: 'Chat with us' }),
      'Shown beside the icon; empty for a round button.',
    ),
    field(
      'Launcher image',
      input('launcherImage', style.launcherImage, { type: 'url', placeholder: 'https://…' }),
      'Replaces the icon: an https: address (or a data:image/ URL up to 16 KB).',
    ),
    field('Header logo or avatar', input('logo', style.logo, { type: 'url', placeholder: 'https://…' })),
    h(
      'div',
      { class: 'pair' },
      field('Panel width (px)', input('width', style.width, { type: 'number', min: 280, max: 720, placeholder: '380' })),
      field('Panel height (px)', input('height', style.height, { type: 'number', min: 320, max: 900, placeholder: '560' })),
    ),
    field('Corner radius (px)', input('radius', style.radius, { type: 'number', min: 0, max: 28, placeholder: '12' })),
    field('Font', input('fontFamily', style.fontFamily, { placeholder: 'Inter, sans-serif' }), 'A font your pages already load, then fallbacks.'),
    h(
      'div',
      { class: 'field check' },
      h('input', { type: 'checkbox', name: 'poweredBy', id: 'powered-by', checked: style.poweredBy ?? false }),
      h('label', { for: 'powered-by' }, 'Show “Powered by Airlock”'),
    ),
  );
}
