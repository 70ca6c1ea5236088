import { describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { generateKeyPairSync } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from './helpers/gateway.js';
import { validateConfig, parseText } from '../src/config/load.js';
import { builtinRegistry } from '../src/plugins/index.js';

const dir = mkdtempSync(join(tmpdir(), 'tollgate-config-'));
function file(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

describe('tollgate config validate', () => {
  it('exits 0 for a valid file', async () => {
    const f = file('ok.yaml', '_format_version: "3.0"\nservices:\n  - name: llm\n    url: http://gateway:9002\n    routes: [{ name: chat, paths: [/v1/chat/completions], strip_path: false }]\n');
    const r = await runCli(['config', 'validate', f]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`${f}: ok`);
  });

  it('exits 2 with one `FILE: path: problem` line per problem', async () => {
    const f = file(
      'bad.yaml',
      [
        'gateway:',
        '  tls: { min_version: TLSv1.0 }',
        '  trusted_proxies: [not-an-ip]',
        'services:',
        '  - name: llm',
        '    url: http://gateway:9002',
        '    read_timeout: fast',
        '    routes:',
        '      - name: chat',
        '        pathz: [/v1]',
        'plugins:',
        '  - name: no-such-plugin',
      ].join('\n'),
    );
    const r = await runCli(['config', 'validate', f]);
    expect(r.code).toBe(2);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toContain(`${f}: services[0].routes[0]: unknown key 'pathz'`);
    expect(lines.some((l) => l.startsWith(`${f}: gateway.tls.min_version: `))).toBe(true);
    expect(lines.some((l) => l.startsWith(`${f}: gateway.trusted_proxies[0]: expected an IP address or CIDR`))).toBe(true);
    expect(lines.some((l) => l.startsWith(`${f}: services[0].read_timeout: `))).toBe(true);
    expect(lines.some((l) => l.startsWith(`${f}: plugins[0].name: unknown plugin 'no-such-plugin'`))).toBe(true);
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
  });

  it('reports every problem in one run: the schema\'s, then the cross-field checks\' on the parts that pass (validate and start alike)', async () => {
    const f = file(
      'both-kinds.yaml',
      [
        'gateway:',
        '  admin_listen: 0.0.0.0:8001', // cross-field: no admin_token
        '  max_body_size: huge', // schema
        'services:',
        '  - name: llm',
        '    url: http://gateway:9002',
        '    routes:',
        '      - name: chat',
        '        paths: ["~/v1/(unclosed"]', // cross-field: bad regex
        '      - name: typo',
        '        pathz: [/v2]', // schema
        '  - name: llm', // cross-field: duplicate name
        '    url: http://other:9002',
        'plugins:',
        '  - name: oauth2', // cross-field: no issuer, no signing key
        '  - name: rate-limiting',
        '    config: { minute: lots }', // schema
      ].join('\n'),
    );
    const expected = [
      `${f}: gateway.max_body_size: expected a size such as 16m, 512k or a number of bytes, got "huge"`,
      `${f}: services[0].routes[1]: unknown key 'pathz'`,
      `${f}: plugins[1].config.minute: expected a whole number of requests per minute`,
      `${f}: gateway.issuer: required by the oauth2 plugin: the OAuth issuer identifier, e.g. https://api.your-domain.com`,
      `${f}: gateway.signing_keys: the oauth2 plugin needs a signing key: [{ kid: gw-1, private_key_file: /etc/tollgate/jwt/private.pem }] (openssl genrsa -out private.pem 4096)`,
      `${f}: services[0].routes[0].paths[0]: invalid regex: Invalid regular expression: //v1/(unclosed/: Unterminated group`,
      `${f}: services[1].name: duplicate service name 'llm' (also services[0])`,
      `${f}: gateway.admin_token: required because admin_listen (0.0.0.0:8001) is not a loopback address`,
    ];
    const validated = await runCli(['config', 'validate', f]);
    expect([validated.code, validated.stderr.trim().split('\n')]).toEqual([2, expected]);
    const started = await runCli(['start', '--config', f], { env: { TOLLGATE_PROXY_LISTEN: '127.0.0.1:0' } });
    expect([started.code, started.stderr.trim().split('\n')]).toEqual([2, expected]);
  });

  it('a part that fails the schema is not judged by the cross-field checks: no problem that only follows from another', async () => {
    // Each broken part below would, read as absent, bring a second line: issuer required,
    // admin_token required, policy redis needs gateway.redis, duplicate service name, a route
    // without matchers. The missing signing key is a problem of its own.
    const f = file(
      'consequences.yaml',
      [
        'gateway:',
        '  issuer: not-a-url',
        '  admin_listen: 0.0.0.0:8001',
        '  admin_token: 12345',
        '  redis: not-redis',
        'services:',
        '  - name: a',
        '    urll: http://typo',
        '  - name: a',
        '    url: http://x',
        '    routes:',
        '      - name: r',
        '        pathz: [/v1]',
        'plugins:',
        '  - name: oauth2',
        '  - name: rate-limiting',
        '    config: { minute: 5, policy: redis }',
      ].join('\n'),
    );
    const r = await runCli(['config', 'validate', f]);
    expect([r.code, r.stderr.trim().split('\n')]).toEqual([
      2,
      [
        `${f}: gateway.redis: expected redis://host:6379/0 or rediss://…`,
        `${f}: gateway.admin_token: Invalid input: expected string, received number; quote the value (or the \${VAR} reference: "\${VAR}") to keep it a string`,
        `${f}: gateway.issuer: expected an absolute http(s) URL`,
        `${f}: services[0]: unknown key 'urll'`,
        `${f}: services[0].url: set url (or protocol/host/port/path)`,
        `${f}: services[1].routes[0]: unknown key 'pathz'`,
        `${f}: gateway.signing_keys: the oauth2 plugin needs a signing key: [{ kid: gw-1, private_key_file: /etc/tollgate/jwt/private.pem }] (openssl genrsa -out private.pem 4096)`,
      ],
    ]);
    // An unknown key may be a misspelt one: the keys its mapping leaves unset are not judged.
    const misspelt = file('misspelt.yaml', 'gateway:\n  isuer: https://api.example.com\n  admin_lsten: 0.0.0.0:8001\nplugins:\n  - name: oauth2\n');
    expect(await runCli(['config', 'validate', misspelt])).toMatchObject({ code: 2, stderr: `${misspelt}: gateway: unknown keys 'isuer', 'admin_lsten'\n` });
  });

  it('an unset variable is one more line of the same run; the field naming it is not judged further', async () => {
    const f = file(
      'unset.yaml',
      [
        'gateway:',
        '  admin_listen: 0.0.0.0:8001',
        '  admin_token: ${TG_TEST_UNSET_TOKEN}', // not also "admin_token: required"
        '  max_body_size: huge',
        'services:',
        '  - { name: "${TG_TEST_UNSET_NAME}", url: "http://x" }',
        '  - { name: "${TG_TEST_UNSET_NAME}", url: "http://y" }', // not also a duplicate name
        'workspaces: [{ id: team }, { id: team }]',
      ].join('\n'),
    );
    const unset = (path: string, name: string) => `${f}: ${path}: environment variable ${name} is not set (use \${${name}:-default} for a default)`;
    const r = await runCli(['config', 'validate', f]);
    expect([r.code, r.stderr.trim().split('\n')]).toEqual([
      2,
      [
        unset('gateway.admin_token', 'TG_TEST_UNSET_TOKEN'),
        unset('services[0].name', 'TG_TEST_UNSET_NAME'),
        unset('services[1].name', 'TG_TEST_UNSET_NAME'),
        `${f}: gateway.max_body_size: expected a size such as 16m, 512k or a number of bytes, got "huge"`,
        `${f}: workspaces[1].id: duplicate workspace 'team'`,
      ],
    ]);
  });

  it('a file with only schema problems, or only cross-field ones, reads as before', async () => {
    const schemaOnly = file('schema-only.yaml', 'gateway:\n  max_body_size: huge\nservices:\n  - name: llm\n    url: http://gateway:9002\n    retries: many\n');
    expect(await runCli(['config', 'validate', schemaOnly])).toMatchObject({
      code: 2,
      stderr: `${schemaOnly}: gateway.max_body_size: expected a size such as 16m, 512k or a number of bytes, got "huge"\n${schemaOnly}: services[0].retries: Invalid input: expected number, received string\n`,
    });
    const crossOnly = file('cross-only.yaml', 'gateway:\n  admin_listen: 0.0.0.0:8001\nservices:\n  - { name: llm, url: "http://gateway:9002" }\n  - { name: llm, url: "http://other:9002" }\n');
    expect(await runCli(['config', 'validate', crossOnly])).toMatchObject({
      code: 2,
      stderr: `${crossOnly}: services[1].name: duplicate service name 'llm' (also services[0])\n${crossOnly}: gateway.admin_token: required because admin_listen (0.0.0.0:8001) is not a loopback address\n`,
    });
  });

  it('holds declared OAuth clients to the redirect URI rules of the Admin API (no fragment, no javascript:)', async () => {
    const f = file(
      'clients.yaml',
      [
        'consumers:',
        '  - username: web',
        '    oauth2_credentials:',
        '      - name: App',
        '        client_secret: s3cret',
        '        redirect_uris: [https://app.example/cb, "https://app.example/cb#frag", "javascript:alert(1)"]',
      ].join('\n'),
    );
    const r = await runCli(['config', 'validate', f]);
    expect(r.code).toBe(2);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toContain(`${f}: consumers[0].oauth2_credentials[0].redirect_uris[1]: a redirect URI has no fragment (RFC 6749 §3.1.2)`);
    expect(lines).toContain(`${f}: consumers[0].oauth2_credentials[0].redirect_uris[2]: a redirect URI may not use the javascript:, data:, vbscript:, file:, blob: or about: scheme`);
  });

  it('reports YAML syntax errors and missing files on one line each', async () => {
    const f = file('broken.yaml', 'services: [\n  - name: x\n');
    const r = await runCli(['config', 'validate', f]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(new RegExp(`^${f}: not valid YAML at line \\d+`));
    const missing = await runCli(['config', 'validate', join(dir, 'nope.yaml')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr.trim()).toBe(`${join(dir, 'nope.yaml')}: cannot read config: file not found`);
  });

  it('YAML edge cases: several documents and alias bombs get one plain line; merge keys and a JSON byte-order mark are accepted', async () => {
    const multi = file('multi.yaml', 'gateway: {}\n---\ngateway: {}\n');
    expect(await runCli(['config', 'validate', multi])).toMatchObject({ code: 2, stderr: `${multi}: holds several YAML documents (separated by ---); put everything in one\n` });
    const bomb = file('bomb.yaml', 'a: &a [x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n');
    const bombed = await runCli(['config', 'validate', bomb]);
    expect(bombed.code).toBe(2);
    expect(bombed.stderr).toMatch(new RegExp(`^${bomb}: not accepted: .*\\(more than 100 alias expansions\\)\n$`));
    const mergeOk = file('merge-ok.yaml', 'services:\n  - &svc { name: a, url: "http://127.0.0.1:9", read_timeout: 1000 }\n  - <<: *svc\n    name: b\n');
    expect(await runCli(['config', 'validate', mergeOk])).toMatchObject({ code: 0 });
    const bom = file('bom.json', '\ufeff{"gateway": {}}');
    expect(await runCli(['config', 'validate', bom])).toMatchObject({ code: 0 });
  });

  it('refuses to start with a bad config: exit 2, the same lines', async () => {
    const f = file('start-bad.yaml', 'services:\n  - name: x\n');
    const r = await runCli(['start', '--config', f], { env: { TOLLGATE_PROXY_LISTEN: '127.0.0.1:0' } });
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe(`${f}: services[0].url: set url (or protocol/host/port/path)`);
  });

  it('refuses bad CLI arguments with exit 2', async () => {
    const r = await runCli(['start', '--no-such-flag']);
    expect(r.code).toBe(2);
    const none = await runCli(['nonsense']);
    expect(none.code).toBe(2);
    // A missing command shows the help, as a mistake: exit 2 (asked-for help is 0).
    for (const args of [[], ['config']]) expect((await runCli(args)).code, args.join(' ')).toBe(2);
    expect((await runCli(['--help'])).code).toBe(0);
    expect((await runCli(['config', '--help'])).code).toBe(0);
  });

  it('a plugin config with an unknown key reads like every other unknown key', async () => {
    const f = file('plugin-key.yaml', 'plugins:\n  - name: prometheus\n    config:\n      unknownkey: 1\n');
    expect(await runCli(['config', 'validate', f])).toMatchObject({ code: 2, stderr: `${f}: plugins[0].config: unknown key 'unknownkey'\n` });
  });

  it('a data_dir that cannot be created: exit 2, one line naming gateway.data_dir', async () => {
    const blocker = file('not-a-dir', '');
    const f = file('datadir.yaml', `gateway:\n  data_dir: ${join(blocker, 'data')}\n  store: "sqlite::memory:"\n`);
    const r = await runCli(['start', '--config', f], { env: { TOLLGATE_PROXY_LISTEN: '127.0.0.1:0', TOLLGATE_PROXY_TLS_LISTEN: 'off', TOLLGATE_ADMIN_LISTEN: 'off', TOLLGATE_STATUS_LISTEN: 'off' } });
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n').at(-1)).toBe(`tollgate: gateway.data_dir (${join(blocker, 'data')}): cannot create it: ENOTDIR; make it a writable directory (on a read-only root filesystem, an emptyDir volume)`);
  });
});

describe('config: interpolation and defaults', () => {
  const registry = builtinRegistry();

  it('replaces ${VAR} and ${VAR:-default}, typing unquoted whole references', () => {
    const text = ['gateway:', '  admin_token: "${TOKEN}"', '  issuer: ${ISSUER:-https://api.example.com}', 'services:', '  - name: s', '    url: http://${HOST}:9002', '    retries: ${RETRIES:-3}'].join('\n');
    const env = { TOKEN: '12345', HOST: 'gateway' };
    const { value } = parseText('t.yaml', text, env);
    const config = validateConfig('t.yaml', value, registry, env);
    expect(config.gateway.admin_token).toBe('12345');
    expect(config.gateway.issuer).toBe('https://api.example.com');
    expect(config.services[0]!.url).toBe('http://gateway:9002');
    expect(config.services[0]!.retries).toBe(3);
  });

  it('an unquoted ${VAR} is substituted once: a secret with `${` or `$${` in it stays exact', () => {
    for (const secret of ['pa$${ss', 'pa${ss}', '${NOT_A_REF}', 'a:b #c']) {
      const env = { ADM: secret };
      const { value } = parseText('t.yaml', 'gateway:\n  admin_token: ${ADM}\n', env);
      expect(validateConfig('t.yaml', value, registry, env).gateway.admin_token).toBe(secret);
    }
  });

  it('an unquoted ${VAR} that is empty stays an empty string (unset for admin_token); a numeric one for a string field says to quote it', () => {
    const { value } = parseText('t.yaml', 'gateway:\n  admin_token: ${ADM:-}\n', {});
    expect(validateConfig('t.yaml', value, registry, {}).gateway.admin_token).toBe('');
    const env = { ADM: '0123' };
    const numeric = parseText('t.yaml', 'gateway:\n  admin_token: ${ADM}\n', env).value;
    expect(() => validateConfig('t.yaml', numeric, registry, env)).toThrow(/gateway\.admin_token: .*received number; quote the value \(or the \$\{VAR\} reference: "\$\{VAR\}"\) to keep it a string/);
  });

  it('enabled: false switches a plugin off for a scope without the checks that apply when it runs', () => {
    const keyFile = join(mkdtempSync(join(tmpdir(), 'tollgate-cfg-')), 'k.pem');
    writeFileSync(keyFile, generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }));
    const gateway = { issuer: 'https://api.example.com', signing_keys: [{ kid: 'k1', private_key_file: keyFile }] };
    const service = (plugins: unknown[]) => ({ name: 's', url: 'http://x', routes: [{ name: 'r', paths: ['/'], plugins }] });
    const off = validateConfig('t.yaml', { gateway, plugins: [{ name: 'oauth2', config: { token_expiration: 600 } }], services: [service([{ name: 'oauth2', enabled: false }])] }, registry, {});
    expect(off.services[0]!.routes[0]!.plugins[0]!.enabled).toBe(false);
    // Every oauth2 entry off: no issuer or signing key needed.
    expect(() => validateConfig('t.yaml', { services: [service([{ name: 'oauth2', enabled: false }])] }, registry, {})).not.toThrow();
  });

  it('config validate fails where start would: a signing key file that does not exist (jwt, no oauth2), a key jose cannot sign with, a port above 65535, a listen address without its colon, TLS files that cannot be read', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tollgate-cfg-'));
    const pss = join(dir, 'pss.pem');
    writeFileSync(pss, generateKeyPairSync('rsa-pss', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }));
    const cases: Array<[string, string]> = [
      [`gateway:\n  issuer: https://api.example.com\n  signing_keys:\n    - kid: k1\n      private_key_file: ${join(dir, 'missing.pem')}\nplugins:\n  - name: jwt\n`, 'gateway.signing_keys[0].private_key_file'],
      [`gateway:\n  issuer: https://api.example.com\n  signing_keys:\n    - kid: k1\n      algorithm: PS256\n      private_key_file: ${pss}\nplugins:\n  - name: jwt\n`, 'gateway.signing_keys[0].private_key_file: an RSASSA-PSS-only (rsa-pss) key cannot sign here'],
      ['gateway:\n  proxy_listen: "127.0.0.1:99999"\n', 'gateway.proxy_listen: the port must be 0-65535'],
      ['gateway:\n  proxy_listen: "localhost8000"\n', 'gateway.proxy_listen: expected host:port, a port, or "off"'],
      ['gateway:\n  status_listen: "127.0.0.18000"\n', 'gateway.status_listen: expected host:port, a port, or "off"'],
      [`gateway:\n  tls:\n    cert: ${join(dir, 'missing.crt')}\n    key: ${join(dir, 'missing.key')}\n`, `gateway.tls.cert: cannot read ${join(dir, 'missing.crt')}: ENOENT`],
    ];
    for (const [text, expected] of cases) {
      const file = join(dir, 'c.yaml');
      writeFileSync(file, text);
      const out = await runCli(['config', 'validate', file]);
      expect([out.code, out.stderr]).toEqual([2, expect.stringContaining(expected)]);
    }
  });

  it('a plugin that cannot open its file at start: exit 2, one line naming the plugin and the problem', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tollgate-cfg-'));
    writeFileSync(join(dir, 'in-the-way'), '');
    const file = join(dir, 'c.yaml');
    writeFileSync(file, `gateway:\n  data_dir: ${join(dir, 'data')}\n  store: sqlite://${join(dir, 'tg.db')}\nplugins:\n  - name: audit-log\n    config:\n      path: ${join(dir, 'in-the-way', 'audit.log')}\n`);
    const out = await runCli(['start', '--config', file], { env: { TOLLGATE_PROXY_LISTEN: '127.0.0.1:0', TOLLGATE_PROXY_TLS_LISTEN: 'off', TOLLGATE_ADMIN_LISTEN: 'off', TOLLGATE_STATUS_LISTEN: 'off' }, timeoutMs: 20_000 });
    expect(out.code).toBe(2);
    expect(out.stderr.trim().split('\n').at(-1)).toMatch(/plugin 'audit-log' \(global\): E[A-Z]+.*in-the-way.*; check the paths and permissions in its config/);
  });

  it('redis: "${REDIS_URL:-}" is in-process counters where the variable is unset', () => {
    const text = 'gateway:\n  redis: "${REDIS_URL:-}"\n';
    expect(validateConfig('t.yaml', parseText('t.yaml', text, {}).value, registry, {}).gateway.redis).toBeUndefined();
    const env = { REDIS_URL: 'redis://redis:6379/0' };
    expect(validateConfig('t.yaml', parseText('t.yaml', text, env).value, registry, env).gateway.redis).toBe('redis://redis:6379/0');
  });

  it('names the field of an unset variable', () => {
    const { value } = parseText('t.yaml', 'gateway:\n  redis: ${REDIS_URL}\n', {});
    expect(() => validateConfig('t.yaml', value, registry, {})).toThrow('t.yaml: gateway.redis: environment variable REDIS_URL is not set');
  });

  it('fills Kong defaults', () => {
    const config = validateConfig('t.yaml', { services: [{ name: 's', url: 'http://x', routes: [{ paths: ['/'] }] }] }, registry, {});
    const s = config.services[0]!;
    expect([s.connect_timeout, s.read_timeout, s.write_timeout, s.retries]).toEqual([60_000, 60_000, 60_000, 5]);
    expect(s.routes[0]!.strip_path).toBe(true);
    expect(s.routes[0]!.preserve_host).toBe(false);
    expect(config.gateway.tls.min_version).toBe('TLSv1.3');
    expect(config.gateway.max_body_size).toBe(16 * 1024 * 1024);
    expect(config.gateway.headers_timeout).toBe(60_000);
    expect(config.gateway.drain_timeout).toBe(30_000);
  });

  it('requires an admin token when admin listens beyond loopback', () => {
    expect(() => validateConfig('t.yaml', { gateway: { admin_listen: '0.0.0.0:8001' } }, registry, {})).toThrow(/gateway\.admin_token: required/);
    expect(validateConfig('t.yaml', { gateway: { admin_listen: '0.0.0.0:8001', admin_token: 's3cret' } }, registry, {}).gateway.admin_token).toBe('s3cret');
  });

  it('rejects duplicate names and bad regexes', () => {
    const bad = {
      services: [
        { name: 'a', url: 'http://x', routes: [{ name: 'r', paths: ['~/v1/(unclosed'] }] },
        { name: 'a', url: 'http://y', routes: [{ name: 'r', paths: ['/v2'] }] },
      ],
    };
    expect(() => validateConfig('t.yaml', bad, registry, {})).toThrow(/services\[1\]\.name: duplicate service name 'a'/);
    expect(() => validateConfig('t.yaml', bad, registry, {})).toThrow(/services\[0\]\.routes\[0\]\.paths\[0\]: invalid regex/);
  });
});
