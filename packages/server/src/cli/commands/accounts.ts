import { act, CliCommand, printJson, required, runCommand, UsageError, withStore, type Outcome } from '../shared.js';

/**
 * `airlock accounts create|list|access-token|shared-key`.
 *
 * @example
 * ```ts
 * program.addCommand(accountsCommand(outcome));
 * ```
 */
export function accountsCommand(outcome: Outcome): CliCommand {
  const accounts = new CliCommand('accounts').description('create and list accounts; give their owners access tokens');

  accounts
    .command('create')
    .description('create an account and print its id')
    .option('--name <name>', 'the account name (required)')
    .option('--id <id>', 'the account id: letters, digits, "_" or "-" (default: generated)')
    .option('--json', 'print the account as JSON')
    .action(
      act(outcome, (flags: { name?: string; id?: string; json?: boolean }) =>
        withStore(async (store) => {
          const { createAccount } = await import('../../keys/account-keys.js');
          const account = await createAccount(store, { id: flags.id, name: required(flags.name, '--name') });
          if (flags.json) printJson(account);
          else console.log(account.id);
          return 0;
        }),
      ),
    );

  accounts
    .command('list')
    .description('list accounts: id, name, created at (tab-separated)')
    .option('--json', 'print the accounts as a JSON array')
    .action(
      act(outcome, (flags: { json?: boolean }) =>
        withStore(async (store) => {
          const all = await store.listAccounts();
          if (flags.json) printJson(all);
          else for (const account of all) console.log(`${account.id}\t${account.name}\t${account.createdAt}`);
          return 0;
        }),
      ),
    );

  accounts
    .command('access-token')
    .description("print a new access token with which the account's owner signs in to the admin page and API, seeing only that account; shown only once")
    .option('--account <id>', 'the account (required)')
    .option('--label <text>', 'who the token is for, shown in the list of tokens')
    .option('--json', 'print the token and its record as JSON')
    .action(
      act(outcome, (flags: { account?: string; label?: string; json?: boolean }) =>
        withStore(async (store) => {
          // Printed once on standard output and never stored: only its hash is kept.
          const { createAccessToken } = await import('../../admin/session.js');
          const { token, record } = await createAccessToken(store, { accountId: required(flags.account, '--account'), label: flags.label });
          if (flags.json) {
            printJson({ token, ...record });
            return 0;
          }
          process.stderr.write(`airlock: access token ${record.id} for account ${record.accountId}; it is shown only now.\n`);
          console.log(token);
          return 0;
        }),
      ),
    );

  accounts
    .command('shared-key')
    .description(
      "show or set whether the account's widgets may use the operator's shared OpenAI key: none (new accounts), listed-models (the models in AIRLOCK_SHARED_KEY_MODELS) or any-model",
    )
    .option('--account <id>', 'the account (required)')
    .option('--grant <grant>', 'none, listed-models or any-model (default: show the current grant)')
    .option('--json', 'print the account as JSON')
    .action(
      act(outcome, (flags: { account?: string; grant?: string; json?: boolean }) =>
        withStore(async (store) => {
          const accountId = required(flags.account, '--account');
          const grant = flags.grant;
          if (grant !== undefined && grant !== 'none' && grant !== 'listed-models' && grant !== 'any-model') {
            throw new UsageError('--grant must be none, listed-models or any-model.');
          }
          const current = await store.getAccount(accountId);
          if (!current) throw new UsageError(`there is no account "${accountId}".`);
          const account = grant === undefined ? current : await store.setSharedKeyGrant(accountId, grant);
          if (flags.json) printJson(account);
          else console.log(`${account.id}\tshared key ${account.sharedKey}`);
          return 0;
        }),
      ),
    );

  return accounts;
}

/** Runs `airlock accounts …` in this process; answers the exit code. */
export function runAccounts(args: string[]): Promise<number> {
  return runCommand(accountsCommand, args);
}
