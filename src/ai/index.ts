/** The AI-traffic parser: one reading of requests and responses for budget, audit and metrics. */
export type { AiApi, AiUsage } from './types.js';
export { inspectRequest, prepareUpstreamBody, mcpToolCalls, emptyRequestFacts, type InspectedRequest } from './inspectRequest.js';
export { ResponseObserver, DEFAULT_MAX_BODY_BYTES, type ResponseObserverOptions } from './responseObserver.js';
export { aiApiOfPath, detectAiApi } from './apiKind.js';
export { estimatePromptTokens } from './promptText.js';
export { parseToolsHeader, mergeToolNames } from './toolNames.js';
export { countTextTokens, preloadTokenizer, TOKENIZER_ENCODING } from './tokenizer.js';
