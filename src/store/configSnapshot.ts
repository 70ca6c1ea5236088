import type { z } from 'zod';
import { UserError } from '../core/errors.js';
import type { ConsumerEntry, TollgateConfig, consumerEntry, workspaceEntry } from '../config/schema.js';
import { stableToken, uuidV5 } from './deterministicId.js';
import { hashSecret, isSecretHash, verifySecret } from './secretHash.js';
import type { EntitySnapshot, JwtSecret, OAuth2Credential, SnapshotConsumer, SnapshotWorkspace, Store } from './types.js';

/**
 * The config file's `consumers:` and `workspaces:` ↔ an EntitySnapshot.
 *
 * configSnapshot (load, reload, import): entries without an `id` get a name-based UUID from
 * their natural key (`consumer:username:<u>` or `consumer:custom_id:<c>`, `jwt:<key>`,
 * `oauth2:<client_id>`), so reloads never churn ids; a missing `client_id` is derived from the
 * consumer and the credential name; `client_secret` is hashed (`client_secret_hash` is taken as
 * is). configEntities (export) is the inverse, with hashes instead of secrets.
 */

type ConfigEntities = Pick<TollgateConfig, 'consumers' | 'workspaces'>;
type OAuth2Entry = ConsumerEntry['oauth2_credentials'][number];
type JwtEntry = ConsumerEntry['jwt_secrets'][number];

export interface ConfigSnapshotOptions {
  /**
   * When given, a plain `client_secret` whose stored hash (same client_id) still verifies keeps
   * that hash, so a restart does not rewrite every credential with a fresh salt (within one
   * process, hashes already made are reused anyway).
   */
  store?: Pick<Store, 'oauth2Credentials'>;
}

function consumerKey(c: ConsumerEntry): string {
  return c.username !== undefined ? `username:${c.username}` : `custom_id:${c.custom_id ?? ''}`;
}

/** Refuses two entries sharing a unique field, naming both places. */
class UniqueFields {
  private readonly seen = new Map<string, string>();
  /** `kind` separates namespaces (a consumer id and a credential id never clash). */
  claim(kind: string, field: string, value: string | undefined, path: string): void {
    if (value === undefined) return;
    const k = `${kind}\u0000${field}\u0000${value}`;
    const first = this.seen.get(k);
    if (first !== undefined) throw new UserError(`${path}.${field}: '${value}' is already used by ${first}`);
    this.seen.set(k, path);
  }
}

/** Validates the secret fields; returns the hash to store, or the plain secret still to hash. */
function secretOf(o: OAuth2Entry, path: string): { hash: string | null } | { plain: string } {
  if (o.client_type === 'public') {
    if (o.client_secret !== undefined || o.client_secret_hash !== undefined) throw new UserError(`${path}: a public client has no client_secret`);
    return { hash: null };
  }
  if (o.client_secret !== undefined && o.client_secret_hash !== undefined) {
    throw new UserError(`${path}: set client_secret or client_secret_hash, not both`);
  }
  if (o.client_secret_hash !== undefined) {
    if (!isSecretHash(o.client_secret_hash)) {
      throw new UserError(`${path}.client_secret_hash: expected scrypt$16384$8$1$<salt>$<hash> as 'tollgate config export' writes it`);
    }
    return { hash: o.client_secret_hash };
  }
  if (o.client_secret === undefined) throw new UserError(`${path}: a confidential client needs client_secret (or client_secret_hash)`);
  return { plain: o.client_secret };
}

/**
 * Hashes this process already made for (client_id, plain secret), so a reload costs no scrypt
 * work. It holds nothing the loaded config does not hold already; bounded for long-lived
 * processes with many rotations.
 */
const hashedBefore = new Map<string, string>();
const HASHED_BEFORE_MAX = 10_000;

async function hashFor(clientId: string, plain: string, opts: ConfigSnapshotOptions): Promise<string> {
  const memoKey = `${clientId}\u0000${plain}`;
  const known = hashedBefore.get(memoKey);
  if (known !== undefined) return known;
  const stored = await opts.store?.oauth2Credentials.getByClientId(clientId);
  const hash =
    stored?.client_secret_hash && (await verifySecret(plain, stored.client_secret_hash)) ? stored.client_secret_hash : await hashSecret(plain);
  if (hashedBefore.size >= HASHED_BEFORE_MAX) hashedBefore.clear();
  hashedBefore.set(memoKey, hash);
  return hash;
}

function jwtSecretOf(s: JwtEntry, consumerId: string, now: number): JwtSecret {
  return {
    id: s.id ?? uuidV5(`jwt:${s.key}`),
    consumer_id: consumerId,
    key: s.key,
    algorithm: s.algorithm,
    rsa_public_key: s.rsa_public_key ?? null,
    secret: s.secret ?? null,
    tags: s.tags,
    source: 'config',
    created_at: now,
  };
}

/** A credential whose secret still has to be hashed. */
interface PendingHash {
  cred: OAuth2Credential;
  plain: string;
}

