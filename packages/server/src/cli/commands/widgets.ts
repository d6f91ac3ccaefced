import { Option } from 'commander';
import type { Store, WidgetRecord } from '../../stores/store.js';
import { act, CliCommand, printJson, required, runCommand, UsageError, withStore, type Outcome } from '../shared.js';

/** The flags of `create` and `update`, as commander names them. */
interface WidgetFlags {
  account?: string;
  keySource?: string;
  name?: string;
  type?: string;
  origin?: string[];
  model?: string;
  systemPrompt?: string;
  behaviour?: string;
  title?: string;
  theme?: string;
  greeting?: string;
  placeholder?: string;
  prompt?: string[];
  locale?: string;
  enable?: boolean;
  disable?: boolean;
  json?: boolean;
}

const collect = (value: string, previous: string[] | undefined): string[] => [...(previous ?? []), value];

/** The flags shared by `create` and `update`; each maps onto a widget field. */
function addWidgetFlags(command: CliCommand, action: 'create' | 'update'): CliCommand {
  const originHelp =
    action === 'create'
      ? 'an origin allowed to embed the widget, such as https://example.com or https://*.example.com (repeat for more)'
      : 'replaces the allowed origins (repeat for more)';
  return command
    .option('--origin <origin>', originHelp, collect)
    .addOption(new Option('--type <type>', 'what the widget does').choices(['chat', 'completion', 'image']))
    .option('--model <model>', 'the model (default gpt-4o-mini)')
    .option('--system-prompt <text>', 'the system prompt, sent first and never shown to visitors')
    .option('--behaviour <json>', 'behaviour fields as a JSON object, such as \'{"temperature":0.2}\'')
    .option('--title <title>', 'the title shown in the widget (default: the name)')
    .addOption(new Option('--theme <theme>', 'colour scheme').choices(['light', 'dark', 'auto']))
    .option('--greeting <text>', 'the first message visitors see')
    .option('--placeholder <text>', 'the input placeholder')
    .option('--prompt <text>', 'a suggested prompt (repeat for more)', collect)
    .option('--locale <tag>', 'the interface language, such as fr or pt-BR')
    .option('--account <id>', 'the account that owns the widget (default: default)')
    .addOption(
      new Option('--key-source <source>', 'which OpenAI key serves it: own, shared, or default (own when the account has one)').choices([
        'own',
        'shared',
        'default',
      ]),
    )
    .option('--json', 'print the widget as JSON');
}

/** Turns flags into the JSON body the admin API takes, so both check input the same way. */
function bodyFromFlags(values: WidgetFlags): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  if (values.account !== undefined) body.accountId = values.account;
  if (values.keySource !== undefined) body.keySource = values.keySource === 'default' ? null : values.keySource;
  if (values.name !== undefined) body.name = values.name;
  if (values.type !== undefined) body.type = values.type;
  if (values.origin !== undefined) {
    const invalid = values.origin.find((origin) => !/^https?:\/\/[^/\s]+$/i.test(origin));
    if (invalid) throw new UsageError(`"${invalid}" is not an origin such as https://example.com or https://*.example.com.`);
    body.allowedOrigins = values.origin;
  }
  if (values.enable) body.enabled = true;
  if (values.disable) body.enabled = false;
  const presentation: Record<string, unknown> = {};
  if (values.title !== undefined) presentation.title = values.title;
  if (values.theme !== undefined) presentation.theme = values.theme;
  if (values.greeting !== undefined) presentation.greeting = values.greeting;
  if (values.placeholder !== undefined) presentation.placeholder = values.placeholder;
  if (values.prompt !== undefined) presentation.suggestedPrompts = values.prompt;
  if (values.locale !== undefined) presentation.locale = values.locale;
  if (Object.keys(presentation).length > 0) body.presentation = presentation;
  let behaviour: Record<string, unknown> = {};
  if (values.behaviour !== undefined) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(values.behaviour);
    } catch {
      parsed = undefined;
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw new UsageError('--behaviour must be a JSON object, such as \'{"model":"gpt-4o-mini"}\'.');
    }
    behaviour = parsed as Record<string, unknown>;
  }
  if (values.model !== undefined) behaviour.model = values.model;
  if (values.systemPrompt !== undefined) behaviour.systemPrompt = values.systemPrompt;
  if (Object.keys(behaviour).length > 0) body.behaviour = behaviour;
  return body;
}

