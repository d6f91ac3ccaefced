export { parseUIChatRequest, type ParseUIChatOptions, type UIChatRequest } from './parse-request.js';
export {
  encodeUIStreamChunk,
  uiMessageStreamHeaders,
  UIMessageStreamTranslator,
  type UIFinishReason,
  type UIMessageStreamOptions,
  type UIStreamChunk,
  type UIStreamSource,
} from './ui-message-chunks.js';
export { chatStreamToUIMessageStream } from './chat-stream-to-ui-message-stream.js';
