import { Command, type CommanderError } from 'commander';
import { redact } from '../logging/logger.js';
import type { Store } from '../stores/store.js';
import type { Vault } from '../vault/vault.js';

/** A mistake in how the command was called; printed as one line, without a stack, exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** Help was asked for and printed: not a failure. */
class HelpShown extends Error {}

/**
 * The exit code an action chose. Commander does not hand an action's return
 * value back to the caller, so each command tree writes it here.
 */
export interface Outcome {
  code: number;
}

/**
 * A command of the `airlock` CLI. Subcommands made with `.command()` are of
 * this class too, and inherit the parent's {@link CliCommand.usageNote}.
 */
export class CliCommand extends Command {
  /** A sentence added to every usage error of this command and its subcommands. Default: none. */
  usageNote?: string;

  constructor(name?: string) {
    super(name);
    this.helpOption('-h, --help', 'show this help');
  }

  override createCommand(name?: string): CliCommand {
    return new CliCommand(name);
  }
}

/**
 * Wraps an action so that its exit code reaches {@link runCommand}.
 *
 * @example
 * ```ts
 * command.action(act(outcome, async (options) => (options.json ? 0 : 1)));
 * ```
 */
export function act<A extends unknown[]>(outcome: Outcome, handler: (...args: A) => Promise<number>): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      outcome.code = await handler(...args);
    } catch (error) {
      // Commander passes the running command last; a mistake found by the action says where help is too.
      const command = args.at(-1);
      if (error instanceof UsageError && command instanceof Command && !error.message.includes('--help')) {
        error.message = `${error.message.replace(/\.$/, '')}; see ${commandPath(command)} --help`;
      }
      throw error;
    }
  };
}

function commandPath(command: Command): string {
  const names: string[] = [];
  for (let current: Command | null = command; current; current = current.parent) names.unshift(current.name());
  return names.join(' ');
}

function usageNoteOf(command: Command): string | undefined {
  for (let current: Command | null = command; current; current = current.parent) {
    if (current instanceof CliCommand && current.usageNote) return current.usageNote;
  }
  return undefined;
}

/**
 * Makes commander report through exceptions rather than printing and exiting:
 * every usage mistake becomes one {@link UsageError} line that says which
 * command's `--help` to read.
 */
function takeOverErrors(command: Command): void {
  command.configureOutput({ outputError: () => {}, writeErr: () => {} });
  command.exitOverride((error: CommanderError) => {
    if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version') throw new HelpShown();
    const path = commandPath(command);
    if (error.code === 'commander.help') {
      // A command that only groups others was called on its own.
      const names = command.commands.map((sub) => sub.name()).filter((name) => name !== 'help');
      throw new UsageError(`"${path}" needs a command (${names.join(', ')}); see ${path} --help`);
    }
    // Commander quotes what it could not use, which may be a key pasted in the wrong place.
    const what = redact(
      error.message
        .replace(/^error: /, '')
        .replace(/\s*\n\s*/g, ' ')
        .replace(/\.$/, ''),
    );
    const note = usageNoteOf(command);
    throw new UsageError(`${what}${note ? `. ${note}` : ''}; see ${path} --help`);
  });
  for (const sub of command.commands) takeOverErrors(sub);
}

/**
 * Parses `args` (without the command's own name) against a command tree and
 * runs the chosen action; answers its exit code (0 after `--help`). Usage
 * mistakes throw {@link UsageError}; an action's own errors are thrown as they are.
 *
 * @example
 * ```ts
 * const code = await runCommand((outcome) => widgetsCommand(outcome), ['list', '--json']);
 * ```
 */
export async function runCommand(build: (outcome: Outcome) => Command, args: readonly string[]): Promise<number> {
  const outcome: Outcome = { code: 0 };
  const command = build(outcome);
  takeOverErrors(command);
  try {
    await command.parseAsync([...args], { from: 'user' });
  } catch (error) {
    if (error instanceof HelpShown) return 0;
    throw error;
  }
  return outcome.code;
}

