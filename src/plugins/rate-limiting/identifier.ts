import { createHash } from 'node:crypto';
import type { RequestContext } from '../../core/context.js';
import { addressBlock } from '../../proxy/clientIp.js';
import type { LimitBy } from './schema.js';

/**
 * Who a request is counted against (`limit_by`), as `<kind>:<value>`. The kind keeps namespaces
 * apart (a header value can never share a counter with an IP), and a missing identifier falls
 * back to the client IP, as in Kong. The client IP is trusted-proxy aware (src/proxy/clientIp.ts):
 * an X-Forwarded-For from an untrusted peer never moves it.
 */
export interface IdentifierRule {
  by: LimitBy;
  /** Lower-cased header name (`limit_by: header`). */
  header: string | null;
  /** Exact path counted (`limit_by: path`). */
  path: string | null;
}

/** Identifiers longer than this are hashed, so a 16 KiB header cannot make a 16 KiB key. */
const MAX_IDENTIFIER = 128;

function bounded(kind: string, value: string): string {
  if (value.length <= MAX_IDENTIFIER) return `${kind}:${value}`;
  return `${kind}#${createHash('sha256').update(value).digest('base64url')}`;
}

function headerValue(ctx: RequestContext, name: string): string | null {
  const v = ctx.req.headers[name];
  const s = Array.isArray(v) ? v[0] : v;
  return s === undefined || s === '' ? null : s;
}

export function identify(ctx: RequestContext, rule: IdentifierRule): string {
  const id = ctx.identity;
  switch (rule.by) {
    case 'ip':
      break;
    case 'user': {
      if (id?.userId) return bounded('user', id.userId);
      if (id?.consumerId) return bounded('consumer', id.consumerId);
      break;
    }
    case 'consumer': {
      if (id?.consumerId) return bounded('consumer', id.consumerId);
      if (id?.credentialId) return bounded('credential', id.credentialId);
      break;
    }
    case 'credential': {
      if (id?.credentialId) return bounded('credential', id.credentialId);
      break;
    }
    case 'header': {
      const v = headerValue(ctx, rule.header!);
      if (v !== null) return bounded('header', v);
      break;
    }
    case 'path': {
      const path = ctx.routedPath ?? ctx.path; // `/v1/./chat` is `/v1/chat`
      if (path === rule.path) return bounded('path', path);
      break;
    }
    case 'service': {
      if (ctx.service) return bounded('service', ctx.service.name);
      break;
    }
    case 'workspace': {
      const ws = ctx.workspaceId ?? id?.workspaces[0] ?? null;
      if (ws !== null) return bounded('workspace', ws);
      break;
    }
  }
  // IPv6 clients by their /64 (addressBlock): one subscriber, however many addresses it uses.
  return bounded('ip', addressBlock(ctx.clientIp));
}
