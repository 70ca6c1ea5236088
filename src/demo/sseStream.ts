import type { ServerResponse } from 'node:http';
import { sleep } from './demoHttp.js';

/**
 * Writes a `text/event-stream` answer, waiting `delayMs` before each event (the
 * `x-demo-delay-ms` knob). Stops quietly once the client has gone away.
 */
export class SseStream {
  constructor(
    private readonly res: ServerResponse,
    private readonly delayMs: number,
  ) {
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
    });
    res.flushHeaders();
  }

  get open(): boolean {
    return !this.res.destroyed && !this.res.writableEnded;
  }

  /** `data: JSON` (with `event: NAME` first when named). */
  async send(data: unknown, eventName?: string): Promise<void> {
    await this.raw(`${eventName === undefined ? '' : `event: ${eventName}\n`}data: ${JSON.stringify(data)}\n\n`);
  }

  async done(): Promise<void> {
    await this.raw('data: [DONE]\n\n');
  }

  end(): void {
    if (this.open) this.res.end();
  }

  private async raw(text: string): Promise<void> {
    await sleep(this.delayMs);
    if (this.open) this.res.write(text);
  }
}
