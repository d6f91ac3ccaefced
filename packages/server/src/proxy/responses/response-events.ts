import type { AnswerSource } from '@airlock/protocol';
import { randomBytes } from '../../crypto/hashes.js';
import type { ChatCompletion, ChatCompletionChunk } from 'openai/resources/chat/completions';
import type { CompletionUsage } from 'openai/resources/completions';
import type {
  Response as ResponseObject,
  ResponseOutputMessage,
  ResponseOutputText,
  ResponseStreamEvent,
  ResponseUsage,
} from 'openai/resources/responses/responses';

/**
 * A Responses API response object as it is sent: the SDK's `output_text`
 * is worked out by the SDK from `output`, never sent on the wire; `usage`
 * is `null` until the answer is done; `store` is always `false`.
 */
export type ResponsesObject = Omit<ResponseObject, 'output_text' | 'usage'> & {
  usage: ResponseUsage | null;
  store: false;
  /** The passages of the widget's knowledge the model was given (Airlock's own field). */
  airlock_sources?: AnswerSource[];
};

/** Options of {@link ResponsesStreamTranslator} and {@link responseFromChatCompletion}. */
export interface ResponsesOutputOptions {
  /** The model the response names (the one the server chose). */
  model: string;
  /** The response's id. Default: a new random `resp_…`. */
  responseId?: string;
  /** The message item's id. Default: a new random `msg_…`. */
  messageId?: string;
  /** When the response was created, in Unix seconds. Default: now. */
  createdAt?: number;
  /**
   * The instructions the response reports: the client's own, if the widget
   * accepted any. Default: `null`. Never the widget's system prompt, which
   * stays on the server.
   */
  instructions?: string | null;
  /** The passages of the widget's knowledge the model was given, reported as the response's `airlock_sources`. Default: none. */
  sources?: readonly AnswerSource[];
}

/** An error that ends a stream, as `response.failed` carries it. */
export interface ResponsesFailure {
  /** Airlock's stable error code (`upstream_timeout`, …). */
  code: string;
  message: string;
}

/**
 * A new id in the shape OpenAI uses (`resp_…`, `msg_…`).
 *
 * @example
 * ```ts
 * responsesId('resp'); // 'resp_3f9c…'
 * ```
 */
export function responsesId(prefix: 'resp' | 'msg'): string {
  return `${prefix}_${Buffer.from(randomBytes(24)).toString('hex')}`;
}

function baseObject(
  options: Required<Pick<ResponsesOutputOptions, 'model' | 'responseId' | 'createdAt'>> & { instructions: string | null; sources?: readonly AnswerSource[] },
): ResponsesObject {
  const response: ResponsesObject = {
    id: options.responseId,
    object: 'response',
    created_at: options.createdAt,
    status: 'in_progress',
    background: false,
    error: null,
    incomplete_details: null,
    instructions: options.instructions,
    max_output_tokens: null,
    model: options.model,
    output: [],
    parallel_tool_calls: false,
    previous_response_id: null,
    reasoning: { effort: null, summary: null },
    store: false,
    temperature: null,
    text: { format: { type: 'text' } },
    tool_choice: 'none',
    tools: [],
    top_p: null,
    truncation: 'disabled',
    usage: null,
    metadata: {},
  };
  if (options.sources && options.sources.length > 0) response.airlock_sources = [...options.sources];
  return response;
}

/**
 * Chat-completion usage in the Responses API's terms.
 *
 * @example
 * ```ts
 * responsesUsage({ prompt_tokens: 5, completion_tokens: 2, total_tokens: 7 }); // { input_tokens: 5, output_tokens: 2, … }
 * ```
 */
export function responsesUsage(usage: CompletionUsage): ResponseUsage {
  return {
    input_tokens: usage.prompt_tokens,
    input_tokens_details: { cached_tokens: usage.prompt_tokens_details?.cached_tokens ?? 0 },
    output_tokens: usage.completion_tokens,
    output_tokens_details: { reasoning_tokens: usage.completion_tokens_details?.reasoning_tokens ?? 0 },
    total_tokens: usage.total_tokens ?? usage.prompt_tokens + usage.completion_tokens,
  };
}

