// The signing key operations, written once for SQLite and PostgreSQL.
import type { SealedSecret } from '../vault/vault.js';
import type { SigningKeyRecord } from './signing-key-store.js';
import { iso, json, statement, type Operation } from './sql.js';

export function* listSigningKeys(): Operation<SigningKeyRecord[]> {
  const rows = yield* statement('SELECT * FROM signing_keys ORDER BY created_at, kid');
  return rows.map((row) => ({
    kid: String(row.kid),
    publicJwk: json<Record<string, unknown>>(row.public_jwk),
    sealedPrivateKey: json<SealedSecret>(row.sealed_private_key),
    createdAt: iso(row.created_at),
  }));
}

export function* addSigningKey(record: SigningKeyRecord): Operation<void> {
  yield* statement('INSERT INTO signing_keys (kid, public_jwk, sealed_private_key, created_at) VALUES (@kid, @publicJwk, @sealedPrivateKey, @createdAt)', {
    kid: record.kid,
    publicJwk: JSON.stringify(record.publicJwk),
    sealedPrivateKey: JSON.stringify(record.sealedPrivateKey),
    createdAt: record.createdAt,
  });
}

export function* deleteSigningKey(kid: string): Operation<void> {
  yield* statement('DELETE FROM signing_keys WHERE kid = @kid', { kid });
}
