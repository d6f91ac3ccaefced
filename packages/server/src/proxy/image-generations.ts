import { AirlockError } from '../errors.js';
import { clientSignal } from '../http/request-parts.js';
import { json, readJsonObject } from '../http/responses.js';
import { checkPromptFilter } from './prompt-filter.js';
import { reserveGenerations, resolveKey, type ProxyCall, type ProxyServices } from './proxy-services.js';
import { upstreamError } from './upstream-errors.js';

/**
 * `POST /v1/images/generations` for image widgets, OpenAI-compatible. The
 * widget decides the model, the allowed sizes, the most images per request
 * and the quality; the client chooses only among what is allowed.
 *
 * @example
 * ```ts
 * return handleImageGenerations(request, call, services);
 * ```
 */
export async function handleImageGenerations(request: Request, call: ProxyCall, services: ProxyServices): Promise<Response> {
  const { widget } = call;
  if (widget.type !== 'image') throw new AirlockError('input_invalid', 'This widget is not an image widget.');
  const image = widget.behaviour.image ?? {};
  const model = image.model ?? widget.behaviour.model;
  const sizes = image.sizes?.length ? image.sizes : ['1024x1024'];
  const maxImages = image.maxImages ?? 1;
  const body = await readJsonObject(request, services.input.maxBodyBytes);
  const { prompt, n, size, response_format: responseFormat } = body;
  if (body.model !== undefined && body.model !== model) throw new AirlockError('input_invalid', 'This widget does not allow that model.');
  if (typeof prompt !== 'string' || prompt.trim().length === 0) throw new AirlockError('input_invalid', '"prompt" must be a non-empty string.');
  if (prompt.length > services.input.maxMessageChars) {
    throw new AirlockError('input_invalid', `"prompt" may be at most ${services.input.maxMessageChars} characters long.`);
  }
  const count = n ?? 1;
  if (typeof count !== 'number' || !Number.isInteger(count) || count < 1 || count > maxImages) {
    throw new AirlockError('input_invalid', `"n" must be a whole number from 1 to ${maxImages}.`);
  }
  const chosenSize = size ?? sizes[0];
  if (typeof chosenSize !== 'string' || !sizes.includes(chosenSize)) {
    throw new AirlockError('input_invalid', `"size" must be one of ${sizes.join(', ')}.`);
  }
  if (responseFormat !== undefined && responseFormat !== 'url' && responseFormat !== 'b64_json') {
    throw new AirlockError('input_invalid', '"response_format" must be url or b64_json.');
  }
  checkPromptFilter(widget.behaviour.promptFilter, [prompt]);
  const key = await resolveKey(services, call);
  const releaseSlot = await services.limits.openStream(call.caller);
  let reservation;
  try {
    reservation = await reserveGenerations(services, call, key, model, count);
    const result = await services.upstream.forKey(key.apiKey).images.generate(
      {
        model,
        prompt,
        n: count,
        size: chosenSize as '1024x1024',
        ...(image.quality !== undefined && { quality: image.quality as 'standard' }),
        // gpt-image models always answer base64 and refuse the field.
        ...(responseFormat !== undefined && model.startsWith('dall-e') && { response_format: responseFormat }),
      },
      // Aborted by the adapter when the client disconnects.
      { signal: clientSignal(request) },
    );
    const delivered = result.data?.length ?? 0;
    reservation.settle(delivered);
    const usage = (result as { usage?: { input_tokens?: number; output_tokens?: number } }).usage;
    if (usage) services.usage.record(widget.id, { inputTokens: usage.input_tokens ?? 0, outputTokens: usage.output_tokens ?? 0 });
    return json(result);
  } catch (error) {
    reservation?.settle(0);
    throw upstreamError(error);
  } finally {
    releaseSlot();
  }
}
