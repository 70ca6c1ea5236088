import type { Server } from 'node:http';
import Provider from 'oidc-provider';
import { request } from 'undici';

/**
 * A real OpenID Connect provider (oidc-provider, as Keycloak would be) for the browser flow,
 * with its development login pages, plus a tiny cookie-keeping "browser" that follows
 * redirects and fills those pages in.
 */

export interface TestIdp {
  issuer: string;
  close(): Promise<void>;
}

export function startIdp(port: number, client: { client_id: string; client_secret: string; redirect_uris: string[] }): TestIdp {
  const issuer = `http://127.0.0.1:${port}`;
  const provider = new Provider(issuer, {
    clients: [{ ...client, grant_types: ['authorization_code'], response_types: ['code'] }],
    cookies: { keys: ['a-test-cookie-signing-key-0123456789'] },
    pkce: { required: () => true },
    ttl: { AccessToken: 600, AuthorizationCode: 60, Grant: 3600, IdToken: 600, Interaction: 600, Session: 3600 },
  });
  const server: Server = provider.listen(port);
  return {
    issuer,
    close: () => new Promise((r) => server.close(() => r())),
  };
}

/** Per-origin cookie jars, redirects followed by hand. */
export class Browser {
  private readonly jars = new Map<string, Map<string, string>>();

  /** Each jar's cookie paths (cookie name → Path attribute). */
  private readonly paths = new WeakMap<Map<string, string>, Map<string, string>>();

  private pathsOf(jar: Map<string, string>): Map<string, string> {
    let p = this.paths.get(jar);
    if (p === undefined) this.paths.set(jar, (p = new Map()));
    return p;
  }

  private jar(url: URL): Map<string, string> {
    let jar = this.jars.get(url.host);
    if (jar === undefined) this.jars.set(url.host, (jar = new Map()));
    return jar;
  }

  /** The cookie jar of `host` (`127.0.0.1:8000`), created when absent. */
  cookies(host: string): Map<string, string> {
    return this.jar(new URL(`http://${host}`));
  }

  async go(target: string, form?: Record<string, string>): Promise<{ status: number; location: string | null; text: string; url: URL; headers: Record<string, unknown> }> {
    const url = new URL(target);
    const jar = this.jar(url);
    const paths = this.pathsOf(jar);
    const headers: Record<string, string> = {};
    // As a browser does: a cookie goes only to paths under its Path.
    const sent = [...jar].filter(([k]) => url.pathname.startsWith(paths.get(k) ?? '/'));
    if (sent.length > 0) headers.cookie = sent.map(([k, v]) => `${k}=${v}`).join('; ');
    if (form) headers['content-type'] = 'application/x-www-form-urlencoded';
    const res = await request(url, { method: form ? 'POST' : 'GET', headers, body: form ? new URLSearchParams(form).toString() : undefined });
    const set = res.headers['set-cookie'];
    for (const line of Array.isArray(set) ? set : set ? [set] : []) {
      const [pair] = line.split(';');
      const eq = pair!.indexOf('=');
      const name = pair!.slice(0, eq).trim();
      const value = pair!.slice(eq + 1).trim();
      if (value === '' || /max-age=0/i.test(line) || /expires=Thu, 01 Jan 1970/i.test(line)) jar.delete(name);
      else {
        jar.set(name, value);
        paths.set(name, /;\s*path=([^;]+)/i.exec(line)?.[1]?.trim() ?? '/');
      }
    }
    const location = typeof res.headers.location === 'string' ? new URL(res.headers.location, url).toString() : null;
    return { status: res.statusCode, location, text: await res.body.text(), url, headers: res.headers };
  }

  /**
   * Follows redirects from `start`, logging in as `user` and consenting at the provider's pages,
   * until a redirect leaves for `stopAt` (the client's callback): returns that URL. With
   * `abort`, the user cancels at the login page instead.
   */
  async login(start: string, user: string, stopAt: string, opts: { abort?: boolean } = {}): Promise<string> {
    let next: string | null = start;
    let form: Record<string, string> | undefined;
    for (let hop = 0; hop < 20 && next !== null; hop++) {
      if (next.startsWith(stopAt)) return next;
      const res = await this.go(next, form);
      form = undefined;
      if (res.location !== null) {
        next = res.location;
        continue;
      }
      const page = res.url.toString();
      if (res.text.includes('name="login"')) {
        if (opts.abort) next = `${page}/abort`;
        else [next, form] = [page, { prompt: 'login', login: user, password: 'any' }];
      } else if (res.text.includes('value="consent"')) [next, form] = [page, { prompt: 'consent' }];
      else throw new Error(`unexpected page ${res.status} at ${page}: ${res.text.slice(0, 300)}`);
    }
    throw new Error(`the login did not come back to ${stopAt}`);
  }
}
