import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AiApi, AiUsage } from '../ai/types.js';
import type { CompiledRoute, CompiledService } from './runtime.js';

/** Who the caller is, as established by one authentication plugin (SPEC §5). */
export interface Identity {
  /** Name of the plugin that accepted the credential (`jwt`, `oauth2`, …): audit `auth_method`. */
  method: string;
  userId: string | null;
  clientId: string | null;
  username: string | null;
  enterpriseId: string | null;
  roles: string[];
  scopes: string[];
  /** Workspaces the credential itself grants (claims or the auth service's answer). */
  workspaces: string[];
  /**
   * The verified token's claims, when the credential is a token (jwt, custom-jwt-auth, oauth2
   * tokens). Plugins with claim-name settings read it (token-budget `workspace_claims`); when
   * absent they use the mapped fields above. Never logged.
   */
  claims?: Readonly<Record<string, unknown>>;
  consumerId: string | null;
  consumerUsername: string | null;
  /** The consumer's `custom_id` (Kong's X-Consumer-Custom-ID), when it has one. */
  consumerCustomId: string | null;
  credentialId: string | null;
  authenticatedUserid: string | null;
  /**
   * Set on the identity of a CORS preflight let through without a credential (jwt
   * `run_on_preflight: false`): nobody is known, and authorization lets it pass as well.
   */
  preflight?: true;
}

export function emptyIdentity(method: string): Identity {
  return {
    method,
    userId: null,
    clientId: null,
    username: null,
    enterpriseId: null,
    roles: [],
    scopes: [],
    workspaces: [],
    consumerId: null,
    consumerUsername: null,
    consumerCustomId: null,
    credentialId: null,
    authenticatedUserid: null,
  };
}

/**
 * A typed per-request slot for plugin-private state. Declare one per plugin at module level:
 * `const STATE = new Slot<MyState>('rate-limiting')`, then `ctx.get(STATE)` / `ctx.set(STATE, v)`.
 * Slots are array indexes, so lookups cost nothing and the context keeps a stable shape.
 */
export class Slot<T> {
  private static next = 0;
  readonly index: number;
  declare readonly _type: T;
  constructor(readonly name: string) {
    this.index = Slot.next++;
  }
}

/** The AI-traffic facts found in the request body (filled when a plugin asks for them). */
export interface AiRequestFacts {
  /** Which API the body speaks (null: not AI traffic). */
  api: AiApi | null;
  model: string | null;
  stream: boolean;
  maxTokens: number | null;
  estimatedPromptTokens: number;
  /** A prompt-token count the real one cannot exceed (long prompts: the untokenized rest by bytes); what budgets reserve. */
  promptTokensAtMost: number;
  tools: string[];
}

/**
 * Everything known about one request while it crosses the gateway. Plugins read and write
 * their fields; the log phase reads them for the audit record and metrics.
 */
export class RequestContext {
  /** X-Request-ID: the client's (when valid) or a new UUID. */
  readonly id: string;
  /** Wall-clock start (ms since epoch) and monotonic start (ns). */
  readonly startedAt: number;
  readonly startNs: bigint;
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly method: string;
  /** The path the client requested (before strip_path), without the query string. */
  readonly path: string;
  /** Raw query string including the leading `?`, or ''. */
  readonly query: string;
  /**
   * The path as routed and forwarded (dot segments resolved, unreserved escapes decoded,
   * before strip_path), once the proxy has normalised it: what plugins decide on (an auth
   * service, a path limit), so that `/a/./b` cannot pass for something other than `/a/b`.
   */
  routedPath: string | null = null;
  readonly clientIp: string;
  readonly tls: boolean;

  route: CompiledRoute | null = null;
  service: CompiledService | null = null;
  identity: Identity | null = null;
  workspaceId: string | null = null;

  /** Headers the gateway adds to the client response (rate-limit, budget, …). */
  readonly responseHeaders: Record<string, string> = {};
  /** Headers sent upstream; built by the proxy from the client's, plugins may set/delete. */
  upstreamHeaders: Record<string, string | string[]> = {};

  /** Buffered request body, when a plugin on the route asked for it (`needsBody`). */
  body: Buffer | null = null;
  /** The request body parsed as JSON (undefined: not parsed / not JSON). */
  json: unknown = undefined;
  /** AI facts from the request body (model, stream, max_tokens, prompt estimate, MCP tool). */
  aiRequest: AiRequestFacts | null = null;
  /** AI facts from the response (usage, model, tools); final after the response ends. */
  ai: AiUsage | null = null;

  status = 0;
  bytesIn = 0;
  bytesOut = 0;
  /** Monotonic ns when the upstream request was sent / its headers arrived. */
  upstreamStartNs: bigint | null = null;
  upstreamHeadersNs: bigint | null = null;
  upstreamEndNs: bigint | null = null;
  endNs: bigint | null = null;
  /** Instance name of the limit that refused the request (audit `rate_limited`). */
  rateLimited: string | null = null;
  /** Short description of what went wrong (audit `error`), never secrets or bodies. */
  error: string | null = null;
  /**
   * The client sent `Expect: 100-continue` and waits for `100 Continue` before its body: sent
   * once access has passed, where the body is first read or forwarded (allowBody), as nginx
   * does; an error answer before that closes the connection instead.
   */
  awaitsContinue = false;
  /** tollgate added `stream_options.include_usage` for a client that did not ask for it. */
  usageInjected = false;
  /** Response headers received from upstream (lower-case), for log-phase plugins. */
  upstreamResponseHeaders: Record<string, string | string[]> | null = null;

  private readonly slots: unknown[] = [];

  constructor(init: {
    id: string;
    req: IncomingMessage;
    res: ServerResponse;
    method: string;
    path: string;
    query: string;
    clientIp: string;
    tls: boolean;
  }) {
    this.id = init.id;
    this.startedAt = Date.now();
    this.startNs = process.hrtime.bigint();
    this.req = init.req;
    this.res = init.res;
    this.method = init.method;
    this.path = init.path;
    this.query = init.query;
    this.clientIp = init.clientIp;
    this.tls = init.tls;
  }

  get<T>(slot: Slot<T>): T | undefined {
    return this.slots[slot.index] as T | undefined;
  }

  set<T>(slot: Slot<T>, value: T | undefined): void {
    this.slots[slot.index] = value;
  }

  /** Milliseconds between two monotonic marks, or null when either is unknown. */
  static ms(from: bigint | null, to: bigint | null): number | null {
    if (from === null || to === null) return null;
    return Number(to - from) / 1e6;
  }
}
