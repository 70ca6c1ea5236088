import { createPublicKey, type JsonWebKeyInput, type KeyObject } from 'node:crypto';
import { Agent, request, type Dispatcher } from 'undici';
import type { Logger } from 'pino';
import { ServiceUnavailableError } from '../../core/errors.js';
import { invalidToken } from '../jwt/parse.js';
import { readBounded } from '../../core/boundedBody.js';

/** At most one refetch per this interval for an unknown `kid` (SPEC §5). */
export const UNKNOWN_KID_REFETCH_MS = 30_000;
const FETCH_TIMEOUT_MS = 5_000;
/** A whole fetch (discovery or JWKS), however its bytes trickle in. */
const FETCH_DEADLINE_MS = 10_000;
/** With no key at all, requests get 503 at once for this long after a failed fetch. */
const NO_KEYS_RETRY_MS = 2_000;
const MAX_BODY_BYTES = 1024 * 1024;
/** The shortest key cache: `cache_ttl: 0` refetches at most once a second, not once per request. */
const MIN_TTL_MS = 1_000;
/** Key types jose verifies with: Ed448 and RSASSA-PSS-only (`rsa-pss`) keys are not among them. */
const VERIFIABLE = new Set(['rsa', 'ec', 'ed25519']);

let verifying: Agent | null = null;
let insecure: Agent | null = null;

/** The one undici Agent for key endpoints (per TLS-verification mode), created on first use. */
export function jwksDispatcher(sslVerify: boolean): Dispatcher {
  const opts = { connect: { timeout: FETCH_TIMEOUT_MS, rejectUnauthorized: sslVerify }, headersTimeout: FETCH_TIMEOUT_MS, bodyTimeout: FETCH_TIMEOUT_MS };
  if (sslVerify) return (verifying ??= new Agent(opts));
  return (insecure ??= new Agent(opts));
}

interface KeyEntry {
  key: KeyObject;
  alg: string | null;
}

interface Jwk extends Record<string, unknown> {
  kid?: unknown;
  use?: unknown;
  alg?: unknown;
  kty?: unknown;
}

export interface RemoteKeySetOptions {
  jwksUri: string | null;
  discoveryUrl: string | null;
  ttlMs: number;
  algorithms: ReadonlySet<string>;
  dispatcher: Dispatcher;
  logger: Logger;
}