/** A widget by id, or by name when no id matches. */
async function findWidget(store: Store, idOrName: string): Promise<WidgetRecord> {
  const widget = (await store.getWidget(idOrName)) ?? (await store.findWidgetByName(idOrName));
  const { AirlockError } = await import('../../errors.js');
  if (!widget) throw new AirlockError('widget_not_found', `there is no widget "${idOrName}".`);
  return widget;
}

/** A widget as lines of `field<TAB>value`, for people; `--json` gives the whole record. */
function printWidget(widget: WidgetRecord): void {
  const { model, systemPrompt, ...otherBehaviour } = widget.behaviour;
  const rows: Array<[string, string | undefined]> = [
    ['id', widget.id],
    ['name', widget.name],
    ['type', widget.type],
    ['status', widget.enabled ? 'enabled' : 'disabled'],
    ['account', widget.accountId],
    ['key source', widget.keySource ?? 'default (own key when the account has one, else shared)'],
    ['origins', widget.allowedOrigins.join(' ') || 'none (backend minting only)'],
    ['model', model],
    ['system prompt', systemPrompt === undefined ? 'none' : `${systemPrompt.length} characters`],
    ['other behaviour', Object.keys(otherBehaviour).length > 0 ? JSON.stringify(otherBehaviour) : 'none'],
    ['title', widget.presentation.title],
    ['theme', widget.presentation.theme],
    ['greeting', widget.presentation.greeting],
    ['placeholder', widget.presentation.placeholder],
    ['suggested prompts', widget.presentation.suggestedPrompts?.join(' | ')],
    ['locale', widget.presentation.locale],
    ['token epoch', String(widget.epoch)],
    ['created at', widget.createdAt],
    ['updated at', widget.updatedAt],
  ];
  for (const [field, value] of rows) if (value !== undefined && value !== '') console.log(`${field}\t${value}`);
}

/**
 * `airlock widgets create|list|show|update|delete|embed|revoke-tokens`.
 *
 * @example
 * ```ts
 * program.addCommand(widgetsCommand(outcome));
 * ```
 */
