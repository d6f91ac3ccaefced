import { parseArgs } from 'node:util';
import { AirlockError } from '../../errors.js';
import type { Store, WidgetRecord } from '../../stores/store.js';
import { embedSnippets } from '../../widgets/embed-snippets.js';
import { parseNewWidget, parseWidgetPatch } from '../../widgets/widget-input.js';
import { openStoreFromEnvironment, UsageError } from '../shared.js';

// Flags shared by `create` and `update`; each maps onto a widget field.
const widgetFlags = {
  account: { type: 'string' },
  'key-source': { type: 'string' },
  name: { type: 'string' },
  type: { type: 'string' },
  origin: { type: 'string', multiple: true },
  model: { type: 'string' },
  'system-prompt': { type: 'string' },
  behaviour: { type: 'string' },
  title: { type: 'string' },
  theme: { type: 'string' },
  greeting: { type: 'string' },
  placeholder: { type: 'string' },
  prompt: { type: 'string', multiple: true },
  locale: { type: 'string' },
  enable: { type: 'boolean' },
  disable: { type: 'boolean' },
} as const;

type WidgetFlagValues = ReturnType<typeof parseArgs<{ options: typeof widgetFlags; allowPositionals: true }>>['values'];

/** Turns flags into the JSON body the admin API takes, so both check input the same way. */
function bodyFromFlags(values: WidgetFlagValues): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  if (values.account !== undefined) body.accountId = values.account;
  if (values['key-source'] !== undefined) body.keySource = values['key-source'] === 'default' ? null : values['key-source'];
  if (values.name !== undefined) body.name = values.name;
  if (values.type !== undefined) body.type = values.type;
  if (values.origin !== undefined) body.allowedOrigins = values.origin;
  if (values.enable && values.disable) throw new UsageError('give --enable or --disable, not both.');
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
    try {
      behaviour = JSON.parse(values.behaviour) as Record<string, unknown>;
    } catch {
      throw new UsageError('--behaviour must be a JSON object, such as \'{"model":"gpt-4o-mini"}\'.');
    }
  }
  if (values.model !== undefined) behaviour.model = values.model;
  if (values['system-prompt'] !== undefined) behaviour.systemPrompt = values['system-prompt'];
  if (Object.keys(behaviour).length > 0) body.behaviour = behaviour;
  return body;
}

/** A widget by id, or by name when no id matches. */
async function findWidget(store: Store, idOrName: string | undefined): Promise<WidgetRecord> {
  if (!idOrName) throw new UsageError('give a widget id.');
  const widget = (await store.getWidget(idOrName)) ?? (await store.findWidgetByName(idOrName));
  if (!widget) throw new AirlockError('widget_not_found', `there is no widget "${idOrName}".`);
  return widget;
}

/** `airlock widgets create|list|show|update|delete|embed|revoke-tokens` */
export async function runWidgets(args: string[]): Promise<number> {
  const [action, ...rest] = args;
  const store = openStoreFromEnvironment();
  try {
    await store.migrate();
    switch (action) {
      case 'list': {
        for (const widget of await store.listWidgets()) {
          console.log(`${widget.id}\t${widget.name}\t${widget.type}\t${widget.enabled ? 'enabled' : 'disabled'}\t${widget.allowedOrigins.join(' ')}`);
        }
        return 0;
      }
      case 'create': {
        const { values } = parseArgs({ args: rest, options: widgetFlags, allowPositionals: true });
        if (!values.name) throw new UsageError('--name is required.');
        if (!values.origin?.length) throw new UsageError('at least one --origin is required (for example https://example.com).');
        const invalid = values.origin.find((origin) => !/^https?:\/\/[^/\s]+$/i.test(origin));
        if (invalid) throw new UsageError(`"${invalid}" is not an origin such as https://example.com or https://*.example.com.`);
        const input = parseNewWidget(bodyFromFlags(values));
        if (input.accountId !== undefined && !(await store.getAccount(input.accountId))) {
          throw new UsageError(`there is no account "${input.accountId}".`);
        }
        const widget = await store.createWidget(input);
        console.log(widget.id);
        return 0;
      }
      case 'show': {
        console.log(JSON.stringify(await findWidget(store, rest[0]), null, 2));
        return 0;
      }
      case 'update': {
        const { values, positionals } = parseArgs({ args: rest, options: widgetFlags, allowPositionals: true });
        const widget = await findWidget(store, positionals[0]);
        const body = bodyFromFlags(values);
        if (Object.keys(body).length === 0) throw new UsageError('nothing to change; see airlock --help.');
        const updated = await store.updateWidget(widget.id, parseWidgetPatch(body, widget));
        console.log(JSON.stringify(updated, null, 2));
        return 0;
      }
      case 'delete': {
        const widget = await findWidget(store, rest[0]);
        await store.deleteWidget(widget.id);
        console.log(`deleted ${widget.id}`);
        return 0;
      }
      case 'revoke-tokens': {
        const widget = await findWidget(store, rest[0]);
        const epoch = await store.bumpWidgetEpoch(widget.id);
        console.log(`revoked every token of ${widget.id} issued so far (epoch ${epoch})`);
        return 0;
      }
      case 'embed': {
        const { values, positionals } = parseArgs({ args: rest, options: { server: { type: 'string' } }, allowPositionals: true });
        const widget = await findWidget(store, positionals[0]);
        const serverUrl = values.server ?? process.env.AIRLOCK_PUBLIC_URL;
        if (!serverUrl) throw new UsageError('give --server https://your-airlock-host (or set AIRLOCK_PUBLIC_URL).');
        const snippets = embedSnippets({ widgetId: widget.id, serverUrl, title: widget.presentation.title });
        console.log(`Script tag (the widget mounts in your page):\n${snippets.scriptTag}\n`);
        console.log(`Iframe (the widget in its own page, isolated from yours):\n${snippets.iframe}`);
        return 0;
      }
      default:
        throw new UsageError(`unknown widgets action "${action ?? ''}"; use create, list, show, update, delete, embed or revoke-tokens.`);
    }
  } finally {
    await store.close();
  }
}
