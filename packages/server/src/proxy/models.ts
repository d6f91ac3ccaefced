import { AirlockError } from '../errors.js';
import { json } from '../http/responses.js';
import type { WidgetRecord } from '../stores/store.js';

/**
 * One model as OpenAI's `GET /v1/models` lists it.
 */
export interface ModelObject {
  id: string;
  object: 'model';
  /** When the widget was created, in Unix seconds (the upstream's own date is not asked for). */
  created: number;
  owned_by: string;
}

/**
 * The models a widget's token may ask for: the widget's model, then its
 * `allowedModels`, each once.
 *
 * @example
 * ```ts
 * widgetModels(widget); // [{ id: 'gpt-4o-mini', object: 'model', … }]
 * ```
 */
export function widgetModels(widget: WidgetRecord): ModelObject[] {
  const created = Math.floor(Date.parse(widget.createdAt) / 1000) || 0;
  const ids = [...new Set([widget.behaviour.model, ...(widget.behaviour.allowedModels ?? [])])];
  return ids.map((id) => ({ id, object: 'model', created, owned_by: 'airlock' }));
}

/**
 * `GET /v1/models` (`id` undefined) and `GET /v1/models/{id}` for a
 * verified widget: OpenAI's list and model objects, only of the models the
 * widget allows; any other id is `not_found`. The upstream is not asked.
 *
 * @example
 * ```ts
 * return modelsResponse(widget, 'gpt-4o-mini');
 * ```
 */
export function modelsResponse(widget: WidgetRecord, id?: string): Response {
  const models = widgetModels(widget);
  if (id === undefined) return json({ object: 'list', data: models });
  const model = models.find((candidate) => candidate.id === id);
  if (!model) throw new AirlockError('not_found', 'This widget does not offer that model.');
  return json(model);
}
