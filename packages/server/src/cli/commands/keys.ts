import { parseArgs } from 'node:util';
import { AccountKeys, type KeyDetails, type SavedKey } from '../../keys/account-keys.js';
import { SHARED_KEY_OWNER } from '../../stores/store.js';
import { openStoreFromEnvironment, openVaultFromEnvironment, UsageError } from '../shared.js';

/**
 * `airlock keys set|show|revoke (--account ID | --shared)`. `set` reads the
 * key from standard input, never from the arguments: arguments end up in
 * shell history and in every process listing.
 */
export async function runKeys(args: string[]): Promise<number> {
  const [action, ...rest] = args;
  if (action !== 'set' && action !== 'show' && action !== 'revoke') {
    throw new UsageError(`unknown keys action "${action ?? ''}"; use set, show or revoke.`);
  }
  let values;
  try {
    ({ values } = parseArgs({
      args: rest,
      options: {
        account: { type: 'string' },
        shared: { type: 'boolean', default: false },
        'no-validate': { type: 'boolean', default: false },
        force: { type: 'boolean', default: false },
        dev: { type: 'boolean', default: false },
      },
    }));
  } catch {
    // parseArgs quotes the offending argument, which may be a key pasted by mistake.
    throw new UsageError('unexpected arguments. The key is read from standard input, never from arguments; see airlock --help.');
  }
  if (Boolean(values.account) === values.shared) throw new UsageError('give exactly one of --account ID or --shared.');
  const ownerId = values.shared ? SHARED_KEY_OWNER : values.account!;
  const label = values.shared ? 'the shared key' : `account ${ownerId}`;

  const vault = openVaultFromEnvironment({ dev: values.dev });
  const apiKey = action === 'set' ? await readKeyFromStdin() : undefined;
  const store = openStoreFromEnvironment();
  try {
    await store.migrate();
    const accountKeys = new AccountKeys({ store, vault, baseURL: process.env.OPENAI_BASE_URL || undefined });
    if (action === 'set') {
      const saved = await accountKeys.save(ownerId, apiKey, { validate: !values['no-validate'] });
      printSaved(label, saved);
      return 0;
    }
    if (action === 'show') {
      const key = await accountKeys.show(ownerId);
      if (!key) {
        console.log(`No key saved for ${label}.${values.shared && process.env.OPENAI_API_KEY ? ' The shared key comes from OPENAI_API_KEY.' : ''}`);
        return 0;
      }
      printDetails(key);
      return 0;
    }
    const result = await accountKeys.revoke(ownerId, { force: values.force });
    if (result.outcome === 'in-use') {
      process.stderr.write(`airlock: the key of ${label} is in use by ${result.widgets.length} widget(s):\n`);
      for (const widget of result.widgets) process.stderr.write(`  ${widget.id}\t${widget.name}\n`);
      process.stderr.write('Move them to another key first, or revoke with --force (they then fail until a new key is saved).\n');
      return 1;
    }
    console.log(`Revoked ${result.key.fingerprint} of ${label}; its ciphertext is destroyed.`);
    if (result.key.widgets.length > 0) {
      console.log(`These widgets now fail with upstream_key_invalid until a new key is saved: ${result.key.widgets.map((widget) => widget.name).join(', ')}`);
    }
    return 0;
  } finally {
    await store.close();
  }
}

function printSaved(label: string, saved: SavedKey): void {
  console.log(`Saved ${saved.fingerprint} for ${label} (${saved.status}, ${saved.savedAt}). It cannot be shown again.`);
}

function printDetails(key: KeyDetails): void {
  console.log(`fingerprint\t${key.fingerprint}`);
  console.log(`status\t${key.status}`);
  console.log(`saved at\t${key.savedAt}`);
  console.log(`last used at\t${key.lastUsedAt ?? 'never'}`);
  console.log(`last upstream error\t${key.lastErrorCode ?? 'none'}`);
  if (key.revokedAt) console.log(`revoked at\t${key.revokedAt}`);
  console.log(`widgets\t${key.widgets.length === 0 ? 'none' : key.widgets.map((widget) => `${widget.name} (${widget.id})`).join(', ')}`);
}

/**
 * The key from standard input: the first line of piped input, or, on a
 * terminal, a line typed without echo.
 */
async function readKeyFromStdin(): Promise<string> {
  const stdin = process.stdin;
  if (stdin.isTTY) {
    process.stderr.write('Paste the API key and press Enter (it is not shown): ');
    stdin.setRawMode(true);
    stdin.resume();
    let typed = '';
    try {
      for await (const chunk of stdin) {
        for (const character of String(chunk)) {
          if (character === '\r' || character === '\n') return typed;
          if (character === '\u0003') throw new UsageError('cancelled.');
          typed = character === '\u007f' || character === '\b' ? typed.slice(0, -1) : typed + character;
        }
      }
      return typed;
    } finally {
      stdin.setRawMode(false);
      stdin.pause();
      process.stderr.write('\n');
    }
  }
  const chunks: Buffer[] = [];
  for await (const chunk of stdin) chunks.push(Buffer.from(chunk as Buffer));
  const line = Buffer.concat(chunks).toString('utf8').split(/\r?\n/).find((part) => part.trim() !== '');
  if (!line) throw new UsageError('no key on standard input; pipe it in, for example: airlock keys set --account acme < key.txt');
  return line.trim();
}
