import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSigningKey } from '../src/tokens/signing-keys.js';
import { Vault } from '../src/vault/vault.js';
import { createKeyring } from '../src/vault/key-encryption.js';
import { randomBytes } from 'node:crypto';
import { chatRequest, errorCode, startHarness, type Harness } from './harness.js';

// Verified tokens are remembered per instance; these prove a remembered token
// still expires, still obeys revocation, and stops when its key is retired.
let clock = Date.now();
const masterKeys = `t1:${randomBytes(32).toString('base64')}`;
let harness: Harness;
beforeAll(async () => {
  harness = await startHarness({ now: () => new Date(clock), masterKeys, signingKeyRefreshSeconds: 1 });
});
afterAll(async () => {
  await harness.close();
});

const ask = (token: string) => chatRequest(harness.url, token, { messages: [{ role: 'user', content: 'hi' }] });

describe('the verified-token cache', () => {
  it('still refuses a remembered token once it has expired', async () => {
    const token = await harness.mint();
    expect((await ask(token)).status).toBe(200);
    clock += 11 * 60_000 + 61_000;
    const response = await ask(token);
    expect(response.status).toBe(401);
    expect(await errorCode(response)).toBe('token_expired');
  });

  it('still refuses a remembered token after revoke-tokens', async () => {
    const token = await harness.mint();
    expect((await ask(token)).status).toBe(200);
    await harness.airlock.revokeTokens(harness.widget.id);
    expect((await ask(token)).status).toBe(401);
  });

  it('refuses a remembered token once its signing key is retired', async () => {
    const token = await harness.mint();
    expect((await ask(token)).status).toBe(200);
    const store = harness.airlock.store;
    const [old] = await store.listSigningKeys();
    await store.addSigningKey(await createSigningKey(new Vault(createKeyring(masterKeys)), () => new Date(clock + 1)));
    await store.deleteSigningKey(old!.kid);
    clock += 2_000;
    const response = await ask(token);
    expect(response.status).toBe(401);
    expect(await errorCode(response)).toBe('token_invalid');
  });
});
