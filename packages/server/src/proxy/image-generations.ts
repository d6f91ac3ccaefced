import type { ImageGenerateParams } from 'openai/resources/images';
import { AirlockError } from '../errors.js';
import { json, readJsonObject } from '../http/responses.js';
import type { ProxyEndpoint } from './call.js';
import { modelRefused } from './chat-completions.js';
import { checkPromptFilter } from './prompt-filter.js';

/**
 * `POST /v1/images/generations` for image widgets, OpenAI-compatible. The
 * widget decides the model, the allowed sizes, the most images per request
 * and the quality; the client chooses only among what is allowed. Each image
 * is reserved; those the upstream did not deliver are given back.
 *
 * @example
 * ```ts
 * return runProxyCall(request, services, imageGenerations);
 * ```
 */
export const imageGenerations: ProxyEndpoint = {
  async prepare(context, services) {
    const { widget, request } = context;
    if (widget.type !== 'image') throw new AirlockError('input_invalid', 'This widget is not an image widget.');
    const image = widget.behaviour.image ?? {};
    const model = image.model ?? widget.behaviour.model;
    const sizes = image.sizes?.length ? image.sizes : ['1024x1024'];
    const maxImages = image.maxImages ?? 1;
    const body = await readJsonObject(request, services.input.maxBodyBytes);
    const { prompt, n, size, response_format: responseFormat } = body;
    if (body.model !== undefined && body.model !== model) throw modelRefused([model]);
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
    const params: ImageGenerateParams = {
      model,
      prompt,
      n: count,
      size: chosenSize as ImageGenerateParams['size'],
      ...(image.quality !== undefined && { quality: image.quality as ImageGenerateParams['quality'] }),
      // gpt-image models always answer base64 and refuse the field.
      ...(responseFormat !== undefined && model.startsWith('dall-e') && { response_format: responseFormat }),
    };
    return {
      model,
      units: count,
      spendsOutputTokens: false,
      async send(step) {
        // Aborted by the adapter when the client disconnects.
        const result = await step.client.images.generate(params, { signal: step.context.signal });
        const usage = (result as { usage?: { input_tokens?: number; output_tokens?: number } }).usage;
        step.finish({
          delivered: result.data?.length ?? 0,
          ...(usage && { usage: { inputTokens: usage.input_tokens ?? 0, outputTokens: usage.output_tokens ?? 0 } }),
        });
        return json(result);
      },
    };
  },
};
