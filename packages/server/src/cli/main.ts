#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { serve } from '../adapters/node.js';
import { createAirlock } from '../airlock.js';
import { AirlockError } from '../errors.js';
import { redact } from '../logging/logger.js';
import { SqliteStore } from '../stores/sqlite-store.js';
import type { Store } from '../stores/store.js';
import { isValidOriginPattern } from '../widgets/origins.js';

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

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === 'serve') return runServe(rest);
  if (command === 'widgets') return runWidgets(rest);
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(usage);
    return command === undefined ? 1 : 0;
  }
  process.stderr.write(`airlock: unknown command "${command}"\n\n${usage}`);
  return 2;
}

async function runServe(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { dev: { type: 'boolean', default: false }, port: { type: 'string' }, host: { type: 'string' } },
  });
  const port = Number(values.port ?? process.env.PORT ?? 8787);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) throw new UsageError('--port must be a port number.');
  const airlock = createAirlock({ dev: values.dev });
  await airlock.ready();
  const server = await serve(airlock.fetch, { port, host: values.host ?? process.env.AIRLOCK_HOST ?? '127.0.0.1' });
  console.log(`Airlock listening on ${server.url}${airlock.basePath}`);
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  await server.close();
  await airlock.close();
  return 0;
}

async function runWidgets(args: string[]): Promise<number> {
  const [action, ...rest] = args;
  const store = openStoreFromEnvironment();
  try {
    await store.migrate();
    if (action === 'list') {
      for (const widget of await store.listWidgets()) {
        console.log(`${widget.id}\t${widget.name}\t${widget.type}\t${widget.enabled ? 'enabled' : 'disabled'}\t${widget.allowedOrigins.join(' ')}`);
      }
      return 0;
    }
    if (action === 'create') {
      const { values } = parseArgs({
        args: rest,
        options: {
          name: { type: 'string' },
          origin: { type: 'string', multiple: true },
          model: { type: 'string', default: 'gpt-4o-mini' },
          title: { type: 'string' },
          'system-prompt': { type: 'string' },
        },
      });
      if (!values.name) throw new UsageError('--name is required.');
      const origins = values.origin ?? [];
      if (origins.length === 0) throw new UsageError('at least one --origin is required (for example https://example.com).');
      const invalid = origins.find((origin) => !isValidOriginPattern(origin));
      if (invalid) throw new UsageError(`"${invalid}" is not an origin such as https://example.com or https://*.example.com.`);
      const widget = await store.createWidget({
        name: values.name,
        type: 'chat',
        allowedOrigins: origins,
        presentation: { title: values.title ?? values.name, theme: 'auto' },
        behaviour: { model: values.model, ...(values['system-prompt'] && { systemPrompt: values['system-prompt'] }) },
      });
      console.log(widget.id);
      return 0;
    }
    throw new UsageError(`unknown widgets action "${action ?? ''}"; use create or list.`);
  } finally {
    await store.close();
  }
}

function openStoreFromEnvironment(): Store {
  const url = process.env.AIRLOCK_DATABASE_URL ?? 'sqlite:.airlock/airlock.db';
  if (!url.startsWith('sqlite:')) throw new UsageError(`unsupported AIRLOCK_DATABASE_URL scheme "${url.split(':')[0]}:".`);
  return new SqliteStore({ path: url.slice('sqlite:'.length) });
}

class UsageError extends Error {}

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