type FinishReason = ChatCompletion.Choice['finish_reason'] | null | undefined;

// How a chat answer ended, in the Responses API's terms: a cut answer is incomplete, not failed.
function outcome(finishReason: FinishReason): { status: 'completed' | 'incomplete'; details: ResponsesObject['incomplete_details'] } {
  if (finishReason === 'length') return { status: 'incomplete', details: { reason: 'max_output_tokens' } };
  if (finishReason === 'content_filter') return { status: 'incomplete', details: { reason: 'content_filter' } };
  return { status: 'completed', details: null };
}

function messageItem(id: string, text: string, status: ResponseOutputMessage['status']): ResponseOutputMessage {
  const part: ResponseOutputText = { type: 'output_text', annotations: [], logprobs: [], text };
  return { id, type: 'message', status, role: 'assistant', content: [part] };
}

/**
 * The non-streaming Responses API answer for a chat completion: one
 * assistant message with the answer's text, `completed` (or `incomplete`
 * with the reason when the answer was cut at the output cap or by a
 * content filter), with the usage.
 *
 * @example
 * ```ts
 * return json(responseFromChatCompletion(completion, { model }));
 * ```
 */
export function responseFromChatCompletion(completion: ChatCompletion, options: ResponsesOutputOptions): ResponsesObject {
  const choice = completion.choices[0];
  const text = choice?.message.content ?? '';
  const { status, details } = outcome(choice?.finish_reason);
  const response = baseObject(resolve(options));
  response.status = status;
  response.incomplete_details = details;
  response.output = [messageItem(options.messageId ?? responsesId('msg'), text, status === 'completed' ? 'completed' : 'incomplete')];
  response.completed_at = status === 'completed' ? Math.floor(Date.now() / 1000) : null;
  response.usage = completion.usage ? responsesUsage(completion.usage) : null;
  return response;
}

function resolve(
  options: ResponsesOutputOptions,
): Required<Pick<ResponsesOutputOptions, 'model' | 'responseId' | 'createdAt'>> & { instructions: string | null; sources?: readonly AnswerSource[] } {
  return {
    ...(options.sources && { sources: options.sources }),
    model: options.model,
    responseId: options.responseId ?? responsesId('resp'),
    createdAt: options.createdAt ?? Math.floor(Date.now() / 1000),
    instructions: options.instructions ?? null,
  };
}

// An event before its sequence number is given.
type Unnumbered<T> = T extends unknown ? Omit<T, 'sequence_number'> : never;

/**
 * Turns a chat-completion stream, chunk by chunk, into OpenAI's Responses
 * event stream: `response.created`, `response.in_progress`, then for the
 * one assistant message `response.output_item.added`,
 * `response.content_part.added`, a `response.output_text.delta` per piece
 * of text, `response.output_text.done`, `response.content_part.done`,
 * `response.output_item.done`, and last `response.completed` (or
 * `response.incomplete` when the answer was cut, `response.failed` when the
 * stream failed). Every event has its `sequence_number`, from 0; there is
 * no `[DONE]`. Pure: it only builds events, the caller writes them
 * ({@link encodeResponsesEvent}).
 *
 * @example
 * ```ts
 * const translator = new ResponsesStreamTranslator({ model });
 * write(translator.start());
 * for (const chunk of chunks) write(translator.chunk(chunk));
 * write(translator.finish());
 * ```
 */
export class ResponsesStreamTranslator {
  readonly #response: ResponsesObject;
  readonly #messageId: string;
  #sequence = 0;
  #text = '';
  #opened = false;
  #ended = false;
  #finishReason: FinishReason;
  #usage: CompletionUsage | undefined;

  constructor(options: ResponsesOutputOptions) {
    this.#response = baseObject(resolve(options));
    this.#messageId = options.messageId ?? responsesId('msg');
  }

  /** The response's id. */
  get responseId(): string {
    return this.#response.id;
  }

  /** Whether a terminal event has been made. */
  get ended(): boolean {
    return this.#ended;
  }

