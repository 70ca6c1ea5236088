/** Builds a `text/event-stream` body the way each upstream writes it. */
export function sseData(chunks: readonly unknown[], done = true): string {
  const events = chunks.map((chunk) => `data: ${JSON.stringify(chunk)}\n\n`);
  if (done) events.push('data: [DONE]\n\n');
  return events.join('');
}

/** Named events (`event: type` + `data:`), as Anthropic and the responses API send them. */
export function sseNamed(events: ReadonlyArray<{ type: string; [field: string]: unknown }>): string {
  return events.map((event) => `event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`).join('');
}
