export { parseResponsesRequest, type ParseResponsesOptions, type ResponsesRequest } from './parse-request.js';
export {
  encodeResponsesEvent,
  responseFromChatCompletion,
  responsesId,
  responsesUsage,
  ResponsesStreamTranslator,
  type ResponsesFailure,
  type ResponsesObject,
  type ResponsesOutputOptions,
} from './response-events.js';
export { chatStreamToResponses } from './chat-stream-to-responses.js';
