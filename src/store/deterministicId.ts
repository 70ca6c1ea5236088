import { createHash } from 'node:crypto';

/**
 * Name-based UUIDs (RFC 9562 version 5: SHA-1 of namespace + name), so entities declared in the
 * config file without an `id` get the same id on every load and reload.
 */

/** tollgate's namespace for entity names such as `consumer:username:alice`. */
export const TOLLGATE_NAMESPACE = 'c7de83e9-f9de-4614-9393-717480562fb7';

export function uuidV5(name: string, namespace: string = TOLLGATE_NAMESPACE): string {
  const ns = Buffer.from(namespace.replace(/-/g, ''), 'hex');
  const bytes = createHash('sha1').update(ns).update(name, 'utf8').digest().subarray(0, 16);
  bytes[6] = (bytes[6] & 0x0f) | 0x50;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** A stable opaque token (32 hex chars) for a name, e.g. a derived OAuth client_id. */
export function stableToken(name: string): string {
  return createHash('sha256').update(name, 'utf8').digest('hex').slice(0, 32);
}
