// A widget's look, translated texts and proactive greeting: checked on save through the
// admin API, and handed to browsers with each token.
import type { TokenResponse, WidgetStyle } from '@airlock/protocol';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { contrastRatio, readableTextColour } from '../src/widgets/widget-style.js';
import { allowedOrigin, startHarness, type Harness } from './harness.js';

const adminToken = 'admin-token-for-style-tests';
let harness: Harness;
beforeAll(async () => {
  harness = await startHarness({ adminToken, masterKeys: `t1:${randomBytes(32).toString('base64')}` });
});
afterAll(async () => {
  await harness.close();
});

// The answer is either the saved widget or an error body; tests read what they expect.
interface Answer {
  presentation: { style: Record<string, unknown>; translations: unknown };
  error: { code: string; message: string };
}

async function patch(presentation: Record<string, unknown>): Promise<{ status: number; body: Answer }> {
  const response = await fetch(`${harness.url}/airlock/admin/widgets/${harness.widget.id}`, {
    method: 'PATCH',
    headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ presentation }),
  });
  return { status: response.status, body: (await response.json()) as Answer };
}

async function mint(): Promise<TokenResponse> {
  const response = await fetch(`${harness.url}/airlock/token`, {
    method: 'POST',
    headers: { origin: allowedOrigin, 'content-type': 'application/json' },
    body: JSON.stringify({ widgetId: harness.widget.id }),
  });
  expect(response.status).toBe(200);
  return (await response.json()) as TokenResponse;
}

