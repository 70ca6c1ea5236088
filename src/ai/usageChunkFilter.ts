/**
 * Takes out of an OpenAI-style SSE stream the usage-only chunk (`"choices":[]` with a `usage`)
 * that tollgate made the upstream send by adding `stream_options.include_usage: true`, for a
 * client that did not ask for it: OpenAI does not send that chunk by default, and client code
 * written for the default (`chunk.choices[0].delta`) fails on it. The observer reads the stream
 * before this filter, so the usage is still charged. Complete events pass as soon as they are
 * complete; only a partial event waits for its end.
 */
export class UsageChunkFilter {
  private pending: Buffer | null = null;

  /** The bytes to send on now (possibly none). */
  push(chunk: Buffer): Buffer {
    const data = this.pending === null ? chunk : Buffer.concat([this.pending, chunk]);
    const end = lastEventEnd(data);
    if (end === -1) {
      this.pending = data;
      return EMPTY;
    }
    this.pending = end < data.length ? data.subarray(end) : null;
    const complete = end === data.length ? data : data.subarray(0, end);
    // Fast path: no event here can be the usage chunk.
    if (complete.indexOf(EMPTY_CHOICES) === -1) return complete;
    return dropUsageOnly(complete);
  }

  /** What is left at the end of the stream (a last event without its blank line). */
  end(): Buffer {
    const rest = this.pending;
    this.pending = null;
    if (rest === null) return EMPTY;
    return rest.indexOf(EMPTY_CHOICES) === -1 ? rest : dropUsageOnly(rest);
  }
}

const EMPTY = Buffer.alloc(0);
const EMPTY_CHOICES = Buffer.from('"choices":[]');
const LF2 = Buffer.from('\n\n');
const CRLF2 = Buffer.from('\r\n\r\n');

/** The offset just past the last blank line (an event's end), or -1. */
function lastEventEnd(data: Buffer): number {
  const lf = data.lastIndexOf(LF2);
  const crlf = data.lastIndexOf(CRLF2);
  const a = lf === -1 ? -1 : lf + 2;
  const b = crlf === -1 ? -1 : crlf + 4;
  return Math.max(a, b);
}

/** The events of `block` without those whose data is a usage-only chunk. */
function dropUsageOnly(block: Buffer): Buffer {
  const text = block.toString('utf8');
  const events = text.split(/(?<=\r?\n\r?\n)/);
  const kept = events.filter((e) => !isUsageOnly(e));
  return kept.length === events.length ? block : Buffer.from(kept.join(''), 'utf8');
}

function isUsageOnly(event: string): boolean {
  let data = '';
  for (const line of event.split(/\r?\n/)) if (line.startsWith('data:')) data += line.slice(line.charCodeAt(5) === 0x20 ? 6 : 5);
  if (!data.includes('"choices":[]')) return false;
  try {
    const chunk = JSON.parse(data) as { choices?: unknown; usage?: unknown };
    return Array.isArray(chunk.choices) && chunk.choices.length === 0 && chunk.usage !== null && typeof chunk.usage === 'object';
  } catch {
    return false;
  }
}
