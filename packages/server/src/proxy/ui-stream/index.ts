export { parseUIChatRequest, type ParseUIChatOptions, type UIChatRequest } from './parse-request.js';
