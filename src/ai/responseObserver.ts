import { brotliDecompressSync, gunzipSync, inflateSync } from 'node:zlib';
import type { AiRequestFacts } from '../core/context.js';
import type { AiApi, AiUsage } from './types.js';
import { aiApiOfPath } from './apiKind.js';
import { SseParser, type SseEvent } from './sseParser.js';
import { UsageAccumulator } from './usageAccumulator.js';
import { isRecord, type JsonRecord } from './jsonAccess.js';
import { parseToolsHeader } from './toolNames.js';
import { summarizeUsage } from './usageSummary.js';
import type { InspectedRequest } from './inspectRequest.js';
import { readChatCompletion, readCompletion, readEmbeddings, readResponse, readResponseEvent } from './openaiReaders.js';
import { readAnthropicEvent, readAnthropicMessage } from './anthropicReaders.js';

export interface ResponseObserverOptions {
  /** The upstream response's Content-Type. */
  contentType: string | null | undefined;
  /** Facts from inspectRequest (its `api` is used when present), or null when not inspected. */
  request: AiRequestFacts | null;
  /** The request path; gives the API when the request was not inspected. Null: a request without a body (a GET list call), whose answer is not read. */
  path: string | null;
  /** The upstream's `X-Tools-Used` response header, if any. */
  toolsHeader?: string | readonly string[] | null;
  /** The upstream status: a 4xx/5xx with no reported usage is charged nothing (not estimated). */
  status?: number;
  /** The upstream Content-Encoding: gzip, deflate and br are kept and decompressed at the end; other codings are not read. */
  contentEncoding?: string | null;
  /** Cap for a buffered JSON body and for one SSE event (default 8 MiB); beyond it, given up. */
  maxBodyBytes?: number;
  /**
   * Stream events that carry only generated text are kept unparsed, up to this many bytes
   * (default 1 MiB), and parsed only if the stream ends without usage; beyond it, from then on,
   * every event is parsed as it comes. 0 parses every event at once.
   */
  maxDeferredBytes?: number;
}

export const DEFAULT_MAX_BODY_BYTES = 8 * 1024 * 1024;
export const DEFAULT_MAX_DEFERRED_BYTES = 1024 * 1024;

type BodyReader = (acc: UsageAccumulator, body: JsonRecord) => void;

/** How a whole JSON body of each API is read. */
const JSON_BODY_READERS: Record<Exclude<AiApi, 'mcp'>, BodyReader> = {
  'openai-chat': readChatCompletion,
  'openai-completions': readCompletion,
  'openai-embeddings': readEmbeddings,
  'openai-responses': readResponse,
  'anthropic-messages': readAnthropicMessage,
};

/** How one SSE event's data of each API is read (chat/completions chunks look like bodies). */
const STREAM_EVENT_READERS: Record<Exclude<AiApi, 'mcp'>, BodyReader> = {
  'openai-chat': readChatCompletion,
  'openai-completions': readCompletion,
  'openai-embeddings': readEmbeddings,
  'openai-responses': readResponseEvent,
  'anthropic-messages': readAnthropicEvent,
};

/**
 * Tells, without parsing, that a stream event's data carries nothing but generated text (which
 * only the estimate needs), given what is known so far. False whenever unsure: then it is parsed.
 */
type TextOnlyTest = (data: string, found: UsageAccumulator) => boolean;

/** Chat and completions chunks: text only once the model is known, unless usage or tool calls show. */
const openAiChunkIsTextOnly: TextOnlyTest = (data, found) =>
  found.model !== null && !data.includes('tool_calls') && !data.includes('function_call') && !carriesUsage(data);

const TEXT_ONLY_TESTS: Partial<Record<AiApi, TextOnlyTest>> = {
  'openai-chat': openAiChunkIsTextOnly,
  'openai-completions': openAiChunkIsTextOnly,
  'openai-responses': (data) =>
    (data.includes('"type":"response.output_text.delta"') || data.includes('"type":"response.function_call_arguments.delta"')) &&
    !data.includes('"response"') &&
    !data.includes('"item"'),
  'anthropic-messages': (data) => data.includes('"type":"content_block_delta"') && !data.includes('"message"') && !carriesUsage(data),
};

