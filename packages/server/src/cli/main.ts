#!/usr/bin/env node
// The `airlock` command. Each command lives in commands/<name>.ts.
import { AirlockError } from '../errors.js';
import { redact } from '../logging/logger.js';
import { runServe } from './commands/serve.js';
import { runWidgets } from './commands/widgets.js';
import { UsageError } from './shared.js';

const usage = `Usage: airlock <command> [options]

Commands:
  serve [--dev] [--port N] [--host ADDRESS]
        Run the Airlock server. --dev creates a development master key in
        .airlock/ when AIRLOCK_MASTER_KEYS is not set (never in production).
  widgets create --name NAME --origin ORIGIN [--origin ORIGIN…] [--model MODEL]
        [--title TITLE] [--system-prompt TEXT]
        Create a chat widget and print its id.
  widgets list
        List widgets.

Environment:
  AIRLOCK_DATABASE_URL  sqlite:<path> (default sqlite:.airlock/airlock.db)
  AIRLOCK_MASTER_KEYS   master keyring, e.g. v1:<base64 of 32 bytes>
  OPENAI_API_KEY        the operator's shared OpenAI key
  OPENAI_BASE_URL       an OpenAI-compatible API (default https://api.openai.com/v1)
  PORT, AIRLOCK_HOST    where serve listens (default 8787 on 127.0.0.1)
`;

const commands: Record<string, (args: string[]) => Promise<number>> = {
  serve: runServe,
  widgets: runWidgets,
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
