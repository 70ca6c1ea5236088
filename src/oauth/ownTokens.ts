import { errors as joseErrors, jwtVerify, SignJWT } from 'jose';
import { emptyIdentity, type Identity } from '../core/context.js';
import type { PluginEnv } from '../core/plugin.js';
import type { Acceptance, TokenAuthority } from '../plugins/jwt/authority.js';
import { stringList } from '../plugins/jwt/identity.js';
import { invalidToken, type ParsedJwt } from '../plugins/jwt/parse.js';
import type { ClientInfo } from './clientCache.js';
import { acquireOAuthShared, type OAuthShared } from './shared.js';
import { SigningKeys } from './signingKeys.js';

/**
 * tollgate's own access tokens (RFC 9068): issued here, verified here for both the `oauth2`
 * and the `jwt` plugin (SPEC §5: accepted on any route with either). A token is "ours" when
 * its header says `typ: at+jwt` with a `kid` of `gateway.signing_keys` and its `iss` is
 * `gateway.issuer`; anything else is left to the other authorities.
 */

export interface AccessTokenClaims {
  iss: string;
  sub: string;
  aud: string;
  client_id: string;
  /** Seconds since the epoch. */
  iat: number;
  exp: number;
  jti: string;
  /** Space-separated. */
  scope: string;
}

/** Signs with the first signing key: header `{alg, typ: 'at+jwt', kid}`. */
export function signAccessToken(keys: SigningKeys, claims: AccessTokenClaims): Promise<string> {
  const k = keys.signer;
  return new SignJWT({ client_id: claims.client_id, scope: claims.scope })
    .setProtectedHeader({ alg: k.alg, typ: 'at+jwt', kid: k.kid })
    .setIssuer(claims.iss)
    .setSubject(claims.sub)
    .setAudience(claims.aud)
    .setIssuedAt(claims.iat)
    .setExpirationTime(claims.exp)
    .setJti(claims.jti)
    .sign(k.privateKey);
}

interface Proof {
  jti: string;
  clientId: string;
  iatMs: number;
  credentialId: string;
}

function isAtJwt(typ: unknown): boolean {
  return typeof typ === 'string' && (typ.toLowerCase() === 'at+jwt' || typ.toLowerCase() === 'application/at+jwt');
}

/** Grace for a credential created on a replica whose clock runs ahead of the issuing one. */
const CLOCK_GRACE_MS = 5_000;

/** The client still exists and is the one the token was issued to (not deleted and re-created since). */
function clientStands(client: ClientInfo | null, proof: Proof): boolean {
  return client !== null && (client.credential.id === proof.credentialId || client.credential.created_at <= proof.iatMs + CLOCK_GRACE_MS);
}

export class OwnTokenAuthority implements TokenAuthority {
  constructor(
    readonly keys: SigningKeys,
    readonly issuer: string,
    readonly shared: OAuthShared,
    private readonly method: string,
  ) {}

  handles(jwt: ParsedJwt): boolean {
    const kid = jwt.header.kid;
    return typeof kid === 'string' && isAtJwt(jwt.header.typ) && jwt.payload.iss === this.issuer && this.keys.get(kid) !== undefined;
  }

  async verify(jwt: ParsedJwt, nowMs: number): Promise<Acceptance> {
    await this.shared.feed.ready;
    const key = this.keys.get(String(jwt.header.kid));
    if (key === undefined) throw invalidToken('Invalid signature');
    let payload;
    try {
      ({ payload } = await jwtVerify(jwt.raw, key.publicKey, {
        algorithms: [key.alg],
        issuer: this.issuer,
        audience: this.issuer,
        typ: 'at+jwt',
        currentDate: new Date(nowMs),
        requiredClaims: ['exp', 'iat', 'jti', 'sub', 'client_id'],
      }));
    } catch (err) {
      throw invalidToken(err instanceof joseErrors.JWTExpired ? 'Token expired' : err instanceof joseErrors.JWSSignatureVerificationFailed ? 'Invalid signature' : 'Invalid token');
    }
    const jti = String(payload.jti);
    if (this.shared.feed.list.has(jti)) throw invalidToken('The access token has been revoked');
    const clientId = String(payload.client_id);
    let client = this.shared.clients.get(clientId, nowMs);
    if (client instanceof Promise) client = await client;
    const proof: Proof = { jti, clientId, iatMs: Number(payload.iat) * 1000, credentialId: client?.credential.id ?? '' };
    if (client === null || !clientStands(client, { ...proof, credentialId: '' })) throw invalidToken('The client of this token no longer exists');
    return { identity: this.identity(payload, client), expiresAt: Number(payload.exp) * 1000, authority: this, proof };
  }

  stillValid(acceptance: Acceptance, nowMs: number): boolean | Promise<boolean> {
    const proof = acceptance.proof as Proof;
    if (this.shared.feed.list.has(proof.jti)) return false;
    const client = this.shared.clients.get(proof.clientId, nowMs);
    return client instanceof Promise ? client.then((c) => clientStands(c, proof)) : clientStands(client, proof);
  }

  private identity(payload: Record<string, unknown>, client: ClientInfo): Identity {
    const id = emptyIdentity(this.method);
    const sub = String(payload.sub);
    id.userId = sub;
    id.authenticatedUserid = sub;
    id.clientId = client.credential.client_id;
    id.credentialId = client.credential.client_id;
    id.consumerId = client.credential.consumer_id;
    id.consumerUsername = client.consumerUsername;
    id.consumerCustomId = client.consumerCustomId;
    id.scopes = stringList(payload.scope);
    id.claims = Object.freeze({ ...payload });
    return id;
  }

  /** Stored entities changed: forget cached clients. */
  clear(): void {
    this.shared.clients.clear();
  }

  release(): Promise<void> {
    return this.shared.release();
  }
}

/**
 * The authority for tollgate's own tokens, for a plugin entry (`method` = its name, the
 * audit `auth_method`); null when the config has no `gateway.issuer` or no signing key (then
 * there are no such tokens). The caller releases it in its `close()`.
 */
export function ownTokenAuthority(env: PluginEnv, method: string): OwnTokenAuthority | null {
  const issuer = env.gateway.issuer;
  if (issuer === undefined) return null;
  const keys = SigningKeys.load(env.gateway);
  if (keys === null) return null;
  const shared = acquireOAuthShared({ store: env.store, redisUrl: env.gateway.redis, logger: env.logger, cacheTtlMs: env.gateway.db_cache_ttl });
  return new OwnTokenAuthority(keys, issuer, shared, method);
}
