import type { AirlockContext } from '../context.js';
import type { Route } from '../http/router.js';
import { widgetScriptFor } from './widget-script.js';

/** Static assets: the widget's script-tag bundle. */
export function assetRoutes(context: AirlockContext): Route[] {
  const widgetScript = widgetScriptFor(context);
  return [{ method: 'GET', path: '/widget.js', browser: 'none', handle: (request) => widgetScript.respond(request) }];
}
