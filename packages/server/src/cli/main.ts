#!/usr/bin/env node
// The `airlock` command. Each command lives in commands/<name>.ts; commander
// parses, writes every --help, and reports usage mistakes (see shared.ts).
import { readFileSync } from 'node:fs';
import { AirlockError } from '../errors.js';
import { redact } from '../logging/logger.js';
import { accountsCommand } from './commands/accounts.js';
import { keysCommand } from './commands/keys.js';
import { knowledgeCommand } from './commands/knowledge.js';
import { serveCommand } from './commands/serve.js';
import { tokensCommand } from './commands/tokens.js';
import { usageCommand } from './commands/usage.js';
import { vaultCommand } from './commands/vault.js';
import { widgetsCommand } from './commands/widgets.js';
import { CliCommand, runCommand, UsageError, type Outcome } from './shared.js';

// src/cli/main.ts and dist/cli/main.js are both two folders below package.json.
const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

const footer = `
Every command has --help, for example: airlock widgets create --help
The environment variables serve reads: airlock serve --help, and docs/deployment.md.
`;

function program(outcome: Outcome): CliCommand {
  return new CliCommand('airlock')
    .description('Run an Airlock server and manage its widgets, their knowledge files, accounts, OpenAI keys and tokens.')
    .version(version, '-v, --version', 'print the version')
    .helpCommand('help [command]', 'show help for a command')
    .addHelpText('after', footer)
    .addCommand(serveCommand(outcome))
    .addCommand(widgetsCommand(outcome))
    .addCommand(knowledgeCommand(outcome))
    .addCommand(accountsCommand(outcome))
    .addCommand(keysCommand(outcome))
    .addCommand(tokensCommand(outcome))
    .addCommand(usageCommand(outcome))
    .addCommand(vaultCommand(outcome));
}

async function main(args: string[]): Promise<number> {
  if (args.length === 0) {
    // Asked for nothing: say what there is, as a usage mistake.
    process.stderr.write(program({ code: 0 }).helpInformation());
    return 2;
  }
  return runCommand(program, args);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    if (error instanceof UsageError || AirlockError.isInstance(error)) {
      process.stderr.write(`airlock: ${redact(error.message)}\n`);
      process.exitCode = 2;
      return;
    }
    // Not a mistake of the caller's: one line, and the stack only when asked for.
    const message = error instanceof Error ? error.message : String(error);
    if (process.env.AIRLOCK_LOG_LEVEL === 'debug' && error instanceof Error && error.stack) {
      process.stderr.write(`${redact(error.stack)}\n`);
    }
    process.stderr.write(`airlock: unexpected failure: ${redact(message)} (AIRLOCK_LOG_LEVEL=debug shows where)\n`);
    process.exitCode = 1;
  },
);
