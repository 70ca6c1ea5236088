import type { AiRequestFacts } from '../core/context.js';
import { GENERATIVE_APIS, type AiApi, type AiUsage } from './types.js';
import type { UsageAccumulator } from './usageAccumulator.js';
import { mergeToolNames } from './toolNames.js';

export interface UsageSources {
  api: AiApi | null;
  found: UsageAccumulator;
  request: AiRequestFacts | null;
  headerTools: string[];
  /** The upstream answered 4xx/5xx: with nothing reported, nothing is charged. */
  failedStatus: boolean;
}

/**
 * The final AiUsage of one exchange. Reported usage wins. When an LLM or embeddings answer
 * reported none (or only part: a stream cut before its last event), the missing side is
 * estimated (prompt: the request's estimate; completion: the tokenizer count of the generated
 * text seen) and `estimated` is true. Non-AI and MCP traffic have no model or tokens.
 */
export function summarizeUsage(sources: UsageSources): AiUsage {
  const { api, found, request } = sources;
  const tools = mergeToolNames(request?.tools ?? [], found.tools, sources.headerTools);
  const usage: AiUsage = {
    model: null,
    promptTokens: null,
    completionTokens: null,
    totalTokens: null,
    estimated: false,
    tools,
  };
  if (api === null || api === 'mcp') return usage;
  usage.model = found.model ?? request?.model ?? null;
  const prompt = found.promptTokens;
  const completion = found.completionTokens;
  if (prompt !== null && completion !== null) {
    usage.promptTokens = prompt;
    usage.completionTokens = completion;
    usage.totalTokens = found.totalTokens ?? prompt + completion;
    return usage;
  }
  if (sources.failedStatus && prompt === null && completion === null) return usage;
  usage.promptTokens = prompt ?? request?.estimatedPromptTokens ?? 0;
  usage.completionTokens = completion ?? (GENERATIVE_APIS.has(api) ? found.generated.countTokens() : 0);
  usage.totalTokens = usage.promptTokens + usage.completionTokens;
  usage.estimated = true;
  return usage;
}
