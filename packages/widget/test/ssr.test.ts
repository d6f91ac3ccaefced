// A plain Node environment: no window, no document, as during server-side rendering.
import { describe, expect, it } from 'vitest';

describe('importing @airlock/widget on a server', () => {
  it('does not throw and touches no browser global', async () => {
    expect(typeof window).toBe('undefined');
    expect(typeof document).toBe('undefined');
    const module = await import('../src/index');
    expect(typeof module.createWidget).toBe('function');
    expect(module.stringsFor('ja').send).toBe('送信');
    expect(module.SUPPORTED_LOCALES.length).toBeGreaterThanOrEqual(13);
  });
});
