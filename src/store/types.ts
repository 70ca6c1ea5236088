/**
 * The entity store: one repository interface, two backends (SQLite embedded, PostgreSQL for
 * replicas) built on kysely, both passing the same contract suite (src/store/contract.test.ts).
 * Times are milliseconds since the epoch. Ids are UUIDs unless given.
 */

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

/** Thrown on a unique-key clash (Admin API → 409). */
export class DuplicateEntityError extends Error {
  readonly code = 'TG_DUPLICATE';
  constructor(
    readonly entity: string,
    readonly field: string,
    readonly value: string,
  ) {
    super(`${entity} with ${field} '${value}' already exists`);
    this.name = 'DuplicateEntityError';
  }
}

/** Thrown when the database cannot be reached (→ 503 on the request path, exit 1 at start). */
export class StoreUnavailableError extends Error {
  readonly code = 'TG_STORE_DOWN';
  constructor(cause?: unknown) {
    super('the store (database) is unreachable', cause === undefined ? undefined : { cause });
    this.name = 'StoreUnavailableError';
  }
}

/** Declarative snapshot of stored entities (config export/import, SPEC §1). */
export interface EntitySnapshot {
  consumers: Array<Consumer & { jwt_secrets: JwtSecret[]; oauth2_credentials: OAuth2Credential[] }>;
  workspaces: Array<Workspace & { members: string[] }>;
}

export interface Store {
  readonly kind: 'sqlite' | 'postgres';
  /** Applies pending migrations (idempotent; safe with several replicas starting at once). */
  migrate(): Promise<string[]>;
  ping(): Promise<boolean>;
  close(): Promise<void>;

  consumers: {
    list(opts?: { offset?: number; limit?: number }): Promise<Consumer[]>;
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
    get(id: string): Promise<Workspace | null>;
    /** Creates or updates the budget override. */
    upsert(id: string, patch: { token_budget_day: number | null; source?: EntitySource }): Promise<Workspace>;
    delete(id: string): Promise<boolean>;
    addMember(workspaceId: string, userId: string, source?: EntitySource): Promise<WorkspaceMember>;
    removeMember(workspaceId: string, userId: string): Promise<boolean>;
    isMember(workspaceId: string, userId: string): Promise<boolean>;
    listMembers(workspaceId: string): Promise<WorkspaceMember[]>;
    /** Workspaces a user belongs to, oldest membership first. */
    workspacesOf(userId: string): Promise<string[]>;
  };
  /** Snapshot of every stored entity (config export). */
  exportEntities(): Promise<EntitySnapshot>;
  /**
   * Makes the `source` slice of the store equal to `snapshot` (in one transaction): entities of
   * that source missing from it are deleted, others upserted. Used to sync the config file's
   * consumers (`source: 'config'`) on load and reload, and by config import.
   */
  syncEntities(snapshot: EntitySnapshot, source: EntitySource): Promise<void>;
}
