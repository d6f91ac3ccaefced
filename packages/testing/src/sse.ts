/**
 * Server-sent events, just enough of them for OpenAI's streams: the upstream
 * writes `data:` events, and tests read them back from a `fetch` response.
 */

/**
 * Formats one SSE event carrying `data` (objects are JSON-encoded).
 *
 * @example
 * ```ts
 * formatSseEvent('[DONE]'); // 'data: [DONE]\n\n'
 * ```
 */
export function formatSseEvent(data: unknown): string {
  return `data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`;
}

/**
 * Yields the `data` payload of each event in an SSE response body, in order,
 * including OpenAI's closing `[DONE]`. Multi-line data is joined with `\n`;
 * comments and other fields are skipped.
 *
 * @example
 * ```ts
 * const response = await fetch(`${upstream.baseURL}/chat/completions`, { method: 'POST', headers, body });
 * for await (const data of readSse(response)) {
 *   if (data === '[DONE]') break;
 *   console.log(JSON.parse(data).choices[0]?.delta.content);
 * }
 * ```
 */
export async function* readSse(response: Response): AsyncIterable<string> {
  if (!response.body) return;
  const decoder = new TextDecoder();
  let buffer = '';
  const reader = response.body.getReader();
  let finished = false;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      buffer += done ? decoder.decode() : decoder.decode(value, { stream: true });
      // Events end with a blank line. Normalising the whole buffer each time also
      // joins a CRLF that arrived split across two reads.
      buffer = buffer.replace(/\r\n/g, '\n');
      let end = buffer.indexOf('\n\n');
      while (end !== -1) {
        const data = parseEventData(buffer.slice(0, end));
        buffer = buffer.slice(end + 2);
        if (data !== undefined) yield data;
        end = buffer.indexOf('\n\n');
      }
      if (done) {
        finished = true;
        break;
      }
    }
    // A stream cut without its final blank line still delivered its last event.
    const data = parseEventData(buffer);
    if (data !== undefined) yield data;
  } finally {
    // A consumer that stops early should not leave the response (and its
    // connection) half-read.
    if (!finished) await reader.cancel().catch(() => undefined);
    reader.releaseLock();
  }
}

function parseEventData(event: string): string | undefined {
  const lines = event
    .split('\n')
    .filter((line) => line.startsWith('data:'))
    .map((line) => line.slice(line.startsWith('data: ') ? 6 : 5));
  return lines.length === 0 ? undefined : lines.join('\n');
}

/**
 * Joins the content deltas of an OpenAI chat-completions stream's `data`
 * payloads (as {@link readSse} yields them). Stops at `[DONE]`, or at an
 * error event (`{error: {code}}`), whose code it returns beside the text
 * received before it.
 *
 * @example
 * ```ts
 * streamedText(['{"choices":[{"delta":{"content":"Hi"}}]}', '[DONE]']); // { text: 'Hi' }
 * ```
 */
export function streamedText(events: Iterable<string>): { text: string; error?: string } {
  let text = '';
  for (const data of events) {
    if (data === '[DONE]') break;
    const chunk = JSON.parse(data) as { choices?: { delta?: { content?: string } }[]; error?: { code: string } };
    if (chunk.error) return { text, error: chunk.error.code };
    text += chunk.choices?.[0]?.delta?.content ?? '';
  }
  return { text };
}

/**
 * Reads an OpenAI chat-completions stream to its end and joins its content
 * deltas ({@link streamedText}).
 *
 * @example
 * ```ts
 * const { text, error } = await readStreamedText(await fetch(url, { method: 'POST', headers, body }));
 * ```
 */
export async function readStreamedText(response: Response): Promise<{ text: string; error?: string }> {
  const events: string[] = [];
  for await (const data of readSse(response)) events.push(data);
  return streamedText(events);
}
