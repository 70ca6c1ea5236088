import { createHash } from 'node:crypto';
import { estimatePromptTokens } from '../ai/promptText.js';
import { countField, type JsonRecord } from '../ai/jsonAccess.js';
import { DEFAULT_EMBEDDING_MODEL } from './demoModel.js';
import { answerModel, openAiError, type DemoCall } from './demoCall.js';
import { sendJson, sleep } from './demoHttp.js';

/**
 * `POST /v1/embeddings`: deterministic unit vectors derived from a hash of each input
 * (`dimensions`, default 16), as float arrays or, with `encoding_format: "base64"` (what the
 * `openai` SDK asks for), little-endian float32 in base64. Usage reports prompt tokens.
 */
const DEFAULT_DIMENSIONS = 16;
const MAX_DIMENSIONS = 4096;

function inputsOf(input: unknown): unknown[] | null {
  if (typeof input === 'string') return [input];
  if (!Array.isArray(input) || input.length === 0) return null;
  // A flat array of token ids is one input; otherwise each element is one.
  return input.every((item) => typeof item === 'number') ? [input] : input;
}

function embeddingOf(input: unknown, dimensions: number): Float32Array {
  const vector = new Float32Array(dimensions);
  let seed = createHash('sha256').update(JSON.stringify(input)).digest();
  for (let i = 0; i < dimensions; i++) {
    if (i % 32 === 0 && i > 0) seed = createHash('sha256').update(seed).digest();
    vector[i] = seed[i % 32] / 127.5 - 1;
  }
  const norm = Math.hypot(...vector) || 1;
  for (let i = 0; i < dimensions; i++) vector[i] /= norm;
  return vector;
}

export async function answerEmbeddings(call: DemoCall): Promise<void> {
  const inputs = inputsOf(call.body.input);
  if (inputs === null) {
    sendJson(call.res, 400, openAiError("'input' must be a string or a non-empty array", 'invalid_request_error', 'input'));
    return;
  }
  const dimensions = Math.min(Math.max(Math.floor(countField(call.body, 'dimensions') ?? DEFAULT_DIMENSIONS), 1), MAX_DIMENSIONS);
  const asBase64 = call.body.encoding_format === 'base64';
  const data = inputs.map((input, index) => {
    const vector = embeddingOf(input, dimensions);
    const embedding = asBase64 ? Buffer.from(vector.buffer).toString('base64') : Array.from(vector);
    return { object: 'embedding', index, embedding };
  });
  const promptTokens = estimatePromptTokens('openai-embeddings', call.body);
  const body: JsonRecord = { object: 'list', data, model: answerModel(call, DEFAULT_EMBEDDING_MODEL) };
  if (!call.knobs.omitUsage) body.usage = { prompt_tokens: promptTokens, total_tokens: promptTokens };
  await sleep(call.knobs.delayMs);
  sendJson(call.res, 200, body);
}
