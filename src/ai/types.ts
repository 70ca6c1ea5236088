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
