// The account operations, written once for SQLite and PostgreSQL.
import { AirlockError } from '../errors.js';
import type { AccountRecord, SharedKeyGrant } from './account-store.js';
import { iso, statement, type Operation, type Row } from './sql.js';

function accountFromRow(row: Row): AccountRecord {
  return { id: String(row.id), name: String(row.name), sharedKey: row.shared_key as SharedKeyGrant, createdAt: iso(row.created_at) };
}

export function* createAccount(input: { id: string; name: string }, now: string): Operation<AccountRecord> {
  const account: AccountRecord = { id: input.id, name: input.name, sharedKey: 'none', createdAt: now };
  const inserted = yield* statement('INSERT INTO accounts (id, name, created_at) VALUES (@id, @name, @createdAt) ON CONFLICT (id) DO NOTHING RETURNING id', {
    id: account.id,
    name: account.name,
    createdAt: account.createdAt,
  });
  if (inserted.length === 0) throw new AirlockError('conflict', 'An account with this id already exists.');
  return account;
}

export function* getAccount(id: string): Operation<AccountRecord | undefined> {
  const [row] = yield* statement('SELECT * FROM accounts WHERE id = @id', { id });
  return row && accountFromRow(row);
}

export function* listAccounts(): Operation<AccountRecord[]> {
  return (yield* statement('SELECT * FROM accounts ORDER BY created_at, id')).map(accountFromRow);
}

export function* setSharedKeyGrant(accountId: string, grant: SharedKeyGrant): Operation<AccountRecord> {
  const [row] = yield* statement('UPDATE accounts SET shared_key = @grant WHERE id = @accountId RETURNING *', { accountId, grant });
  if (!row) throw new AirlockError('not_found', 'There is no such account.');
  return accountFromRow(row);
}
