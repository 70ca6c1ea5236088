/**
 * The entity store: one repository interface, two backends (SQLite embedded, PostgreSQL for
 * replicas) built on kysely, both passing the same contract suite (src/store/contract.test.ts).
 * Times are milliseconds since the epoch. Ids are UUIDs unless given.
 *
 * Errors: a unique clash throws DuplicateEntityError (entity, field, value); a credential or
 * member pointing at a missing consumer throws ReferenceNotFoundError; an unreachable or
 * timed-out database throws StoreUnavailableError (never a hang: connect 3 s, request-path
 * lookups 3 s, statement 10 s).
 */

export { DuplicateEntityError, ReferenceNotFoundError, StoreUnavailableError, StoreMigrationError, UnstorableTextError } from './errors.js';
import type { OAuth2TokenRepo } from './oauth2Types.js';
import type { StoreHealthView } from './health.js';
export type * from './oauth2Types.js';

/** Where an entity came from: the config file (re-synced on load/reload) or the Admin API. */
export type EntitySource = 'config' | 'admin';

export interface Consumer {
  id: string;
  username: string | null;
  custom_id: string | null;
  tags: string[];
  source: EntitySource;
  created_at: number;
}

export interface JwtSecret {
  id: string;
  consumer_id: string;
  /** Matched against the token's key claim (`iss` by default). Unique. */
  key: string;
  algorithm: string;
  rsa_public_key: string | null;
  /** HS* shared secret. */
  secret: string | null;
  tags: string[];
  source: EntitySource;
  created_at: number;
}

export interface OAuth2Credential {
  id: string;
  consumer_id: string;
  name: string;
  client_id: string;
  /** scrypt hash of the client secret (`scrypt$N$r$p$salt$hash`); null for public clients. */
  client_secret_hash: string | null;
  client_type: 'confidential' | 'public';
  redirect_uris: string[];
  tags: string[];
  source: EntitySource;
  created_at: number;
}

export interface Workspace {
  id: string;
  /** Overrides the token-budget plugin's default `day` budget; null = default. */
  token_budget_day: number | null;
  source: EntitySource;
  created_at: number;
  updated_at: number;
}

export interface WorkspaceMember {
  workspace_id: string;
  user_id: string;
  source: EntitySource;
  created_at: number;
}

export type NewConsumer = Omit<Consumer, 'id' | 'created_at' | 'source'> & Partial<Pick<Consumer, 'id' | 'created_at' | 'source'>>;
export type NewJwtSecret = Omit<JwtSecret, 'id' | 'created_at' | 'source'> & Partial<Pick<JwtSecret, 'id' | 'created_at' | 'source'>>;
export type NewOAuth2Credential = Omit<OAuth2Credential, 'id' | 'created_at' | 'source'> &
  Partial<Pick<OAuth2Credential, 'id' | 'created_at' | 'source'>>;

/** Declarative snapshot of stored entities (config export/import, SPEC §1). */
export interface EntitySnapshot {
  consumers: Array<Consumer & { jwt_secrets: JwtSecret[]; oauth2_credentials: OAuth2Credential[] }>;
  workspaces: Array<Workspace & { members: string[] }>;
}

export type SnapshotConsumer = EntitySnapshot['consumers'][number];
export type SnapshotWorkspace = EntitySnapshot['workspaces'][number];

export interface SyncOptions {
  /** Source written on new rows (and, with `replace`, taken over by existing ones). */
  source: EntitySource;
  /**
   * `replace`: the `source` slice becomes equal to the snapshot; rows of that source missing
   * from it are deleted, rows of the other source are never deleted (config file sync on load
   * and reload). `merge`: upsert only, existing rows keep their source (config import).
   */
  mode: 'replace' | 'merge';
}

export interface ListOptions {
  offset?: number;
  /** Omitted = every row. */
  limit?: number;
}

export interface Store {
  readonly kind: 'sqlite' | 'postgres';
  /** Where the data lives, password redacted (`sqlite /abs/path.db`, `postgres://u@h:5432/db`), for logs. */
  readonly location: string;
  /** Applies pending migrations (idempotent; safe with several replicas starting at once). */
  migrate(): Promise<string[]>;
  /** True when the store answers `select 1` within `timeoutMs` (default 1000); never throws. */
  ping(timeoutMs?: number): Promise<boolean>;
  /** Whether the last queries reached the store; request-path caches consult it (health.ts). */
  readonly health: StoreHealthView;
  close(): Promise<void>;

  consumers: {
    /** Oldest first. */
    list(opts?: ListOptions): Promise<Consumer[]>;
    /** By id or username (Kong's `{consumer}` path parameter). */
    get(idOrUsername: string): Promise<Consumer | null>;
    create(c: NewConsumer): Promise<Consumer>;
    update(id: string, patch: Partial<Pick<Consumer, 'username' | 'custom_id' | 'tags'>>): Promise<Consumer | null>;
    /** Deletes the consumer and its credentials; false when absent. */
    delete(id: string): Promise<boolean>;
  };
  jwtSecrets: {
    listByConsumer(consumerId: string): Promise<JwtSecret[]>;
    get(id: string): Promise<JwtSecret | null>;
    getByKey(key: string): Promise<JwtSecret | null>;
    create(s: NewJwtSecret): Promise<JwtSecret>;
    delete(id: string): Promise<boolean>;
  };
  oauth2Credentials: {
    listByConsumer(consumerId: string): Promise<OAuth2Credential[]>;
    get(id: string): Promise<OAuth2Credential | null>;
    getByClientId(clientId: string): Promise<OAuth2Credential | null>;
    create(c: NewOAuth2Credential): Promise<OAuth2Credential>;
    delete(id: string): Promise<boolean>;
  };
  workspaces: {
    /** Oldest first. */
    list(opts?: ListOptions): Promise<Workspace[]>;
    get(id: string): Promise<Workspace | null>;
    /** Creates or updates the budget override (an existing row keeps its source). */
    upsert(id: string, patch: { token_budget_day: number | null; source?: EntitySource }): Promise<Workspace>;
    /** Deletes the workspace and its memberships; false when absent. */
    delete(id: string): Promise<boolean>;
    /** Idempotent; creates the workspace (no override) when absent; returns the stored membership. */
    addMember(workspaceId: string, userId: string, source?: EntitySource): Promise<WorkspaceMember>;
    removeMember(workspaceId: string, userId: string): Promise<boolean>;
    isMember(workspaceId: string, userId: string): Promise<boolean>;
    listMembers(workspaceId: string): Promise<WorkspaceMember[]>;
    /** Workspaces a user belongs to, oldest membership first. */
    workspacesOf(userId: string): Promise<string[]>;
  };
  /** The OAuth authorization server's codes, grants and tokens (src/oauth; oauth2Types.ts). */
  oauth2Tokens: OAuth2TokenRepo;
  /** Snapshot of every stored entity (config export). */
  exportEntities(): Promise<EntitySnapshot>;
  /**
   * Writes a snapshot in one transaction (see SyncOptions). Rows are matched by id, then by
   * natural key (username / custom_id, jwt key, client_id, workspace id), so ids stay stable
   * across syncs and an import without ids updates the existing rows.
   */
  syncEntities(snapshot: EntitySnapshot, opts: SyncOptions): Promise<void>;
}
