import type { IncomingMessage, ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';
import type { JsonRecord } from '../ai/jsonAccess.js';
import { countField, stringField } from '../ai/jsonAccess.js';
import type { DemoKnobs } from './demoKnobs.js';

/** One API call to a demo upstream: the exchange, its parsed JSON body and the test knobs. */
export interface DemoCall {
  req: IncomingMessage;
  res: ServerResponse;
  body: JsonRecord;
  knobs: DemoKnobs;
}

/** The model to report: the `x-demo-model` knob, else the request's, else the default. */
export function answerModel(call: DemoCall, fallback: string): string {
  return call.knobs.model ?? stringField(call.body, 'model') ?? fallback;
}

/** The first completion-token cap present, in OpenAI's and Anthropic's names. */
export function requestedMaxTokens(body: JsonRecord, fields: readonly string[]): number | null {
  for (const field of fields) {
    const value = countField(body, field);
    if (value !== null) return Math.floor(value);
  }
  return null;
}

export function newId(prefix: string): string {
  return `${prefix}${randomUUID().replaceAll('-', '').slice(0, 24)}`;
}

export function unixSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

/** OpenAI's error body shape. */
export function openAiError(message: string, type: string, param: string | null = null): JsonRecord {
  return { error: { message, type, param, code: null } };
}

/** Splits text into pieces of at most `size` characters (streamed tool-call arguments). */
export function chunkText(text: string, size: number): string[] {
  const pieces: string[] = [];
  for (let i = 0; i < text.length; i += size) pieces.push(text.slice(i, i + size));
  return pieces;
}
