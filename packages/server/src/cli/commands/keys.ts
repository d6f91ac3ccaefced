import type { AccountKeys, KeyDetails, SavedKey } from '../../keys/account-keys.js';
import { SHARED_KEY_OWNER } from '../../stores/store.js';
import { act, CliCommand, openVaultFromEnvironment, printJson, runCommand, UsageError, wholeNumberFlag, withStore, type Outcome } from '../shared.js';

interface KeyFlags {
  account?: string;
  shared?: boolean;
  validate?: boolean;
  force?: boolean;
  dev?: boolean;
  json?: boolean;
}

/** The owner a key command acts on: exactly one of `--account` and `--shared`. */
function ownerOf(flags: KeyFlags): { ownerId: string; label: string } {
  if (Boolean(flags.account) === Boolean(flags.shared)) throw new UsageError('give exactly one of --account ID or --shared.');
  return flags.shared ? { ownerId: SHARED_KEY_OWNER, label: 'the shared key' } : { ownerId: flags.account!, label: `account ${flags.account}` };
}

function ownerFlags(command: CliCommand): CliCommand {
  return command
    .option('--account <id>', 'the account whose own key this is')
    .option('--shared', "the operator's shared key instead")
    .option('--dev', 'use the development master key in .airlock/ when AIRLOCK_MASTER_KEYS is not set');
}

/**
 * Runs `run` with the keys of the store and vault the environment names.
 * `beforeStore` runs once the vault is known to open, before the store is.
 */
async function withAccountKeys<T>(
  flags: KeyFlags,
  run: (accountKeys: AccountKeys, prepared: T) => Promise<number>,
  beforeStore: () => Promise<T> = async () => undefined as T,
): Promise<number> {
  const vault = await openVaultFromEnvironment({ dev: flags.dev });
  const prepared = await beforeStore();
  const { AccountKeys } = await import('../../keys/account-keys.js');
  const reminder = process.env.AIRLOCK_KEY_ROTATION_REMINDER_DAYS;
  const rotationReminderDays = reminder === undefined || reminder === '' ? undefined : wholeNumberFlag(reminder, 'AIRLOCK_KEY_ROTATION_REMINDER_DAYS', 0);
  return withStore((store) => run(new AccountKeys({ store, vault, baseURL: process.env.OPENAI_BASE_URL || undefined, rotationReminderDays }), prepared));
}

/**
 * `airlock keys set|show|revoke (--account ID | --shared)`. `set` reads the
 * key from standard input, never from the arguments: arguments end up in
 * shell history and in every process listing.
 *
 * @example
 * ```ts
 * program.addCommand(keysCommand(outcome));
 * ```
 */
export function keysCommand(outcome: Outcome): CliCommand {
  const keys = new CliCommand('keys').description("save, show and revoke OpenAI keys (an account's own, or the shared key)");
  keys.usageNote = 'The key is read from standard input, never from arguments';

  ownerFlags(keys.command('set'))
    .description('save an OpenAI key read from standard input, after checking it with the upstream; replaces the current key')
    .option('--no-validate', 'save it without checking it with the upstream')
    .option('--json', 'print the saved key (fingerprint, status, date) as JSON')
    .action(
      act(outcome, async (flags: KeyFlags) => {
        const { ownerId, label } = ownerOf(flags);
        return withAccountKeys(
          flags,
          async (accountKeys, apiKey) => {
            const saved = await accountKeys.save(ownerId, apiKey, { validate: flags.validate !== false });
            if (flags.json) printJson(saved);
            else printSaved(label, saved);
            return 0;
          },
          // Asked for once the master key is known to work, so nobody pastes a key for nothing.
          readKeyFromStdin,
        );
      }),
    );

  ownerFlags(keys.command('show'))
    .description('show a key: fingerprint, status, dates, last upstream error, widgets using it')
    .option('--json', 'print the details as JSON (null when no key is saved)')
    .action(
      act(outcome, (flags: KeyFlags) => {
        const { ownerId, label } = ownerOf(flags);
        return withAccountKeys(flags, async (accountKeys) => {
          const key = await accountKeys.show(ownerId);
          if (flags.json) {
            printJson(key ?? null);
            return 0;
          }
          if (!key) {
            console.log(`No key saved for ${label}.${flags.shared && process.env.OPENAI_API_KEY ? ' The shared key comes from OPENAI_API_KEY.' : ''}`);
            return 0;
          }
          printDetails(key);
          return 0;
        });
      }),
    );

  ownerFlags(keys.command('revoke'))
    .description('revoke and destroy a key; refused while widgets use it, unless --force')
    .option('--force', 'revoke even while widgets use it (they then fail until a new key is saved)')
    .action(
      act(outcome, (flags: KeyFlags) => {
        const { ownerId, label } = ownerOf(flags);
        return withAccountKeys(flags, async (accountKeys) => {
          const result = await accountKeys.revoke(ownerId, { force: flags.force });
          if (result.outcome === 'in-use') {
            process.stderr.write(`airlock: the key of ${label} is in use by ${result.widgets.length} widget(s):\n`);
            for (const widget of result.widgets) process.stderr.write(`  ${widget.id}\t${widget.name}\n`);
            process.stderr.write('Move them to another key first, or revoke with --force (they then fail until a new key is saved).\n');
            return 1;
          }
          console.log(`Revoked ${result.key.fingerprint} of ${label}; its ciphertext is destroyed.`);
          if (result.key.widgets.length > 0) {
            console.log(
              `These widgets now fail with upstream_key_invalid until a new key is saved: ${result.key.widgets.map((widget) => widget.name).join(', ')}`,
            );
          }
          return 0;
        });
      }),
    );

  return keys;
}

/** Runs `airlock keys …` in this process; answers the exit code. */
export function runKeys(args: string[]): Promise<number> {
  return runCommand(keysCommand, args);
}

function printSaved(label: string, saved: SavedKey): void {
  console.log(`Saved ${saved.fingerprint} for ${label} (${saved.status}, ${saved.savedAt}). It cannot be shown again.`);
}

function printDetails(key: KeyDetails): void {
  console.log(`fingerprint\t${key.fingerprint}`);
  console.log(`status\t${key.status}`);
  console.log(`saved at\t${key.savedAt} (${key.ageDays} ${key.ageDays === 1 ? 'day' : 'days'} ago)`);
  if (key.rotationDue)
    console.log(`rotation\tdue: replace it with \`airlock keys set\` (the widgets using it keep working), then delete the old key at OpenAI`);
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
  const line = Buffer.concat(chunks)
    .toString('utf8')
    .split(/\r?\n/)
    .find((part) => part.trim() !== '');
  if (!line) throw new UsageError('no key on standard input; pipe it in, for example: airlock keys set --account acme < key.txt');
  return line.trim();
}