/** True when some `"usage"` key has a value other than null (OpenAI sends `"usage":null` on every chunk). */
function carriesUsage(data: string): boolean {
  for (let i = data.indexOf('"usage"'); i !== -1; i = data.indexOf('"usage"', i + 7)) {
    let j = skipSpace(data, i + 7);
    if (data.charCodeAt(j) !== 0x3a) continue; // a string value "usage", not a key
    j = skipSpace(data, j + 1);
    if (!data.startsWith('null', j)) return true;
  }
  return false;
}

function skipSpace(s: string, i: number): number {
  for (let c = s.charCodeAt(i); c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d; c = s.charCodeAt(++i));
  return i;
}

function parseRecord(data: string): JsonRecord | null {
  try {
    const value: unknown = JSON.parse(data);
    return isRecord(value) ? value : null;
  } catch {
    return null;
  }
}

/**
 * Reads an upstream response as it streams through the proxy and, at the end, tells what it
 * used: model, token usage (reported, or estimated with the tokenizer), tools. `write()` is fed
 * every body chunk (cheap: JSON is buffered up to a cap, SSE is split into events, and events
 * that carry only generated text are kept unparsed: they are needed only when no usage comes);
 * `finish()` gives the result. Neither ever throws: garbage gives what could be known.
 */
export class ResponseObserver {
  private readonly api: AiApi | null;
  private readonly request: AiRequestFacts | null;
  private readonly status: number | null;
  private readonly headerTools: string[];
  private readonly reader: BodyReader | null;
  private acc = new UsageAccumulator();
  private readonly maxBodyBytes: number;
  private readonly sse: SseParser | null = null;
  private readonly textOnly: TextOnlyTest | null = null;
  /**
   * The stream's events so far, in order (text-only ones as raw data, the others parsed), while
   * deferring; replayed into a fresh accumulator when the text is needed after all.
   */
  private sequence: Array<string | JsonRecord> | null = null;
  private sequenceBytes = 0;
  private readonly maxDeferredBytes: number;
  private jsonChunks: Buffer[] = [];
  private jsonBytes = 0;
  private readonly encoding: Coding;
  private compressed: Buffer[] = [];
  private compressedBytes = 0;
  private gaveUp = false;
  private result: AiUsage | null = null;

  constructor(options: ResponseObserverOptions) {
    this.request = options.request;
    this.api = apiOf(options.request, options.path);
    this.status = options.status ?? null;
    this.headerTools = parseToolsHeader(options.toolsHeader);
    this.maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
    this.maxDeferredBytes = options.maxDeferredBytes ?? DEFAULT_MAX_DEFERRED_BYTES;
    const streamed = (options.contentType ?? '').toLowerCase().includes('text/event-stream');
    this.encoding = contentCoding(options.contentEncoding);
    if (this.api === null || this.api === 'mcp' || this.encoding === 'unknown') {
      this.reader = null;
    } else if (streamed) {
      this.reader = STREAM_EVENT_READERS[this.api];
      this.sse = new SseParser((event) => this.onEvent(event), this.maxBodyBytes);
      this.textOnly = TEXT_ONLY_TESTS[this.api] ?? null;
      if (this.textOnly !== null && this.maxDeferredBytes > 0) this.sequence = [];
    } else {
      this.reader = JSON_BODY_READERS[this.api];
    }
  }

  write(chunk: Buffer): void {
    if (this.reader === null || this.gaveUp || this.result !== null) return;
    try {
      if (this.encoding !== 'identity') this.bufferCompressed(chunk);
      else if (this.sse !== null) this.sse.write(chunk);
      else this.bufferJson(chunk);
    } catch {
      this.gaveUp = true;
    }
  }

  finish(): AiUsage {
    if (this.result === null) {
      this.readRest();
      this.result = summarizeUsage({
        api: this.api,
        found: this.acc,
        request: this.request,
        headerTools: this.headerTools,
        failedStatus: this.status !== null && this.status >= 400,
      });
    }
    return this.result;
  }

