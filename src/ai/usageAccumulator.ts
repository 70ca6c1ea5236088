import { TextSample } from './tokenizer.js';
import { countField, type JsonRecord } from './jsonAccess.js';

/**
 * What the readers have found in a response so far. Token counts keep the latest value an
 * upstream reported (Anthropic's `message_delta.usage.output_tokens` is cumulative), tools keep
 * first-seen order without duplicates, and generated text is sampled for the estimate path.
 */
export class UsageAccumulator {
  model: string | null = null;
  promptTokens: number | null = null;
  completionTokens: number | null = null;
  totalTokens: number | null = null;
  readonly tools: string[] = [];
  readonly generated = new TextSample();
  /** Anthropic's prompt parts, kept apart because each is reported (and updated) on its own. */
  private readonly anthropicPrompt = { input: null as number | null, cacheWrite: 0, cacheRead: 0 };

  setModel(model: unknown): void {
    if (typeof model === 'string' && model !== '') this.model = model;
  }

  addTool(name: unknown): void {
    if (typeof name === 'string' && name !== '' && !this.tools.includes(name)) this.tools.push(name);
  }

  addGenerated(text: unknown): void {
    if (typeof text === 'string') this.generated.append(text);
  }

  /** OpenAI chat/completions/embeddings `usage`: prompt_tokens, completion_tokens, total_tokens. */
  readOpenAiUsage(usage: JsonRecord): void {
    this.promptTokens = countField(usage, 'prompt_tokens') ?? this.promptTokens;
    this.completionTokens = countField(usage, 'completion_tokens') ?? this.completionTokens;
    this.totalTokens = countField(usage, 'total_tokens') ?? this.totalTokens;
  }

  /** Responses-API `usage`: input_tokens, output_tokens, total_tokens. */
  readResponsesUsage(usage: JsonRecord): void {
    this.promptTokens = countField(usage, 'input_tokens') ?? this.promptTokens;
    this.completionTokens = countField(usage, 'output_tokens') ?? this.completionTokens;
    this.totalTokens = countField(usage, 'total_tokens') ?? this.totalTokens;
  }

  /**
   * Anthropic `usage`. Its `input_tokens` excludes prompt-cache reads and writes; they are added
   * so prompt tokens mean what OpenAI's `prompt_tokens` means (every token of the prompt). Each
   * part keeps its latest reported value (`message_start`, then `message_delta`). `withOutput`
   * false skips `output_tokens` (message_start's is a placeholder).
   */
  readAnthropicUsage(usage: JsonRecord, withOutput: boolean): void {
    const parts = this.anthropicPrompt;
    parts.input = countField(usage, 'input_tokens') ?? parts.input;
    parts.cacheWrite = countField(usage, 'cache_creation_input_tokens') ?? parts.cacheWrite;
    parts.cacheRead = countField(usage, 'cache_read_input_tokens') ?? parts.cacheRead;
    if (parts.input !== null) this.promptTokens = parts.input + parts.cacheWrite + parts.cacheRead;
    if (withOutput) this.completionTokens = countField(usage, 'output_tokens') ?? this.completionTokens;
  }
}
