import type { TollgateConfig } from '../../config/schema.js';

export const OTHER = '__other__';

/**
 * Bounds the distinct values of a label whose values clients influence (workspace ids, model
 * names, consumers): the first `max` values are kept as they are, later ones become
 * `__other__`, so a caller inventing names cannot grow /metrics without end.
 */
export class LabelGuard {
  private readonly seen = new Set<string>();
  constructor(private max: number) {}

  /** A reloaded max_label_values: values already admitted stay; the new bound applies to further ones. */
  resize(max: number): void {
    this.max = max;
  }

  value(v: string | null | undefined): string {
    if (v === null || v === undefined || v === '') return '';
    if (this.seen.has(v)) return v;
    if (this.seen.size >= this.max) return OTHER;
    this.seen.add(v);
    return v;
  }
}

/**
 * What each limit instance limits by, keyed by the pipeline's instance id
 * (`scope:service:route:name:instance`, src/core/runtime.ts), read once from the config the
 * runtime was built from: the `limit_by` label of kong_rate_limiting_exceeded_total.
 * token-budget refusals are per workspace.
 */
export function limitByIndex(config: TollgateConfig): Map<string, string> {
  const out = new Map<string, string>();
  const add = (kind: string, service: string, route: string, entries: TollgateConfig['plugins']) => {
    for (const e of entries) {
      const cfg = (e.config ?? {}) as { limit_by?: unknown };
      const by = typeof cfg.limit_by === 'string' ? cfg.limit_by : e.name === 'token-budget' ? 'workspace' : '';
      out.set([kind, service, route, e.name, e.instance_name ?? ''].join(':'), by);
    }
  };
  add('global', '', '', config.plugins);
  for (const s of config.services) {
    add('service', s.name, '', s.plugins);
    s.routes.forEach((r, i) => add('route', s.name, r.name ?? `${s.name}-${i}`, r.plugins));
  }
  return out;
}
