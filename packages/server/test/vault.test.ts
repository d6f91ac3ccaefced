import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { AccountKeys, openAiKeyBinding } from '../src/keys/account-keys.js';
import { KeyResolver } from '../src/keys/key-resolver.js';
import { createLogger } from '../src/logging/logger.js';
import { SqliteStore } from '../src/stores/sqlite-store.js';
import { SigningKeys } from '../src/tokens/signing-keys.js';
import { createKeyring } from '../src/vault/key-encryption.js';
import { rotateMasterKey } from '../src/vault/rotate-master.js';
import { Vault, type SealedSecret } from '../src/vault/vault.js';

const dir = mkdtempSync(join(tmpdir(), 'airlock-vault-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const keyringSpec = (version: string) => `${version}:${randomBytes(32).toString('base64')}`;
const binding = { accountId: 'acme', recordId: 'oak_1', purpose: 'openai-key' };

function flipBit(base64: string, byte: number): string {
  const bytes = Buffer.from(base64, 'base64');
  bytes[byte] = bytes[byte]! ^ 0x01;
  return bytes.toString('base64');
}

describe('vault', () => {
  it('round-trips a secret and detects a flipped bit anywhere', async () => {
    const vault = new Vault(createKeyring(keyringSpec('v1')));
    const sealed = await vault.seal(Buffer.from('sk-canary-flip'), binding);
    expect((await vault.open(sealed, binding)).toString()).toBe('sk-canary-flip');
    const length = Buffer.from(sealed.ciphertext, 'base64').length;
    // Nonce, body and tag of the secret; and the wrapped data key.
    for (const byte of [0, 11, 12, length - 17, length - 1]) {
      await expect(vault.open({ ...sealed, ciphertext: flipBit(sealed.ciphertext, byte) }, binding)).rejects.toThrow(/integrity check/);
    }
    await expect(vault.open({ ...sealed, wrappedKey: flipBit(sealed.wrappedKey, 20) }, binding)).rejects.toThrow(/integrity check/);
  });

  it('binds a ciphertext to its account, record, purpose and format', async () => {
    const vault = new Vault(createKeyring(keyringSpec('v1')));
    const sealed = await vault.seal(Buffer.from('sk-canary-bound'), binding);
    for (const other of [
      { ...binding, accountId: 'mallory' },
      { ...binding, recordId: 'oak_2' },
      { ...binding, purpose: 'token-signing-key' },
    ]) {
      await expect(vault.open(sealed, other)).rejects.toThrow(/integrity check/);
    }
    await expect(vault.open({ ...sealed, format: 2 }, binding)).rejects.toThrow(/integrity check/);
  });

  it('names a master key version missing from the keyring, and refuses a wrong key under a known version', async () => {
    const sealed = await new Vault(createKeyring(keyringSpec('v1'))).seal(Buffer.from('sk-canary-version'), binding);
    const withoutV1 = new Vault(createKeyring(keyringSpec('v2')));
    await expect(withoutV1.open(sealed, binding)).rejects.toThrow('This secret was wrapped by master key version "v1", which is not in the keyring.');
    const wrongV1 = new Vault(createKeyring(`${keyringSpec('v2')},${keyringSpec('v1')}`));
    await expect(wrongV1.open(sealed, binding)).rejects.toThrow(/integrity check/);
  });

  it('refuses malformed keyrings without echoing key material', () => {
    expect(() => createKeyring('v1:c2hvcnQ=')).toThrow('Master key version "v1" is not 32 bytes of base64.');
    expect(() => createKeyring('')).toThrow(/empty/);
    const key = randomBytes(32).toString('base64');
    expect(() => createKeyring(`${key}`)).toThrow(/look like/);
    try {
      createKeyring(`bad version:${key}`);
    } catch (error) {
      expect((error as Error).message).not.toContain(key);
    }
  });
});

describe('stored keys in the database', () => {
  it('do not decrypt when copied to another account\u2019s row', async () => {
    const path = join(dir, 'copy.db');
    const store = new SqliteStore({ path });
    await store.migrate();
    const vault = new Vault(createKeyring(keyringSpec('v1')));
    const accountKeys = new AccountKeys({ store, vault });
    await store.createAccount({ id: 'acme', name: 'Acme' });
    await store.createAccount({ id: 'mallory', name: 'Mallory' });
    await accountKeys.save('acme', 'sk-canary-acme-0000', { validate: false });
    await accountKeys.save('mallory', 'sk-canary-mallory-1111', { validate: false });

    // An attacker with write access to the file copies acme's ciphertext into their own row.
    const database = new Database(path);
    database
      .prepare(
        `UPDATE openai_keys SET sealed = (SELECT sealed FROM openai_keys WHERE owner_id = 'acme' AND status = 'active') WHERE owner_id = 'mallory' AND status = 'active'`,
      )
      .run();
    database.close();

    const mallory = (await store.getOpenAiKey('mallory'))!;
    await expect(vault.open(mallory.sealed!, openAiKeyBinding('mallory', mallory.id))).rejects.toThrow(/integrity check/);
    const logs: string[] = [];
    const resolver = new KeyResolver({ store, vault, logger: createLogger({ write: (line) => logs.push(line) }) });
    const widget = await store.createWidget({
      accountId: 'mallory',
      name: 'w',
      type: 'chat',
      allowedOrigins: ['https://example.com'],
      presentation: { title: 'w', theme: 'auto' },
      behaviour: { model: 'gpt-4o-mini' },
    });
    const failure = await resolver.apiKeyFor(widget, (await store.getWidgetForCall(widget.id))!.keys).then(
      () => undefined,
      (error: Error) => error,
    );
    expect(failure).toMatchObject({ code: 'internal', message: 'Something went wrong on the server.' });
    expect(logs.join('\n')).toContain('integrity check');
    expect(logs.join('\n')).not.toContain('canary');
    await store.close();
  });

  it('fail with a generic answer, and a log line naming the missing master key version, when the keyring lacks it', async () => {
    const store = new SqliteStore({ path: join(dir, 'missing-version.db') });
    await store.migrate();
    await new AccountKeys({ store, vault: new Vault(createKeyring(keyringSpec('old1'))) }).save('default', 'sk-canary-version-3333', { validate: false });
    const logs: string[] = [];
    const resolver = new KeyResolver({
      store,
      vault: new Vault(createKeyring(keyringSpec('new2'))),
      logger: createLogger({ write: (line) => logs.push(line) }),
    });
    const widget = await store.createWidget({
      name: 'w',
      type: 'chat',
      allowedOrigins: ['https://example.com'],
      presentation: { title: 'w', theme: 'auto' },
      behaviour: { model: 'gpt-4o-mini' },
    });
    await expect(resolver.apiKeyFor(widget, (await store.getWidgetForCall(widget.id))!.keys)).rejects.toMatchObject({
      code: 'internal',
      message: 'Something went wrong on the server.',
    });
    expect(logs.join('\n')).toContain('master key version \\"old1\\", which is not in the keyring');
    expect(logs.join('\n')).not.toContain('canary');
    await store.close();
  });

  it('re-wrap under the primary version; a missing old version stops rotation with a clear message', async () => {
    const path = join(dir, 'rotate.db');
    const store = new SqliteStore({ path });
    await store.migrate();
    const v1 = keyringSpec('v1');
    const v2 = keyringSpec('v2');
    const oldVault = new Vault(createKeyring(v1));
    await SigningKeys.load(store, oldVault);
    const accountKeys = new AccountKeys({ store, vault: oldVault });
    await accountKeys.save('default', 'sk-canary-rotate-2222', { validate: false });

    await expect(rotateMasterKey(store, new Vault(createKeyring(v2)))).rejects.toThrow('master key version "v1", which is not in the keyring');
    const both = new Vault(createKeyring(`${v2},${v1}`));
    expect(await rotateMasterKey(store, both)).toEqual({ total: 2, rewrapped: 2, alreadyCurrent: 0, changedMeanwhile: 0 });
    expect(await rotateMasterKey(store, both)).toEqual({ total: 2, rewrapped: 0, alreadyCurrent: 2, changedMeanwhile: 0 });

    const onlyV2 = new Vault(createKeyring(v2));
    const record = (await store.getOpenAiKey('default'))!;
    expect(record.sealed?.kekVersion).toBe('v2');
    expect((await onlyV2.open(record.sealed as SealedSecret, openAiKeyBinding('default', record.id))).toString()).toBe('sk-canary-rotate-2222');
    await expect(SigningKeys.load(store, onlyV2)).resolves.toBeDefined();
    await store.close();
  });
});
