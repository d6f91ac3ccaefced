#!/usr/bin/env node
// The `airlock` command. Each command lives in commands/<name>.ts.
import { AirlockError } from '../errors.js';
import { redact } from '../logging/logger.js';
import { runAccounts } from './commands/accounts.js';
import { runKeys } from './commands/keys.js';
import { runTokens } from './commands/tokens.js';
import { runVault } from './commands/vault.js';
import { runUsage } from './commands/usage.js';
import { runWidgets } from './commands/widgets.js';
import { UsageError } from './shared.js';

const usage = `Usage: airlock <command> [options]

Commands:
  serve [--dev] [--port N] [--host ADDRESS] [--drain-seconds N]
        Run the Airlock server. --dev creates a development master key in
        .airlock/ when AIRLOCK_MASTER_KEYS is not set (never in production).
        On SIGTERM it stops taking requests and lets open answers finish for
        up to --drain-seconds (default 30, or AIRLOCK_DRAIN_SECONDS).
  widgets create --name NAME --origin ORIGIN [--origin ORIGIN…] [--type chat|completion|image]
        [--model MODEL] [--system-prompt TEXT] [--behaviour JSON] [--title TITLE]
        [--theme light|dark|auto] [--greeting TEXT] [--placeholder TEXT]
        [--prompt TEXT…] [--locale TAG] [--disable] [--account ID]
        [--key-source own|shared|default]
        Create a widget and print its id. Origins: https://example.com or https://*.example.com.
  widgets list
        List widgets.
  widgets show ID | update ID [flags of create; --origin replaces the list; --enable|--disable]
        Show a widget as JSON, or change it.
  widgets delete ID
        Delete a widget; its tokens stop working.
  widgets embed ID [--server URL]
        Print the script-tag and iframe snippets (server: --server or AIRLOCK_PUBLIC_URL).
  widgets revoke-tokens ID
        Revoke every token of the widget issued so far, on every server, at once.
  tokens rotate-signing-key [--retire-previous-now] [--dev]
        Add a new token signing key; the old one verifies until its tokens expire
        (with --retire-previous-now, for a leaked key: older keys are removed at once).
  tokens mint --widget ID [--user ID] [--origin ORIGIN] [--ttl SECONDS]
        [--max-requests N] [--max-output-tokens N] [--dev]
        Print a token for a widget (backend minting, for tests and scripts).
  usage --widget ID [--from YYYY-MM-DD] [--to YYYY-MM-DD] [--json]
        A widget's usage per day: views, requests, tokens, generations, errors.
  usage --account ID [--allowance N|unlimited] [--reset]
        Show or set an account's generation allowance (shared-key use).
  accounts create --name NAME [--id ID]
        Create an account and print its id.
  accounts list
        List accounts.
  accounts access-token --account ID [--label TEXT]
        Print a new access token with which the account's owner signs in to
        the admin page (and API) and sees only that account. Shown only once.
  keys set (--account ID | --shared) [--no-validate] [--dev]
        Save an OpenAI key, read from standard input (never from arguments),
        after checking it with the upstream. Replaces the current key.
  keys show (--account ID | --shared) [--dev]
        Fingerprint, status, dates, last upstream error, widgets using it.
  keys revoke (--account ID | --shared) [--force] [--dev]
        Revoke and destroy the key; refused while widgets use it unless --force.
  vault rotate-master [--dev]
        Re-wrap every stored secret under the primary master key version.

Environment:
  AIRLOCK_DATABASE_URL  sqlite:<path> or postgres://… (default sqlite:.airlock/airlock.db)
  AIRLOCK_MASTER_KEYS   master keyring, e.g. v1:<base64 of 32 bytes>
  OPENAI_API_KEY        the operator's shared OpenAI key
  OPENAI_BASE_URL       an OpenAI-compatible API (default https://api.openai.com/v1)
  PORT, AIRLOCK_HOST    where serve listens (default 8787 on 127.0.0.1)
  AIRLOCK_PUBLIC_URL    this server's public URL, for embed snippets
  AIRLOCK_REDIS_URL     redis://… shared limits for several instances
  AIRLOCK_ADMIN_TOKEN   bearer token of the admin API and /airlock/metrics
  Every variable, and the limits serve reads: docs/deployment.md
`;

const commands: Record<string, (args: string[]) => Promise<number>> = {
  // Loaded on demand: the server pulls in the tokenizer and the proxy, which
  // would add most of a second to every other command's start-up.
  serve: async (args) => (await import('./commands/serve.js')).runServe(args),
  widgets: runWidgets,
  tokens: runTokens,
  accounts: runAccounts,
  keys: runKeys,
  vault: runVault,
  usage: runUsage,
};

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(usage);
    return command === undefined ? 1 : 0;
  }
  const run = Object.hasOwn(commands, command) ? commands[command] : undefined;
  if (!run) {
    process.stderr.write(`airlock: unknown command "${command}"\n\n${usage}`);
    return 2;
  }
  return run(rest);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    const message = error instanceof UsageError || AirlockError.isInstance(error) || error instanceof TypeError
      ? (error as Error).message
      : 'unexpected failure; see the message above.';
    if (!(error instanceof UsageError) && !AirlockError.isInstance(error)) {
      process.stderr.write(`${redact(error instanceof Error ? (error.stack ?? error.message) : String(error))}\n`);
    }
    process.stderr.write(`airlock: ${message}\n`);
    process.exitCode = 2;
  },
);
