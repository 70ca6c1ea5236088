import { createRemoteJWKSet, jwtVerify, type JWTVerifyGetKey } from 'jose';
import { request } from 'undici';
import type { IdentityProviderConfig } from '../plugins/oauth2/schema.js';
import { OAuthError } from './errors.js';
import { readBounded } from '../core/boundedBody.js';

/**
 * tollgate as an OpenID Connect client of the upstream identity provider (`identity_provider`,
 * e.g. Keycloak) during the browser flow: authorization code + PKCE S256 + nonce, confidential
 * (client_secret_basic or _post, as the provider advertises) or public. The provider's
 * discovery document is read on first use (and again after a failure); its keys through
 * jose's remote JWKS (refetched on an unknown `kid`, so provider key rotation just works).
 */

interface IdpMetadata {
  issuer: string;
  authorization_endpoint: string;
  token_endpoint: string;
  jwks_uri: string;
  token_endpoint_auth_methods_supported?: string[];
  id_token_signing_alg_values_supported?: string[];
  authorization_response_iss_parameter_supported?: boolean;
}

const TIMEOUT_MS = 5000;
const MAX_BODY_BYTES = 1024 * 1024;

/** jose's remote JWKS failing to fetch (timeout, network, non-200, not a JWKS), not a key mismatch. */
function jwksUnreachable(err: unknown): boolean {
  if (err instanceof TypeError) return true; // fetch failed
  const code = (err as { code?: string } | null)?.code;
  if (code === 'ERR_JWKS_TIMEOUT' || code === 'ERR_JWKS_INVALID') return true;
  return code === 'ERR_JOSE_GENERIC' && /JSON Web Key Set HTTP response/.test((err as Error).message);
}

function unavailable(what: string, cause?: unknown): OAuthError {
  return new OAuthError('temporarily_unavailable', `the identity provider is unavailable (${what}); try again later`, { cause });
}

async function fetchJson(url: string, init: { method?: 'GET' | 'POST'; headers?: Record<string, string>; body?: string } = {}): Promise<{ status: number; body: unknown }> {
  // The signal bounds the whole exchange (undici's timeouts only the gaps between chunks), and
  // the body is read up to MAX_BODY_BYTES: a provider that trickles or floods cannot hold a login.
  const res = await request(url, {
    method: init.method ?? 'GET',
    headers: { accept: 'application/json', ...init.headers },
    body: init.body,
    headersTimeout: TIMEOUT_MS,
    bodyTimeout: TIMEOUT_MS,
    signal: AbortSignal.timeout(2 * TIMEOUT_MS),
  });
  const bytes = await readBounded(res.body, MAX_BODY_BYTES);
  let body: unknown = null;
  try {
    body = bytes === null ? null : JSON.parse(bytes.toString('utf8'));
  } catch {
    body = null;
  }
  return { status: res.statusCode, body };
}

function isMetadata(v: unknown): v is IdpMetadata {
  if (v === null || typeof v !== 'object') return false;
  const m = v as Record<string, unknown>;
  return ['issuer', 'authorization_endpoint', 'token_endpoint', 'jwks_uri'].every((k) => typeof m[k] === 'string');
}

export class UpstreamIdp {
  private metadata: Promise<{ meta: IdpMetadata; jwks: JWTVerifyGetKey }> | null = null;

  constructor(
    private readonly config: IdentityProviderConfig,
    /** tollgate's callback, registered at the provider: `${issuer}/oauth2/callback`. */
    readonly callbackUri: string,
  ) {}

  get issuer(): string {
    return this.config.issuer;
  }

  private discover(): Promise<{ meta: IdpMetadata; jwks: JWTVerifyGetKey }> {
    this.metadata ??= (async () => {
      const url = `${this.config.issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`;
      let res;
      try {
        res = await fetchJson(url);
      } catch (err) {
        throw unavailable('discovery failed', err);
      }
      if (res.status !== 200 || !isMetadata(res.body)) throw unavailable(`discovery answered ${res.status}`);
      if (res.body.issuer !== this.config.issuer) throw unavailable(`its discovery names issuer ${res.body.issuer}, not ${this.config.issuer}`);
      return { meta: res.body, jwks: createRemoteJWKSet(new URL(res.body.jwks_uri), { timeoutDuration: TIMEOUT_MS }) };
    })();
    this.metadata.catch(() => (this.metadata = null));
    return this.metadata;
  }

