import { describe, expect, it } from 'vitest';
import { SseParser, type SseEvent } from './sseParser.js';

function parse(chunks: string[], maxEventBytes = 1024): SseEvent[] {
  const events: SseEvent[] = [];
  const parser = new SseParser((event) => events.push(event), maxEventBytes);
  for (const chunk of chunks) parser.write(Buffer.from(chunk));
  parser.end();
  return events;
}

describe('SseParser', () => {
  it('dispatches on blank lines, joins data lines, keeps event names, skips comments', () => {
    const events = parse([': keep-alive\n\nevent: ping\ndata: a\ndata:b\n\ndata: c\n\n']);
    expect(events).toEqual([
      { event: 'ping', data: 'a\nb' },
      { event: null, data: 'c' },
    ]);
  });

  it('handles CRLF split across chunks and bare CR', () => {
    expect(parse(['data: x\r', '\n\r', '\ndata: y\r\r'])).toEqual([
      { event: null, data: 'x' },
      { event: null, data: 'y' },
    ]);
  });

  it('decodes UTF-8 split across chunks', () => {
    const bytes = Buffer.from('data: héllo 🌍\n\n');
    const events: SseEvent[] = [];
    const parser = new SseParser((event) => events.push(event), 1024);
    for (const byte of bytes) parser.write(Buffer.from([byte]));
    expect(events).toEqual([{ event: null, data: 'héllo 🌍' }]);
  });

  it('dispatches a last event that has no blank line after it', () => {
    expect(parse(['data: last'])).toEqual([{ event: null, data: 'last' }]);
  });

  it('drops an event over the size cap, whole, and goes on with the next one', () => {
    const big = 'x'.repeat(100);
    expect(parse([`data: a\ndata: ${big.slice(0, 40)}`, `${big}\ndata: z\n\ndata: ok\n\n`], 64)).toEqual([{ event: null, data: 'ok' }]);
    expect(parse([`data: ${big}\n`, '\n', 'data: ok\n\n'], 64)).toEqual([{ event: null, data: 'ok' }]);
    expect(parse([`data: ${big}`, '\n\ndata: ok\n\n'], 64)).toEqual([{ event: null, data: 'ok' }]);
  });
});
