import { parseArgs } from 'node:util';
import { isValidOriginPattern } from '../../widgets/origins.js';
import { openStoreFromEnvironment, UsageError } from '../shared.js';

/** `airlock widgets create|list` */
export async function runWidgets(args: string[]): Promise<number> {
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
