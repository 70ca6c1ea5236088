// The slice of oidc-provider@8 the tests use (the package ships no types; @types/oidc-provider
// is not installed).
declare module 'oidc-provider' {
  import type { Server } from 'node:http';

  interface ProviderConfiguration {
    clients?: Array<Record<string, unknown>>;
    cookies?: { keys?: string[] };
    pkce?: { required?: () => boolean };
    ttl?: Record<string, number>;
  }

  export default class Provider {
    constructor(issuer: string, configuration?: ProviderConfiguration);
    listen(port: number): Server;
  }
}
