import { GatewayError } from '../core/errors.js';

/**
 * The store's typed errors, and the one place where driver errors (better-sqlite3's SqliteError,
 * pg's DatabaseError and socket errors) are translated into them. Both backends throw the same
 * classes, so the contract suite can assert them and callers never see a driver error type.
 */

/** A unique-key clash (`username`, `key`, `client_id`, …). Admin API → 409. */
export class DuplicateEntityError extends GatewayError {
  constructor(
    readonly entity: string,
    readonly field: string,
    readonly value: string,
    cause?: unknown,
  ) {
    super('TG_DUPLICATE', 409, `${entity} with ${field} '${value}' already exists`, { cause });
  }
}

/** A row that points at an entity that does not exist (a credential for an unknown consumer). */
export class ReferenceNotFoundError extends GatewayError {
  constructor(
    readonly entity: string,
    readonly field: string,
    readonly value: string,
    cause?: unknown,
  ) {
    super('TG_REFERENCE_NOT_FOUND', 404, `${entity} '${value}' (${field}) does not exist`, { cause });
  }
}

/**
 * A text value the store cannot keep: a NUL character (PostgreSQL's text refuses it; SQLite
 * would keep it, so both refuse it for the same data). Admin API → 400.
 */
export class UnstorableTextError extends GatewayError {
  constructor(cause?: unknown) {
    super('TG_UNSTORABLE_TEXT', 400, 'a text value holds a NUL character (\\u0000), which cannot be stored', { cause });
  }
}

/**
 * The database cannot be reached, refused the connection or timed out (→ 503 on the request
 * path, exit 1 at start). `message` names the store (password redacted) and the reason, for logs
 * and the CLI; it is not exposed in HTTP bodies. `reported`: the store's health logs the outage
 * once (health.ts), so the proxy does not log every request refused for it.
 */
export class StoreUnavailableError extends GatewayError {
  constructor(
    readonly store: string,
    readonly reason: string,
    cause?: unknown,
  ) {
    super('TG_STORE_DOWN', 503, `the store (${store}) is unreachable: ${reason}`, { cause, expose: false, publicMessage: 'the store (database) is unreachable', reported: true });
  }
}

/** A migration failed; nothing of that migration was applied (both dialects run DDL in a transaction). */
export class StoreMigrationError extends GatewayError {
  constructor(
    readonly migration: string | null,
    cause: unknown,
  ) {
    const what = migration === null ? 'preparing migrations' : `migration ${migration}`;
    super('TG_STORE_MIGRATION', 500, `${what} failed: ${errorText(cause)}`, { cause, expose: false });
  }
}

/** What the failing statement was writing, so a clash can name the offending value. */
export interface ErrorContext {
  /** Entity name used in messages when the table is not known (`consumer`, `jwt_secret`, …). */
  entity?: string;
  /** Values being written, looked up by the clashing column name. */
  values?: object;
  /** For a foreign-key failure: the referenced entity and the id that was not found. */
  reference?: { entity: string; field: string; value: string };
}

const ENTITY_OF_TABLE: Record<string, string> = {
  consumers: 'consumer',
  jwt_secrets: 'jwt_secret',
  oauth2_credentials: 'oauth2_credential',
  workspaces: 'workspace',
  workspace_members: 'workspace_member',
  oauth2_grants: 'oauth2_grant',
  oauth2_codes: 'oauth2_code',
  oauth2_access_tokens: 'oauth2_token',
  oauth2_refresh_tokens: 'oauth2_refresh_token',
  oauth2_login_states: 'oauth2_login_state',
};

/** Socket-level error codes meaning "the database is not there (right now)". */
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'EPIPE']);

/** SQLite result codes meaning the file cannot be used (busy past busy_timeout, I/O, disk, perms). */
const SQLITE_DOWN = /^SQLITE_(BUSY|LOCKED|CANTOPEN|IOERR|FULL|READONLY|NOTADB|CORRUPT|PERM)/;