function oauth2CredentialOf(o: OAuth2Entry, c: ConsumerEntry, consumerId: string, path: string, now: number, pending: PendingHash[]): OAuth2Credential {
  const clientId = o.client_id ?? stableToken(`oauth2-client:${consumerKey(c)}:${o.name}`);
  const secret = secretOf(o, path);
  const cred: OAuth2Credential = {
    id: o.id ?? uuidV5(`oauth2:${clientId}`),
    consumer_id: consumerId,
    name: o.name,
    client_id: clientId,
    client_secret_hash: 'hash' in secret ? secret.hash : null,
    client_type: o.client_type,
    redirect_uris: o.redirect_uris,
    tags: o.tags,
    source: 'config',
    created_at: now,
  };
  if ('plain' in secret) pending.push({ cred, plain: secret.plain });
  return cred;
}

function consumerOf(c: ConsumerEntry, i: number, unique: UniqueFields, pending: PendingHash[]): SnapshotConsumer {
  const path = `consumers[${i}]`;
  unique.claim('consumer', 'username', c.username, path);
  unique.claim('consumer', 'custom_id', c.custom_id, path);
  const id = c.id ?? uuidV5(`consumer:${consumerKey(c)}`);
  unique.claim('consumer', 'id', id, path);
  const now = Date.now();
  const jwt_secrets = c.jwt_secrets.map((s, j) => {
    const secret = jwtSecretOf(s, id, now);
    unique.claim('jwt', 'key', s.key, `${path}.jwt_secrets[${j}]`);
    unique.claim('jwt', 'id', secret.id, `${path}.jwt_secrets[${j}]`);
    return secret;
  });
  const oauth2_credentials = c.oauth2_credentials.map((o, j) => {
    const cred = oauth2CredentialOf(o, c, id, `${path}.oauth2_credentials[${j}]`, now, pending);
    unique.claim('oauth2', 'client_id', cred.client_id, `${path}.oauth2_credentials[${j}]`);
    unique.claim('oauth2', 'id', cred.id, `${path}.oauth2_credentials[${j}]`);
    return cred;
  });
  return { id, username: c.username ?? null, custom_id: c.custom_id ?? null, tags: c.tags, source: 'config', created_at: now, jwt_secrets, oauth2_credentials };
}

/**
 * The config file's entities as a snapshot (`source: 'config'`). Checks run first, in file
 * order (a UserError names the entry); then plain secrets are hashed in parallel.
 */
export async function configSnapshot(config: ConfigEntities, opts: ConfigSnapshotOptions = {}): Promise<EntitySnapshot> {
  const unique = new UniqueFields();
  const pending: PendingHash[] = [];
  const consumers = config.consumers.map((c, i) => consumerOf(c, i, unique, pending));
  const now = Date.now();
  const workspaces = config.workspaces.map((w, i): SnapshotWorkspace => {
    unique.claim('workspace', 'id', w.id, `workspaces[${i}]`);
    return { id: w.id, token_budget_day: w.token_budget_day, source: 'config', created_at: now, updated_at: now, members: [...new Set(w.members)] };
  });
  await Promise.all(
    pending.map(async (p) => {
      p.cred.client_secret_hash = await hashFor(p.cred.client_id, p.plain, opts);
    }),
  );
  return { consumers, workspaces };
}

export type ConsumerInput = z.input<typeof consumerEntry>;
export type WorkspaceInput = z.input<typeof workspaceEntry>;

/**
 * A snapshot as the config file's `consumers:` / `workspaces:` sections (config export): ids
 * kept, secrets as `client_secret_hash`, empty optional fields left out. Parsing the result
 * with the config schema and passing it to configSnapshot gives the same entities back.
 */
export function configEntities(snapshot: EntitySnapshot): { consumers: ConsumerInput[]; workspaces: WorkspaceInput[] } {
  const consumers = snapshot.consumers.map(
    (c): ConsumerInput => ({
      id: c.id,
      ...(c.username !== null ? { username: c.username } : {}),
      ...(c.custom_id !== null ? { custom_id: c.custom_id } : {}),
      tags: c.tags,
      jwt_secrets: c.jwt_secrets.map((s) => ({
        id: s.id,
        key: s.key,
        algorithm: s.algorithm as JwtEntry['algorithm'],
        ...(s.rsa_public_key !== null ? { rsa_public_key: s.rsa_public_key } : {}),
        ...(s.secret !== null ? { secret: s.secret } : {}),
        tags: s.tags,
      })),
      oauth2_credentials: c.oauth2_credentials.map((o) => ({
        id: o.id,
        name: o.name,
        client_id: o.client_id,
        ...(o.client_secret_hash !== null ? { client_secret_hash: o.client_secret_hash } : {}),
        client_type: o.client_type,
        redirect_uris: o.redirect_uris,
        tags: o.tags,
      })),
    }),
  );
  const workspaces = snapshot.workspaces.map((w): WorkspaceInput => ({ id: w.id, token_budget_day: w.token_budget_day, members: w.members }));
  return { consumers, workspaces };
}
