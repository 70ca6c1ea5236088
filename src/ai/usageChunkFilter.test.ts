import { describe, expect, it } from 'vitest';
import { UsageChunkFilter } from './usageChunkFilter.js';

const usageChunk = 'data: {"id":"c","object":"chat.completion.chunk","choices":[],"usage":{"prompt_tokens":5,"completion_tokens":3,"total_tokens":8}}\n\n';
const textChunk = 'data: {"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"hé"}}],"usage":null}\n\n';
const done = 'data: [DONE]\n\n';

/** Feeds `text` in pieces of `size` bytes; returns what the client gets. */
function through(text: string, size: number): string {
  const f = new UsageChunkFilter();
  const bytes = Buffer.from(text);
  const out: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += size) out.push(f.push(bytes.subarray(i, i + size)));
  out.push(f.end());
  return Buffer.concat(out).toString('utf8');
}

describe('UsageChunkFilter', () => {
  it('drops the usage-only chunk, whatever the chunking, and keeps every other byte', () => {
    const stream = textChunk + textChunk + usageChunk + done;
    for (const size of [1, 2, 7, 64, 10_000]) expect([size, through(stream, size)]).toEqual([size, textChunk + textChunk + done]);
    expect(through(stream.replaceAll('\n', '\r\n'), 5)).toBe((textChunk + textChunk + done).replaceAll('\n', '\r\n'));
  });

  it('passes events as soon as they are complete; keeps a chunk with choices or without usage', () => {
    const f = new UsageChunkFilter();
    expect(f.push(Buffer.from(textChunk + 'data: {"cho')).toString()).toBe(textChunk);
    const emptyNoUsage = 'data: {"choices":[],"usage":null}\n\n';
    expect(through(emptyNoUsage + done, 3)).toBe(emptyNoUsage + done);
    expect(through(`${usageChunk.trimEnd()}`, 4)).toBe(''); // a last event without its blank line
  });
});