async function getJson(url: string, dispatcher: Dispatcher): Promise<Record<string, unknown>> {
  // undici's timeouts bound the gaps (connect, headers, each body chunk); the signal bounds the
  // whole fetch, so an endpoint that trickles its answer cannot hold the requests waiting for
  // keys, nor block every later refresh behind a fetch that never ends.
  const res = await request(url, { dispatcher, headers: { accept: 'application/json' }, signal: AbortSignal.timeout(FETCH_DEADLINE_MS) });
  if (res.statusCode !== 200) {
    await res.body.dump();
    throw new Error(`${url} answered ${res.statusCode}`);
  }
  const bytes = await readBounded(res.body, MAX_BODY_BYTES);
  if (bytes === null) throw new Error(`${url}: document larger than ${MAX_BODY_BYTES} bytes`);
  let value: unknown;
  try {
    value = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw new Error(`${url}: not JSON`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new Error(`${url}: not a JSON object`);
  return value as Record<string, unknown>;
}

/**
 * The signing keys of a remote issuer (a JWKS), parsed once into KeyObjects and cached for
 * `ttlMs`. An unknown `kid` triggers one refetch, at most once per 30 s, so rotation works
 * without a restart. When the endpoint is down, the keys already known keep serving (and
 * retries are spaced out); with no key ever fetched, requests get 503.
 */
export class RemoteKeySet {
  private keys: Map<string, KeyEntry> | null = null;
  private fetchedAt = 0;
  private retryAfter = 0;
  private lastUnknownKidFetch = -Infinity;
  private refreshing: Promise<boolean> | null = null;
  private discoveredIssuer: string | null = null;
  private readonly ttlMs: number;

  constructor(private readonly opts: RemoteKeySetOptions) {
    this.ttlMs = Math.max(opts.ttlMs, MIN_TTL_MS);
  }

  /** The issuer named by the discovery document (null before the first fetch or without one). */
  get issuer(): string | null {
    return this.discoveredIssuer;
  }

  /** The key for a token header; throws 401 for an unknown key, 503 when no keys can be had. */
  async keyFor(kid: string | null, alg: string): Promise<KeyObject> {
    const now = Date.now();
    if (this.keys === null) {
      if (now >= this.retryAfter) await this.refresh();
    } else if (now - this.fetchedAt >= this.ttlMs && now >= this.retryAfter) {
      void this.refresh(); // stale-while-revalidate: the known keys answer this request
    }
    if (this.keys === null) throw new ServiceUnavailableError('The identity provider is unavailable, try again later');
    let found = this.find(kid, alg);
    if (found === null && kid !== null && Date.now() - this.lastUnknownKidFetch >= UNKNOWN_KID_REFETCH_MS) {
      this.lastUnknownKidFetch = Date.now();
      await this.refresh();
      found = this.find(kid, alg);
    }
    if (found === null) throw invalidToken('Unknown signing key');
    return found;
  }

  /** True while `kid` still maps to `key` in the current key set (cache-hit re-check, synchronous). */
  stillHas(kid: string | null, key: KeyObject): boolean {
    if (this.keys === null) return false;
    if (kid === null) {
      for (const e of this.keys.values()) if (e.key === key) return true;
      return false;
    }
    return this.keys.get(kid)?.key === key;
  }

  private find(kid: string | null, alg: string): KeyObject | null {
    const keys = this.keys;
    if (keys === null) return null;
    if (kid !== null) {
      const e = keys.get(kid);
      return e !== undefined && (e.alg === null || e.alg === alg) ? e.key : null;
    }
    // No kid: only unambiguous when exactly one key could have signed it.
    const candidates = [...keys.values()].filter((e) => e.alg === null || e.alg === alg);
    return candidates.length === 1 ? candidates[0]!.key : null;
  }

  /** Fetches the key set (one fetch at a time); false when it failed. Never throws. */
  refresh(): Promise<boolean> {
    this.refreshing ??= this.fetchKeys().finally(() => (this.refreshing = null));
    return this.refreshing;
  }

  private async fetchKeys(): Promise<boolean> {
    try {
      let jwksUri = this.opts.jwksUri;
      if (jwksUri === null) {
        const doc = await getJson(this.opts.discoveryUrl!, this.opts.dispatcher);
        if (typeof doc.jwks_uri !== 'string') throw new Error(`${this.opts.discoveryUrl}: no jwks_uri in the discovery document`);
        jwksUri = doc.jwks_uri;
        if (typeof doc.issuer === 'string') this.discoveredIssuer = doc.issuer;
      }
      const jwks = await getJson(jwksUri, this.opts.dispatcher);
      this.keys = this.parse(jwks, jwksUri);
      this.fetchedAt = Date.now();
      this.retryAfter = 0;
      return true;
    } catch (err) {
      // Space out retries while the endpoint is down; known keys keep serving meanwhile.
      this.retryAfter = Date.now() + (this.keys ? Math.min(UNKNOWN_KID_REFETCH_MS, this.ttlMs) : NO_KEYS_RETRY_MS);
      this.opts.logger.warn({ err: (err as Error).message }, this.keys ? 'JWKS fetch failed; the cached keys keep serving' : 'JWKS fetch failed; no keys yet');
      return false;
    }
  }

  /**
   * The key set of a JWKS document. A key already known (same `kid`, `alg` and material) keeps
   * its KeyObject, so a refresh that brings the same keys leaves the verified-token cache
   * valid (`stillHas` compares KeyObjects).
   */
  private parse(jwks: Record<string, unknown>, uri: string): Map<string, KeyEntry> {
    if (!Array.isArray(jwks.keys)) throw new Error(`${uri}: not a JWKS (no "keys" array)`);
    const known = this.keys;
    const keys = new Map<string, KeyEntry>();
    let anonymous = 0;
    for (const jwk of jwks.keys as Jwk[]) {
      if (jwk === null || typeof jwk !== 'object' || jwk.use === 'enc') continue;
      const alg = typeof jwk.alg === 'string' ? jwk.alg : null;
      if (alg !== null && !this.opts.algorithms.has(alg)) continue;
      try {
        const key = createPublicKey({ key: jwk, format: 'jwk' } as JsonWebKeyInput);
        if (!VERIFIABLE.has(key.asymmetricKeyType ?? '')) {
          this.opts.logger.warn({ kid: jwk.kid, type: key.asymmetricKeyType }, 'JWKS: skipping a key of a type that cannot verify tokens');
          continue;
        }
        const id = typeof jwk.kid === 'string' ? jwk.kid : `\u0000${anonymous++}`;
        const old = known?.get(id);
        keys.set(id, old !== undefined && old.alg === alg && old.key.equals(key) ? old : { key, alg });
      } catch {
        this.opts.logger.warn({ kid: jwk.kid }, 'JWKS: skipping a key that cannot be parsed');
      }
    }
    return keys;
  }
}
