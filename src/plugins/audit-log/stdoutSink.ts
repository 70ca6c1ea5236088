/**
 * Audit lines on stdout (for `kubectl logs` and log collectors). Lines queued during one turn
 * of the event loop go out as one write on the next (`setImmediate`), never from inside the
 * log phase. Writes are synchronous: Node writes files and terminals so, and a pipe is set to
 * blocking when the sink is acquired (sinks.ts), so a stalled reader holds the process up
 * (beyond the pipe's buffer) rather than records piling up in memory and being lost at exit.
 * stdout also carries the gateway's `{"event":"listening"}` line, printed before any request
 * is served; every audit line is a whole line of its own.
 */
export class StdoutSink {
  private lines: string[] = [];
  private scheduled = false;

  constructor(private readonly out: NodeJS.WritableStream = process.stdout) {}

  append(line: string): void {
    this.lines.push(`${line}\n`);
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => this.flushNow());
  }

  /** Resolves once queued lines were handed to stdout and it drained (or after `timeoutMs`). */
  flush(timeoutMs: number): Promise<void> {
    this.flushNow();
    if ((this.out as NodeJS.WriteStream).writableNeedDrain !== true) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      timer.unref();
      this.out.once('drain', () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /** Writes what is queued now (also the process-exit path). */
  flushNow(): void {
    this.scheduled = false;
    if (this.lines.length === 0) return;
    const chunk = this.lines.join('');
    this.lines = [];
    this.out.write(chunk);
  }
}