function errorText(err: unknown): string {
  if (err instanceof AggregateError && !err.message) return err.errors.map(errorText).join('; ');
  if (err instanceof Error) return err.message || codeOf(err) || err.name;
  return String(err);
}

function codeOf(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null || !('code' in err)) return undefined;
  const code = (err as { code: unknown }).code;
  return typeof code === 'string' ? code : undefined;
}

function stringProp(err: unknown, prop: string): string | undefined {
  if (typeof err !== 'object' || err === null || !(prop in err)) return undefined;
  const v = (err as Record<string, unknown>)[prop];
  return typeof v === 'string' ? v : undefined;
}

/** PostgreSQL SQLSTATEs for "cannot serve now": connection class 08, shutdown/crash 57P0x,
 * statement timeout 57014, too many connections 53300, auth 28xxx, missing database 3D000. */
function isPgUnavailable(code: string): boolean {
  return /^(08|57P0|28)/.test(code) || code === '57014' || code === '53300' || code === '3D000';
}

/** pg's own client-side failures carry no code, only these messages. */
function isPgClientFailure(message: string): boolean {
  return /timeout exceeded when trying to connect|Connection terminated|connection timeout|Query read timeout|Client has encountered a connection error|Cannot use a pool after calling end/i.test(message);
}

export function isUnavailable(err: unknown): boolean {
  const code = codeOf(err);
  if (code !== undefined && (NETWORK_CODES.has(code) || SQLITE_DOWN.test(code) || isPgUnavailable(code))) return true;
  if (err instanceof AggregateError) return err.errors.some(isUnavailable);
  return err instanceof Error && isPgClientFailure(err.message);
}

/** `Key (username)=(alice) already exists.` → ['username', 'alice'] */
function parsePgKeyDetail(detail: string | undefined): [string, string] | null {
  const m = detail ? /^Key \(([^)]+)\)=\((.*)\) already exists/.exec(detail) : null;
  return m ? [m[1], m[2]] : null;
}

function duplicateFrom(err: unknown, ctx: ErrorContext): DuplicateEntityError {
  const code = codeOf(err);
  let table = ctx.entity ?? 'entity';
  let field = 'id';
  let value: string | undefined;
  if (code === '23505') {
    table = stringProp(err, 'table') ?? table;
    const parsed = parsePgKeyDetail(stringProp(err, 'detail'));
    if (parsed) [field, value] = parsed;
  } else {
    // SQLite: "UNIQUE constraint failed: consumers.username" (composite keys list several).
    const m = /constraint failed: ([A-Za-z0-9_]+)\.([A-Za-z0-9_]+)/.exec(errorText(err));
    if (m) [, table, field] = m;
  }
  const given: unknown = ctx.values === undefined ? undefined : Reflect.get(ctx.values, field);
  if (given !== undefined && given !== null) value = String(given);
  return new DuplicateEntityError(ENTITY_OF_TABLE[table] ?? ctx.entity ?? table, field, value ?? '', err);
}

function isUniqueViolation(code: string | undefined): boolean {
  return code === '23505' || code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}

function isForeignKeyViolation(code: string | undefined): boolean {
  return code === '23503' || code === 'SQLITE_CONSTRAINT_FOREIGNKEY';
}

/**
 * Translates a driver error into the store's typed errors; anything else is returned unchanged
 * (a bug, surfaced as a 500 by the caller). `store` names the database for unavailability messages.
 */
export function translateError(err: unknown, store: string, ctx: ErrorContext = {}): unknown {
  if (err instanceof GatewayError) return err;
  const code = codeOf(err);
  if (isUniqueViolation(code)) return duplicateFrom(err, ctx);
  if (isForeignKeyViolation(code) && ctx.reference) {
    const r = ctx.reference;
    return new ReferenceNotFoundError(r.entity, r.field, r.value, err);
  }
  if (isUnavailable(err)) return new StoreUnavailableError(store, errorText(err) || code || 'unknown error', err);
  if (code === '22021' && /0x00/.test(errorText(err))) return new UnstorableTextError(err);
  return err;
}
