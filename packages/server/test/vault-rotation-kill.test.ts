// Master-key rotation killed with SIGKILL at random points, then run again:
// every key must still decrypt. Uses the built CLI, as operators run it (the
// test command builds before testing).
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import type { SealedRecord } from '../src/stores/store.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { openAiKeyBinding } from '../src/keys/account-keys.js';
import { SqliteStore } from '../src/stores/sqlite-store.js';
import { SigningKeys } from '../src/tokens/signing-keys.js';
import { createKeyring } from '../src/vault/key-encryption.js';
import { Vault } from '../src/vault/vault.js';

const cli = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'airlock-rotate-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const v1 = `v1:${randomBytes(32).toString('base64')}`;
const v2 = `v2:${randomBytes(32).toString('base64')}`;
const records = 3000;

function runRotation(
  databasePath: string,
  killAfterMs?: number,
): Promise<{ code: number | null; signal: string | null; ms: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, [cli, 'vault', 'rotate-master'], {
      env: { ...process.env, AIRLOCK_DATABASE_URL: `sqlite:${databasePath}`, AIRLOCK_MASTER_KEYS: `${v2},${v1}` },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk));
    const timer = killAfterMs === undefined ? undefined : setTimeout(() => child.kill('SIGKILL'), killAfterMs);
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, ms: performance.now() - started, stdout, stderr });
    });
  });
}

async function versions(path: string): Promise<Map<string, number>> {
  const store = new SqliteStore({ path });
  try {
    const counts = new Map<string, number>();
    for (const record of await store.listSealedRecords()) counts.set(record.sealed.kekVersion, (counts.get(record.sealed.kekVersion) ?? 0) + 1);
    return counts;
  } finally {
    await store.close();
  }
}

describe('airlock vault rotate-master under kill -9', () => {
  it('leaves every key decryptable when killed at random points and run again', async () => {
    const path = join(dir, 'airlock.db');
    const secrets = new Map<string, { ownerId: string; apiKey: string }>();
    const oldVault = new Vault(createKeyring(v1));
    const store = new SqliteStore({ path });
    await store.migrate();
    await SigningKeys.load(store, oldVault);
    for (let index = 0; index < records; index += 1) {
      const id = `oak_${index}`;
      const ownerId = `acct_${index}`;
      const apiKey = `sk-rotate-${randomBytes(16).toString('hex')}`;
      const sealed = await oldVault.seal(Buffer.from(apiKey), openAiKeyBinding(ownerId, id));
      await store.putOpenAiKey({ id, ownerId, fingerprint: 'sk-…test', sealed });
      secrets.set(id, { ownerId, apiKey });
    }
    await store.close();

    // The pristine database, every secret wrapped by v1; each round starts from it.
    const pristine = join(dir, 'pristine.db');
    copyFileSync(path, pristine);
    const restore = () => {
      rmSync(`${path}-wal`, { force: true });
      rmSync(`${path}-shm`, { force: true });
      copyFileSync(pristine, path);
    };

    // How long an uninterrupted rotation takes.
    const full = await runRotation(path);
    expect(full.code, full.stderr).toBe(0);
    const again = await runRotation(path);
    expect(again.stdout).toContain(`re-wrapped 0 of ${records + 1}`);

    const newVault = new Vault(createKeyring(v2));
    let partial = 0;
    const log: string[] = [];
    // The kill window adapts to the machine's load: a kill before any progress
    // moves it later, a run that finished first moves it earlier. On a busy
    // machine most of a run is the process starting, so the window where a kill
    // lands mid-rotation is narrow: the rounds stop at three such kills, and
    // there are enough of them to find it (a CI run once needed more than 8).
    let low = full.ms * 0.2;
    let high = full.ms * 1.1;
    for (let round = 0; round < 16 && partial < 3; round += 1) {
      restore();
      // Up to two kills at random points (the second on the half-rotated state), then a run to the end.
      for (let kill = 0; kill < 2; kill += 1) {
        const delay = low + Math.random() * (high - low);
        const result = await runRotation(path, delay);
        const counts = await versions(path);
        const rotated = counts.get('v2') ?? 0;
        log.push(`${delay.toFixed(0)}ms→${result.signal ?? result.code} v2=${rotated}`);
        if (result.signal !== 'SIGKILL' || rotated === records + 1) {
          high = Math.max(low + 50, delay);
          break;
        }
        if (rotated === 0) {
          low = Math.min(high - 50, delay);
          break;
        }
        partial += 1;
      }
      const rerun = await runRotation(path);
      expect(rerun.code, rerun.stderr).toBe(0);
      expect(await versions(path)).toEqual(new Map([['v2', records + 1]]));

      // Only the new master key from here on: every key opens, none is lost.
      const reopened = new SqliteStore({ path });
      try {
        const sealedRecords = (await reopened.listSealedRecords()).filter((record: SealedRecord) => record.kind === 'openai-key');
        expect(sealedRecords).toHaveLength(records);
        for (const record of sealedRecords) {
          const expected = secrets.get(record.id)!;
          const opened = await newVault.open(record.sealed, openAiKeyBinding(expected.ownerId, record.id));
          expect(opened.toString('utf8')).toBe(expected.apiKey);
        }
        await expect(SigningKeys.load(reopened, newVault)).resolves.toBeDefined();
      } finally {
        await reopened.close();
      }
    }
    console.log(`full rotation of ${records + 1} secrets: ${full.ms.toFixed(0)} ms; kills: ${log.join(', ')}`);
    // Kills really landed half-way through a rotation.
    expect(partial).toBeGreaterThanOrEqual(3);
  }, 120_000);
});
