/** One Server-Sent Event: its `event:` name (null when absent) and its joined `data:` lines. */
export interface SseEvent {
  event: string | null;
  data: string;
}

const LF = 0x0a;
const CR = 0x0d;

/**
 * Incremental `text/event-stream` parser (WHATWG rules: LF, CRLF or CR line ends, `data:` lines
 * joined by `\n`, `:` comments, a blank line dispatches). It keeps only the current partial line
 * and the current event; an event bigger than `maxEventBytes` is dropped whole, so memory stays
 * bounded whatever the upstream sends. Lines are split on bytes before decoding, so UTF-8
 * sequences split across chunks decode correctly.
 */
export class SseParser {
  private partialLine: Buffer[] = [];
  private partialBytes = 0;
  /** The current line was too long and its bytes were dropped: it is not a blank line. */
  private partialDropped = false;
  private skipLF = false;
  private eventName: string | null = null;
  private dataLines: string[] = [];
  private eventBytes = 0;
  private eventOverflowed = false;

  constructor(
    private readonly onEvent: (event: SseEvent) => void,
    private readonly maxEventBytes: number,
  ) {}

  write(chunk: Buffer): void {
    let lineStart = 0;
    // Line ends found with the native indexOf: a byte loop in JS costs more than parsing.
    // `lf` and `cr`: the next of each at or after lineStart, or -1 when the chunk has no more.
    let lf = chunk.indexOf(LF);
    let cr = chunk.indexOf(CR);
    for (;;) {
      if (cr !== -1 && cr < lineStart) cr = chunk.indexOf(CR, lineStart);
      if (lf !== -1 && lf < lineStart) lf = chunk.indexOf(LF, lineStart);
      const i = cr === -1 ? lf : lf === -1 ? cr : Math.min(cr, lf);
      if (i === -1) break;
      const byte = chunk[i];
      if (byte === LF && this.skipLF && i === lineStart && this.partialBytes === 0 && !this.partialDropped) {
        this.skipLF = false;
        lineStart = i + 1;
        continue;
      }
      this.skipLF = byte === CR;
      this.takeLine(chunk.subarray(lineStart, i));
      lineStart = i + 1;
    }
    if (lineStart < chunk.length) {
      this.skipLF = false;
      this.keepPartial(chunk.subarray(lineStart));
    }
  }

  /** The stream ended: a last line or event without its terminating blank line still counts. */
  end(): void {
    if (this.partialBytes > 0 || this.partialDropped) this.takeLine(Buffer.alloc(0));
    this.dispatch();
  }

  private keepPartial(bytes: Buffer): void {
    if (this.eventOverflowed) {
      this.partialDropped = true;
      return;
    }
    this.partialBytes += bytes.length;
    if (this.eventBytes + this.partialBytes > this.maxEventBytes) {
      this.eventOverflowed = true;
      this.partialDropped = true;
      this.partialLine = [];
      this.partialBytes = 0;
      return;
    }
    // Copy: the caller may reuse its buffer after write() returns.
    this.partialLine.push(Buffer.from(bytes));
  }

  private takeLine(tail: Buffer): void {
    let line: Buffer = tail;
    if (this.partialLine.length > 0) {
      this.partialLine.push(tail);
      line = Buffer.concat(this.partialLine);
    }
    const dropped = this.partialDropped;
    this.partialLine = [];
    this.partialBytes = 0;
    this.partialDropped = false;
    if (line.length === 0 && !dropped) {
      this.dispatch();
      return;
    }
    if (this.eventOverflowed) return;
    this.eventBytes += line.length;
    if (this.eventBytes > this.maxEventBytes) {
      this.eventOverflowed = true;
      return;
    }
    this.processField(line.toString('utf8'));
  }

  private processField(line: string): void {
    if (line.startsWith(':')) return;
    const colon = line.indexOf(':');
    const name = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (name === 'data') this.dataLines.push(value);
    else if (name === 'event') this.eventName = value;
  }

  private dispatch(): void {
    const overflowed = this.eventOverflowed;
    const event: SseEvent = { event: this.eventName, data: this.dataLines.join('\n') };
    const hasData = this.dataLines.length > 0;
    this.eventName = null;
    this.dataLines = [];
    this.eventBytes = 0;
    this.eventOverflowed = false;
    if (hasData && !overflowed) this.onEvent(event);
  }
}
