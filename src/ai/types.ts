/**
 * What tollgate learns about AI traffic from the bodies it proxies. One parser fills these for
 * every consumer (token budget, audit log, metrics): see src/ai/README.md.
 */
export interface AiUsage {
  /** The response's `model`, else the request's. */
  model: string | null;
  promptTokens: number | null;
  completionTokens: number | null;
  /** prompt + completion (or the upstream's own total). */
  totalTokens: number | null;
  /** True when no usage was reported and the numbers are a tokenizer estimate. */
  estimated: boolean;
  /** Tool names invoked (OpenAI tool_calls, Anthropic tool_use, MCP tools/call, X-Tools-Used). */
  tools: string[];
}

/**
 * The AI API a request speaks, recognised from its path (suffix, so `strip_path` and prefixes
 * such as Azure's `/openai/deployments/x/chat/completions` do not matter) and, for MCP, from its
 * JSON-RPC body (MCP servers live on any path).
 */
export type AiApi =
  | 'openai-chat'
  | 'openai-completions'
  | 'openai-embeddings'
  | 'openai-responses'
  | 'anthropic-messages'
  | 'mcp';

/** The APIs whose answers are generated text (usage estimated from the text when unreported). */
export const GENERATIVE_APIS: ReadonlySet<AiApi> = new Set<AiApi>([
  'openai-chat',
  'openai-completions',
  'openai-responses',
  'anthropic-messages',
]);