/** Prints a value as one line of JSON on standard output, for `--json`. */
export function printJson(value: unknown): void {
  console.log(JSON.stringify(value));
}

/**
 * A progress line on standard error while a long command runs, rewritten in
 * place; nothing at all when standard error is not a terminal (piped or logged).
 *
 * @example
 * ```ts
 * const progress = progressLine();
 * progress.update('re-wrapped 3 secrets');
 * progress.done();
 * ```
 */
export function progressLine(stream: NodeJS.WriteStream = process.stderr): { update(text: string): void; done(): void } {
  if (!stream.isTTY) return { update: () => {}, done: () => {} };
  let shown = false;
  let last = 0;
  return {
    update(text) {
      // A redraw per record would cost more than the work on a fast store.
      const now = Date.now();
      if (shown && now - last < 50) return;
      last = now;
      shown = true;
      stream.write(`\r\u001b[2K${text}`);
    },
    done() {
      if (shown) stream.write('\r\u001b[2K');
      shown = false;
    },
  };
}

// The store, the vault and what commands do are loaded inside the actions, not
// at the top of each file: `--help` and usage mistakes then answer at once
// instead of loading the database drivers, the OpenAI SDK and the crypto first.

/** The store named by `AIRLOCK_DATABASE_URL` (default `sqlite:.airlock/airlock.db`), migrated. */
export async function openStoreFromEnvironment(): Promise<Store> {
  const { openStore } = await import('../stores/open-store.js');
  const store = openStore(process.env.AIRLOCK_DATABASE_URL ?? 'sqlite:.airlock/airlock.db');
  try {
    await store.migrate();
  } catch (error) {
    await store.close();
    throw error;
  }
  return store;
}

/** Runs `run` against the store named by the environment, closing it afterwards. */
export async function withStore(run: (store: Store) => Promise<number>): Promise<number> {
  const store = await openStoreFromEnvironment();
  try {
    return await run(store);
  } finally {
    await store.close();
  }
}

/**
 * The vault over `AIRLOCK_MASTER_KEYS`; with `dev`, over the development key
 * file `.airlock/master.key` (created when missing, as `airlock serve --dev` does).
 */
export async function openVaultFromEnvironment(options: { dev?: boolean } = {}): Promise<Vault> {
  const keyring = process.env.AIRLOCK_MASTER_KEYS;
  if (!keyring && !options.dev) {
    throw new UsageError('no master key: set AIRLOCK_MASTER_KEYS (for example "v1:<base64 of 32 random bytes>"), or pass --dev.');
  }
  const [{ createKeyring }, { Vault }] = await Promise.all([import('../vault/key-encryption.js'), import('../vault/vault.js')]);
  if (keyring) return new Vault(createKeyring(keyring));
  const { loadOrCreateDevMasterKey } = await import('../vault/master-key-file.js');
  const { keyring: devKeyring, created, path } = loadOrCreateDevMasterKey('.airlock');
  if (created) process.stderr.write(`airlock: created a development master key in ${path}; do not use it in production.\n`);
  return new Vault(createKeyring(devKeyring));
}

/** The value of a flag the command cannot do without (checked in the action, so an unknown flag is reported first). */
export function required<T>(value: T | undefined, flag: string): T {
  if (value === undefined) throw new UsageError(`${flag} is required.`);
  return value;
}

/** A whole number from a flag, or `undefined` when the flag is absent. */
export function wholeNumberFlag(value: string | undefined, flag: string, least = Number.MIN_SAFE_INTEGER): number | undefined {
  if (value === undefined) return undefined;
  const number = Number(value);
  if (value.trim() === '' || !Number.isInteger(number) || number < least) {
    throw new UsageError(least > Number.MIN_SAFE_INTEGER ? `${flag} must be a whole number of at least ${least}.` : `${flag} must be a whole number.`);
  }
  return number;
}