describe('presentation.style', () => {
  it('saves a look, and a token carries it with a text colour that reaches AA on the brand colour', async () => {
    const style: WidgetStyle = {
      brandColor: '#FD0',
      position: 'left',
      offsetX: 24,
      offsetY: 16,
      launcherIcon: 'help',
      launcherLabel: ' Chat with us ',
      logo: 'https://cdn.example.com/logo.png',
      width: 420,
      height: 640,
      radius: 16,
      fontFamily: '"Inter Variable", Inter, sans-serif',
      poweredBy: true,
    };
    const saved = await patch({ style });
    expect(saved.status).toBe(200);
    expect(saved.body.presentation.style).toEqual({ ...style, brandColor: '#ffdd00', launcherLabel: 'Chat with us' });
    const { widget } = await mint();
    expect(widget.style).toEqual({ ...saved.body.presentation.style, brandTextColor: '#000000' });
    expect(contrastRatio('#ffdd00', '#000000')).toBeGreaterThanOrEqual(4.5);
  });

  it('merges a style update field by field; null removes a field', async () => {
    await patch({ style: { brandColor: '#0a7d4f', position: 'right', width: 400 } });
    const saved = await patch({ style: { position: null, radius: 8 } });
    expect(saved.body.presentation.style).toMatchObject({ brandColor: '#0a7d4f', width: 400, radius: 8 });
    expect(saved.body.presentation.style.position).toBeUndefined();
    expect((await mint()).widget.style?.brandTextColor).toBe('#ffffff');
  });

  it('refuses a text colour that fails WCAG AA on the brand colour, naming one that passes', async () => {
    const refused = await patch({ style: { brandColor: '#ffdd00', brandTextColor: '#ffffff' } });
    expect(refused.status).toBe(400);
    expect(refused.body.error.code).toBe('input_invalid');
    expect(refused.body.error.message).toMatch(/contrast of 1\.\d\d:1; WCAG AA needs 4\.5:1\. Use #000000/);
    expect((await patch({ style: { brandColor: '#1f3a93', brandTextColor: '#f0f0f0' } })).status).toBe(200);
  });

  it('refuses values that are not what they claim, with the field named', async () => {
    for (const [style, field] of [
      [{ brandColor: 'red' }, 'presentation.style.brandColor'],
      [{ brandColor: '#12345' }, 'presentation.style.brandColor'],
      [{ position: 'top' }, 'presentation.style.position'],
      [{ offsetX: -1 }, 'presentation.style.offsetX'],
      [{ width: 100 }, 'presentation.style.width'],
      [{ height: 2000 }, 'presentation.style.height'],
      [{ radius: 2.5 }, 'presentation.style.radius'],
      [{ launcherIcon: 'rocket' }, 'presentation.style.launcherIcon'],
      [{ launcherImage: 'javascript:alert(1)' }, 'presentation.style.launcherImage'],
      [{ logo: 'http://insecure.example.com/logo.png' }, 'presentation.style.logo'],
      [{ logo: 'data:text/html;base64,PHNjcmlwdD4=' }, 'presentation.style.logo'],
      [{ launcherLabel: 'x'.repeat(41) }, 'presentation.style.launcherLabel'],
      // A font that would end the CSS declaration and start another.
      [{ fontFamily: 'Inter; } :host { display: none' }, 'presentation.style.fontFamily'],
      [{ poweredBy: 'yes' }, 'presentation.style.poweredBy'],
      [{ shadow: 'big' }, 'presentation.style.shadow'],
      [{ brandTextColor: '#000000' }, 'presentation.style.brandTextColor'],
    ] as const) {
      await patch({ style: null });
      const refused = await patch({ style });
      expect(refused.status, JSON.stringify(style)).toBe(400);
      expect(refused.body.error.code).toBe('input_invalid');
      expect(refused.body.error.message).toContain(`"${field}"`);
    }
    // The server kept serving and the widget kept its last good look.
    expect((await mint()).widget.title).toBeDefined();
  });

  it('picks black or white text for any colour, never below 4.5:1', () => {
    for (let index = 0; index < 2000; index += 1) {
      const colour = `#${randomBytes(3).toString('hex')}`;
      expect(contrastRatio(colour, readableTextColour(colour))).toBeGreaterThanOrEqual(4.5);
    }
  });
});

describe('presentation.translations and proactiveGreeting', () => {
  it('saves texts by language tag (normalised) and a proactive greeting, and a token carries both', async () => {
    const saved = await patch({
      translations: {
        FR: { greeting: 'Bonjour !', suggestedPrompts: ['Horaires ?'], proactiveGreeting: 'Une question ?' },
        'pt-br': { placeholder: 'Pergunte' },
      },
      proactiveGreeting: { text: 'Questions? Ask us.', delaySeconds: 8 },
    });
    expect(saved.status).toBe(200);
    expect(saved.body.presentation.translations).toEqual({
      fr: { greeting: 'Bonjour !', suggestedPrompts: ['Horaires ?'], proactiveGreeting: 'Une question ?' },
      'pt-BR': { placeholder: 'Pergunte' },
    });
    const { widget } = await mint();
    expect(widget.translations?.fr?.greeting).toBe('Bonjour !');
    expect(widget.proactiveGreeting).toEqual({ text: 'Questions? Ask us.', delaySeconds: 8 });
  });

  it('refuses unknown tags, fields and out-of-range delays', async () => {
    for (const [presentation, field] of [
      [{ translations: { 'not a tag': { greeting: 'x' } } }, 'presentation.translations.not a tag'],
      [{ translations: { fr: { systemPrompt: 'x' } } }, 'presentation.translations.fr.systemPrompt'],
      [{ translations: { fr: { suggestedPrompts: Array(9).fill('x') } } }, 'presentation.translations.fr.suggestedPrompts'],
      [{ proactiveGreeting: { text: '' } }, 'presentation.proactiveGreeting.text'],
      [{ proactiveGreeting: { text: 'Hi', delaySeconds: 601 } }, 'presentation.proactiveGreeting.delaySeconds'],
      [{ proactiveGreeting: { text: 'Hi', sound: true } }, 'presentation.proactiveGreeting.sound'],
    ] as const) {
      const refused = await patch(presentation);
      expect(refused.status, JSON.stringify(presentation)).toBe(400);
      expect(refused.body.error.message).toContain(`"${field}`);
    }
  });
});