export function widgetsCommand(outcome: Outcome): CliCommand {
  const widgets = new CliCommand('widgets').description('create, list, show, change and delete widgets');

  addWidgetFlags(
    widgets
      .command('create')
      .description('create a widget and print its id')
      .option('--name <name>', 'a name for the widget, unique among widgets (required)')
      .option('--disable', 'create it disabled'),
    'create',
  ).action(
    act(outcome, (flags: WidgetFlags) =>
      withStore(async (store) => {
        required(flags.name, '--name');
        if (!flags.origin?.length) throw new UsageError('at least one --origin is required (for example https://example.com).');
        const { parseNewWidget } = await import('../../widgets/widget-input.js');
        const input = parseNewWidget(bodyFromFlags(flags));
        if (input.accountId !== undefined && !(await store.getAccount(input.accountId))) {
          throw new UsageError(`there is no account "${input.accountId}".`);
        }
        const widget = await store.createWidget(input);
        if (flags.json) printJson(widget);
        else console.log(widget.id);
        return 0;
      }),
    ),
  );

  widgets
    .command('list')
    .description('list widgets: id, name, type, status, origins (tab-separated)')
    .option('--json', 'print the widgets as a JSON array')
    .action(
      act(outcome, (flags: { json?: boolean }) =>
        withStore(async (store) => {
          const all = await store.listWidgets();
          if (flags.json) {
            printJson(all);
            return 0;
          }
          for (const widget of all) {
            console.log(`${widget.id}\t${widget.name}\t${widget.type}\t${widget.enabled ? 'enabled' : 'disabled'}\t${widget.allowedOrigins.join(' ')}`);
          }
          return 0;
        }),
      ),
    );

  widgets
    .command('show')
    .description('show a widget')
    .argument('<widget>', 'the widget id, or its name')
    .option('--json', 'print the whole widget record as JSON')
    .action(
      act(outcome, (idOrName: string, flags: { json?: boolean }) =>
        withStore(async (store) => {
          const widget = await findWidget(store, idOrName);
          if (flags.json) printJson(widget);
          else printWidget(widget);
          return 0;
        }),
      ),
    );

  addWidgetFlags(
    widgets
      .command('update')
      .description('change a widget; only the fields given change')
      .argument('<widget>', 'the widget id, or its name')
      .option('--name <name>', 'a new name')
      .addOption(new Option('--enable', 'enable the widget').conflicts('disable'))
      .addOption(new Option('--disable', 'disable the widget: its tokens and calls are refused').conflicts('enable')),
    'update',
  ).action(
    act(outcome, (idOrName: string, flags: WidgetFlags) =>
      withStore(async (store) => {
        const widget = await findWidget(store, idOrName);
        const { json, ...changes } = flags;
        const body = bodyFromFlags(changes);
        if (Object.keys(body).length === 0) throw new UsageError('nothing to change: give at least one field to set.');
        const { parseWidgetPatch } = await import('../../widgets/widget-input.js');
        const updated = await store.updateWidget(widget.id, parseWidgetPatch(body, widget));
        if (json) printJson(updated);
        else printWidget(updated);
        return 0;
      }),
    ),
  );

  widgets
    .command('delete')
    .description('delete a widget; its tokens stop working')
    .argument('<widget>', 'the widget id, or its name')
    .action(
      act(outcome, (idOrName: string) =>
        withStore(async (store) => {
          const widget = await findWidget(store, idOrName);
          await store.deleteWidget(widget.id);
          console.log(`deleted ${widget.id}`);
          return 0;
        }),
      ),
    );

  widgets
    .command('embed')
    .description('print the script-tag and iframe snippets of a widget')
    .argument('<widget>', 'the widget id, or its name')
    .option('--server <url>', "this server's public URL (default: AIRLOCK_PUBLIC_URL)")
    .action(
      act(outcome, (idOrName: string, flags: { server?: string }) =>
        withStore(async (store) => {
          const widget = await findWidget(store, idOrName);
          const serverUrl = flags.server ?? process.env.AIRLOCK_PUBLIC_URL;
          if (!serverUrl) throw new UsageError('give --server https://your-airlock-host (or set AIRLOCK_PUBLIC_URL).');
          const { embedSnippets } = await import('../../widgets/embed-snippets.js');
          const snippets = embedSnippets({ widgetId: widget.id, serverUrl, title: widget.presentation.title });
          console.log(`Script tag (the widget mounts in your page):\n${snippets.scriptTag}\n`);
          console.log(`Iframe (the widget in its own page, isolated from yours):\n${snippets.iframe}`);
          return 0;
        }),
      ),
    );

  widgets
    .command('revoke-tokens')
    .description('revoke every token of the widget issued so far, on every server, at once')
    .argument('<widget>', 'the widget id, or its name')
    .action(
      act(outcome, (idOrName: string) =>
        withStore(async (store) => {
          const widget = await findWidget(store, idOrName);
          const epoch = await store.bumpWidgetEpoch(widget.id);
          console.log(`revoked every token of ${widget.id} issued so far (epoch ${epoch})`);
          return 0;
        }),
      ),
    );

  return widgets;
}

/**
 * Runs `airlock widgets …` in this process (`args` without `widgets`); answers the exit code.
 *
 * @example
 * ```ts
 * await runWidgets(['list', '--json']);
 * ```
 */
export function runWidgets(args: string[]): Promise<number> {
  return runCommand(widgetsCommand, args);
}
