import { parseArgs } from 'node:util';
import { createAccessToken } from '../../admin/session.js';
import { createAccount } from '../../keys/account-keys.js';
import { openStoreFromEnvironment, UsageError } from '../shared.js';

/** `airlock accounts create --name NAME [--id ID]`, `airlock accounts list`, `airlock accounts access-token --account ID [--label TEXT]` */
export async function runAccounts(args: string[]): Promise<number> {
  const [action, ...rest] = args;
  if (action !== 'create' && action !== 'list' && action !== 'access-token') {
    throw new UsageError(`unknown accounts action "${action ?? ''}"; use create, list or access-token.`);
  }
  const { values } = parseArgs({
    args: rest,
    options: { name: { type: 'string' }, id: { type: 'string' }, account: { type: 'string' }, label: { type: 'string' } },
  });
  const store = openStoreFromEnvironment();
  try {
    await store.migrate();
    if (action === 'list') {
      for (const account of await store.listAccounts()) console.log(`${account.id}\t${account.name}\t${account.createdAt}`);
      return 0;
    }
    if (action === 'access-token') {
      // Printed once on standard output and never stored: only its hash is kept.
      if (!values.account) throw new UsageError('--account is required.');
      const { token, record } = await createAccessToken(store, { accountId: values.account, label: values.label });
      process.stderr.write(`airlock: access token ${record.id} for account ${record.accountId}; it is shown only now.\n`);
      console.log(token);
      return 0;
    }
    if (!values.name) throw new UsageError('--name is required.');
    const account = await createAccount(store, { id: values.id, name: values.name });
    console.log(account.id);
    return 0;
  } finally {
    await store.close();
  }
}
