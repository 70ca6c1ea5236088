/**
 * The one table of plugin order (Envoy Gateway keeps its filter order the same way). Within the
 * request path the phases run in this order; within a phase, higher priority runs first. Kong's
 * numbers are used where Kong has the plugin. A plugin not listed here fails at startup.
 *
 *   phase            plugin                     priority   Kong's
 *   ---------------  -------------------------  --------   ---------------------------------
 *   authentication   jwt                          1450     jwt 1450
 *   authentication   custom-jwt-auth              1440     (custom; local JWKS check, cheap)
 *   authentication   oauth2                       1400     oauth2 1400
 *   authentication   custom-auth-pre-function     1300     (custom; remote call, tried last)
 *   authorization    access-control                950     acl 950
 *   limits           rate-limiting                 910     rate-limiting 910
 *   budget           token-budget                  900     (ai-rate-limiting-advanced 905)
 *   log              prometheus                     13     prometheus 13
 *   log              audit-log                       9     file-log 9
 *
 * Several authentication plugins on one route: tried in priority order until one accepts.
 * Limits and budget claims are admitted together in one atomic counter call (core/pipeline.ts).
 */
export const PRIORITIES: Readonly<Record<string, number>> = {
  jwt: 1450,
  'custom-jwt-auth': 1440,
  oauth2: 1400,
  'custom-auth-pre-function': 1300,
  'access-control': 950,
  'rate-limiting': 910,
  'token-budget': 900,
  prometheus: 13,
  'audit-log': 9,
};
