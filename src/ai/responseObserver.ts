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
  /** The request path; gives the API when the request was not inspected. */
  path: string;
  /** The upstream's `X-Tools-Used` response header, if any. */
  toolsHeader?: string | readonly string[] | null;
  /** The upstream status: a 4xx/5xx with no reported usage is charged nothing (not estimated). */
  status?: number;
  /** The upstream Content-Encoding: a compressed body cannot be read, so it is not buffered. */
  contentEncoding?: string | null;
  /** Cap for a buffered JSON body and for one SSE event (default 8 MiB); beyond it, given up. */
  maxBodyBytes?: number;
}

export const DEFAULT_MAX_BODY_BYTES = 8 * 1024 * 1024;

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
 * Reads an upstream response as it streams through the proxy and, at the end, tells what it
 * used: model, token usage (reported, or estimated with the tokenizer), tools. `write()` is fed
 * every body chunk (cheap: JSON is buffered up to a cap, SSE is parsed event by event);
 * `finish()` gives the result. Neither ever throws: garbage gives what could be known.
 */
export class ResponseObserver {
  private readonly api: AiApi | null;
  private readonly request: AiRequestFacts | null;
  private readonly status: number | null;
  private readonly headerTools: string[];
  private readonly reader: BodyReader | null;
  private readonly acc = new UsageAccumulator();
  private readonly maxBodyBytes: number;
  private readonly sse: SseParser | null = null;
  private jsonChunks: Buffer[] = [];
  private jsonBytes = 0;
  private gaveUp = false;
  private result: AiUsage | null = null;

  constructor(options: ResponseObserverOptions) {
    this.request = options.request;
    this.api = apiOf(options.request, options.path);
    this.status = options.status ?? null;
    this.headerTools = parseToolsHeader(options.toolsHeader);
    this.maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
    const streamed = (options.contentType ?? '').toLowerCase().includes('text/event-stream');
    if (this.api === null || this.api === 'mcp' || !isIdentityEncoding(options.contentEncoding)) {
      this.reader = null;
    } else if (streamed) {
      this.reader = STREAM_EVENT_READERS[this.api];
      this.sse = new SseParser((event) => this.onEvent(event), this.maxBodyBytes);
    } else {
      this.reader = JSON_BODY_READERS[this.api];
    }
  }

  write(chunk: Buffer): void {
    if (this.reader === null || this.gaveUp || this.result !== null) return;
    try {
      if (this.sse !== null) this.sse.write(chunk);
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
      if (this.sse !== null) {
        this.sse.end();
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
    if (this.reader === null || event.data === '[DONE]') return;
    let data: unknown;
    try {
      data = JSON.parse(event.data);
    } catch {
      return;
    }
    if (isRecord(data)) this.reader(this.acc, data);
  }
}

/** The API the request was inspected as (an InspectedRequest's `api`), else the path's. */
function apiOf(request: AiRequestFacts | InspectedRequest | null, path: string): AiApi | null {
  if (request !== null && 'api' in request) return request.api;
  return aiApiOfPath(path);
}

function isIdentityEncoding(encoding: string | null | undefined): boolean {
  if (encoding == null) return true;
  const value = encoding.trim().toLowerCase();
  return value === '' || value === 'identity';
}
