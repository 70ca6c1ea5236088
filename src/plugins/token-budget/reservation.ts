import type { AiRequestFacts } from '../../core/context.js';

/**
 * Tokens reserved at admission (SPEC §7): the request's worst case, so that concurrent requests
 * can never spend more than the budget together.
 *
 * - Generative APIs (chat, completions, responses, Anthropic messages): estimated prompt tokens
 *   + `max_tokens` | `max_completion_tokens` | `max_output_tokens`, else
 *   `default_completion_reservation`.
 * - Embeddings: the estimated input tokens (nothing is generated).
 * - Anything else (GET /v1/models, MCP, bodies that are not AI requests): 0 — admitted while
 *   the budget is not overspent, charged nothing unless the upstream reports usage.
 */
export function reservationAmount(ai: AiRequestFacts | null, defaultCompletion: number): number {
  if (ai === null || ai.api === null || ai.api === 'mcp') return 0;
  // The bound, not the estimate: concurrent requests must not overspend on a prompt whose
  // untokenized part is denser than its sample (settlement charges the real usage).
  const prompt = Math.max(0, Math.ceil(Math.max(ai.promptTokensAtMost ?? 0, ai.estimatedPromptTokens)));
  if (ai.api === 'openai-embeddings') return prompt;
  return prompt + (ai.maxTokens !== null && ai.maxTokens >= 0 ? Math.ceil(ai.maxTokens) : defaultCompletion);
}