  /**
   * A compressed body (gzip, deflate, br: an upstream that compresses although tollgate asks for
   * identity) is kept as it comes, up to the cap, and decompressed once it has ended (below).
   */
  private bufferCompressed(chunk: Buffer): void {
    this.compressedBytes += chunk.length;
    if (this.compressedBytes > this.maxBodyBytes) {
      this.gaveUp = true;
      this.compressed = [];
      return;
    }
    this.compressed.push(Buffer.from(chunk));
  }

  /** Decompresses what was kept (at most maxBodyBytes out) and reads it as an identity body. */
  private decompressKept(): void {
    const data = Buffer.concat(this.compressed);
    this.compressed = [];
    const limit = { maxOutputLength: this.maxBodyBytes };
    const plain = this.encoding === 'gzip' ? gunzipSync(data, limit) : this.encoding === 'deflate' ? inflateSync(data, limit) : brotliDecompressSync(data, limit);
    if (this.sse !== null) this.sse.write(plain);
    else this.bufferJson(plain);
  }

  private bufferJson(chunk: Buffer): void {
    this.jsonBytes += chunk.length;
    if (this.jsonBytes > this.maxBodyBytes) {
      this.gaveUp = true;
      this.jsonChunks = [];
      return;
    }
    this.jsonChunks.push(Buffer.from(chunk));
  }

  private readRest(): void {
    if (this.reader === null || this.gaveUp) return;
    try {
      if (this.encoding !== 'identity' && this.compressedBytes > 0) this.decompressKept();
      if (this.sse !== null) {
        this.sse.end();
        // Usage incomplete: the estimate needs the text of the events kept unparsed.
        if (this.sequence !== null && (this.acc.promptTokens === null || this.acc.completionTokens === null)) this.replay();
      } else if (this.jsonBytes > 0) {
        const body: unknown = JSON.parse(Buffer.concat(this.jsonChunks).toString('utf8'));
        this.jsonChunks = [];
        if (isRecord(body)) this.reader(this.acc, body);
      }
    } catch {
      // Not JSON after all, or a reader met a shape it did not expect: keep what is known.
    }
  }

  private onEvent(event: SseEvent): void {
    const data = event.data;
    if (this.reader === null || data === '[DONE]') return;
    const sequence = this.sequence;
    if (sequence === null) {
      const record = parseRecord(data);
      if (record !== null) this.reader(this.acc, record);
      return;
    }
    let item: string | JsonRecord = data;
    if (!this.textOnly!(data, this.acc)) {
      const record = parseRecord(data);
      if (record === null) return;
      this.reader(this.acc, record);
      item = record;
    }
    sequence.push(item);
    this.sequenceBytes += data.length;
    if (this.sequenceBytes > this.maxDeferredBytes) this.replay();
  }

  /** Reads the whole stream so far, in order, into a fresh accumulator; every later event is parsed as it comes. */
  private replay(): void {
    const sequence = this.sequence!;
    this.sequence = null;
    const acc = new UsageAccumulator();
    for (const item of sequence) {
      const record = typeof item === 'string' ? parseRecord(item) : item;
      if (record !== null) this.reader!(acc, record);
    }
    this.acc = acc;
  }
}

/** The API the request was inspected as (an InspectedRequest's `api`), else the path's. */
function apiOf(request: AiRequestFacts | InspectedRequest | null, path: string | null): AiApi | null {
  if (request !== null && 'api' in request) return request.api;
  return path === null ? null : aiApiOfPath(path);
}

type Coding = 'identity' | 'gzip' | 'deflate' | 'br' | 'unknown';

/** The one content coding of a response (a list of several, or an unknown one, is not read). */
function contentCoding(encoding: string | null | undefined): Coding {
  if (encoding == null) return 'identity';
  const value = encoding.trim().toLowerCase();
  if (value === '' || value === 'identity') return 'identity';
  if (value === 'gzip' || value === 'x-gzip') return 'gzip';
  if (value === 'deflate' || value === 'br') return value;
  return 'unknown';
}