  /** Where to send the browser: the provider's authorization endpoint with our request. */
  async authorizationUrl(p: { state: string; nonce: string; challenge: string }): Promise<string> {
    const { meta } = await this.discover();
    const url = new URL(meta.authorization_endpoint);
    const scopes = new Set(['openid', ...this.config.scopes]);
    const params: Record<string, string> = {
      response_type: 'code',
      client_id: this.config.client_id,
      redirect_uri: this.callbackUri,
      scope: [...scopes].join(' '),
      state: p.state,
      nonce: p.nonce,
      code_challenge: p.challenge,
      code_challenge_method: 'S256',
    };
    for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
    return url.toString();
  }

  /** RFC 9207: when the provider sends `iss` (or says it always does), it must be its issuer. */
  async checkIss(iss: string | null): Promise<void> {
    const { meta } = await this.discover();
    if (iss === null ? meta.authorization_response_iss_parameter_supported === true : iss !== meta.issuer) {
      throw new OAuthError('access_denied', 'the login response did not come from the configured identity provider');
    }
  }

  /** Redeems the provider's code and returns the verified ID token's `sub`. */
  async userOf(code: string, verifier: string, nonce: string): Promise<string> {
    const { meta, jwks } = await this.discover();
    const form = new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: this.callbackUri, code_verifier: verifier });
    const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
    const secret = this.config.client_secret;
    const methods = meta.token_endpoint_auth_methods_supported ?? ['client_secret_basic'];
    if (secret !== undefined && methods.includes('client_secret_basic')) {
      const enc = (s: string) => encodeURIComponent(s).replace(/%20/g, '+');
      headers.authorization = `Basic ${Buffer.from(`${enc(this.config.client_id)}:${enc(secret)}`).toString('base64')}`;
    } else {
      form.set('client_id', this.config.client_id);
      if (secret !== undefined) form.set('client_secret', secret);
    }
    let res;
    try {
      res = await fetchJson(meta.token_endpoint, { method: 'POST', headers, body: form.toString() });
    } catch (err) {
      throw unavailable('token request failed', err);
    }
    const idToken = (res.body as { id_token?: unknown } | null)?.id_token;
    if (res.status >= 500) throw unavailable(`token endpoint answered ${res.status}`);
    if (res.status !== 200 || typeof idToken !== 'string') throw new OAuthError('access_denied', `the identity provider refused the login (token endpoint answered ${res.status})`);
    return this.verifyIdToken(idToken, nonce, meta, jwks);
  }

  private async verifyIdToken(idToken: string, nonce: string, meta: IdpMetadata, jwks: JWTVerifyGetKey): Promise<string> {
    let payload;
    try {
      ({ payload } = await jwtVerify(idToken, jwks, {
        issuer: meta.issuer,
        audience: this.config.client_id,
        algorithms: meta.id_token_signing_alg_values_supported?.filter((a) => a !== 'none') ?? ['RS256'],
        requiredClaims: ['sub', 'exp', 'iat'],
        clockTolerance: 30,
      }));
    } catch (err) {
      // Its keys could not be fetched: an outage, not a forged token.
      if (jwksUnreachable(err)) throw unavailable('its JWKS could not be fetched', err);
      throw new OAuthError('access_denied', 'the identity provider returned an ID token that does not verify', { cause: err });
    }
    if (payload.nonce !== nonce) throw new OAuthError('access_denied', 'the ID token nonce does not match this login');
    // OIDC Core §3.1.3.7: an azp, when present (and required with several audiences), is us.
    if ((payload.azp !== undefined || (Array.isArray(payload.aud) && payload.aud.length > 1)) && payload.azp !== this.config.client_id) {
      throw new OAuthError('access_denied', 'the ID token was issued to another client (azp)');
    }
    // §2: sub is a non-empty string of at most 255 characters; anything else would map distinct
    // malformed subjects onto one user ("[object Object]", "a,b").
    if (typeof payload.sub !== 'string' || payload.sub === '' || payload.sub.length > 255) {
      throw new OAuthError('access_denied', 'the ID token has no usable sub (a non-empty string of at most 255 characters)');
    }
    return payload.sub;
  }
}
