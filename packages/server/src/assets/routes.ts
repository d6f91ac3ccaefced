import type { AirlockContext } from '../context.js';
import type { Route } from '../http/router.js';
import { WidgetScript } from './widget-script.js';

/** Static assets: the widget's script-tag bundle. */
export function assetRoutes(context: AirlockContext): Route[] {
  const widgetScript = new WidgetScript(context.options.widgetScriptPath);
  return [{ method: 'GET', path: '/widget.js', browser: 'none', handle: (request) => widgetScript.respond(request) }];
}
