import type { Dispatcher } from 'undici';

/**
 * Reads an undici response body whole, up to `maxBytes`: null (and the body destroyed) when it
 * is longer, whatever its framing says; a chunked answer has no Content-Length to check first.
 * For the small documents tollgate fetches itself (JWKS, discovery, auth decisions).
 */
export async function readBounded(body: Dispatcher.ResponseData['body'], maxBytes: number): Promise<Buffer | null> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of body) {
    size += (chunk as Buffer).length;
    if (size > maxBytes) {
      body.destroy();
      return null;
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks, size);
}
