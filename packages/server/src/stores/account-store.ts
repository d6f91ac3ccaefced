/**
 * An account: owns widgets and, optionally, its own OpenAI key.
 *
 * @example
 * ```ts
 * const account = await store.createAccount({ id: 'acme', name: 'Acme Ltd' });
 * ```
 */
export interface AccountRecord {
  id: string;
  name: string;
  /**
   * Whether the account's widgets may use the operator's shared key: only
   * the operator sets it. New accounts: `'none'`; the `default` account
   * (the operator's own): `'any-model'`.
   */
  sharedKey: SharedKeyGrant;
  createdAt: string;
}

/**
 * The operator's grant of the shared key to one account:
 * - `none`: its widgets may not use the shared key (the default for new accounts);
 * - `listed-models`: they may, with the models the operator allows on it (`AirlockOptions.sharedKey.models`);
 * - `any-model`: they may, with any model (the `default` account, the operator's own).
 * Generations on the shared key count against the account's allowance either way.
 *
 * @example
 * ```ts
 * await store.setSharedKeyGrant('acme', 'listed-models');
 * ```
 */
export type SharedKeyGrant = 'none' | 'listed-models' | 'any-model';

/**
 * Accounts and the operator's grants of the shared key to them.
 *
 * @example
 * ```ts
 * const account = await store.createAccount({ id: 'acme', name: 'Acme Ltd' });
 * ```
 */
export interface AccountStore {
  /** Creates an account; throws `conflict` when the id is taken. */
  createAccount(input: { id: string; name: string }): Promise<AccountRecord>;
  getAccount(id: string): Promise<AccountRecord | undefined>;
  listAccounts(): Promise<AccountRecord[]>;
  /** Sets an account's grant of the shared key; throws `not_found` when there is no such account. */
  setSharedKeyGrant(accountId: string, grant: SharedKeyGrant): Promise<AccountRecord>;
}