  /** `response.created` and `response.in_progress`. */
  start(): ResponseStreamEvent[] {
    return [this.#number({ type: 'response.created', response: this.#snapshot() }), this.#number({ type: 'response.in_progress', response: this.#snapshot() })];
  }

  /** The events for one upstream chunk: text deltas, and the message's opening events before its first text. */
  chunk(chunk: ChatCompletionChunk): ResponseStreamEvent[] {
    if (this.#ended) return [];
    const events: ResponseStreamEvent[] = [];
    if (chunk.usage) this.#usage = chunk.usage;
    const choice = chunk.choices[0];
    if (choice?.finish_reason) this.#finishReason = choice.finish_reason;
    const delta = choice?.delta.content;
    if (typeof delta === 'string' && delta !== '') {
      events.push(...this.#open());
      this.#text += delta;
      events.push(this.#number({ type: 'response.output_text.delta', item_id: this.#messageId, output_index: 0, content_index: 0, delta, logprobs: [] }));
    }
    return events;
  }

  /** The closing events once the upstream stream ended: the message's done events and `response.completed` or `response.incomplete`. */
  finish(): ResponseStreamEvent[] {
    if (this.#ended) return [];
    const events = this.#open();
    const { status, details } = outcome(this.#finishReason);
    const item = messageItem(this.#messageId, this.#text, status === 'completed' ? 'completed' : 'incomplete');
    const part = item.content[0] as ResponseOutputText;
    events.push(
      this.#number({ type: 'response.output_text.done', item_id: this.#messageId, output_index: 0, content_index: 0, text: this.#text, logprobs: [] }),
      this.#number({ type: 'response.content_part.done', item_id: this.#messageId, output_index: 0, content_index: 0, part }),
      this.#number({ type: 'response.output_item.done', output_index: 0, item }),
    );
    this.#ended = true;
    this.#response.status = status;
    this.#response.incomplete_details = details;
    this.#response.output = [item];
    if (status === 'completed') this.#response.completed_at = Math.floor(Date.now() / 1000);
    if (this.#usage) this.#response.usage = responsesUsage(this.#usage);
    const response = this.#snapshot();
    events.push(this.#number(status === 'completed' ? { type: 'response.completed', response } : { type: 'response.incomplete', response }));
    return events;
  }

  /** `response.failed`, when the stream cannot finish: the response keeps the text so far and carries the error. */
  fail(failure: ResponsesFailure): ResponseStreamEvent[] {
    if (this.#ended) return [];
    this.#ended = true;
    this.#response.status = 'failed';
    // Airlock's own code, as on every other error; the SDK's type lists OpenAI's only.
    this.#response.error = { code: failure.code as 'server_error', message: failure.message };
    if (this.#opened) this.#response.output = [messageItem(this.#messageId, this.#text, 'incomplete')];
    if (this.#usage) this.#response.usage = responsesUsage(this.#usage);
    return [this.#number({ type: 'response.failed', response: this.#snapshot() })];
  }

  #open(): ResponseStreamEvent[] {
    if (this.#opened) return [];
    this.#opened = true;
    return [
      this.#number({
        type: 'response.output_item.added',
        output_index: 0,
        item: { id: this.#messageId, type: 'message', status: 'in_progress', role: 'assistant', content: [] },
      }),
      this.#number({
        type: 'response.content_part.added',
        item_id: this.#messageId,
        output_index: 0,
        content_index: 0,
        part: { type: 'output_text', annotations: [], logprobs: [], text: '' },
      }),
    ];
  }

  // Each event carries the response as it stood then, not a live reference.
  #snapshot(): ResponseObject {
    return structuredClone(this.#response) as unknown as ResponseObject;
  }

  #number(event: Unnumbered<ResponseStreamEvent>): ResponseStreamEvent {
    return { ...event, sequence_number: this.#sequence++ } as ResponseStreamEvent;
  }
}

const encoder = new TextEncoder();

/**
 * One Responses event as SSE: its type as the `event:` line, its JSON as `data:`.
 *
 * @example
 * ```ts
 * controller.enqueue(encodeResponsesEvent(event)); // event: response.created\ndata: {…}\n\n
 * ```
 */
export function encodeResponsesEvent(event: ResponseStreamEvent): Uint8Array {
  return encoder.encode(`event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`);
}
