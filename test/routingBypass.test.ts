import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rawRequest } from './helpers/ports.js';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { runCli, startGateway, type GatewayProcess } from './helpers/gateway.js';
import { startUpstream, type TestUpstream } from './helpers/upstream.js';


const status = (answer: string) => Number(/^HTTP\/1\.[01] (\d{3})/.exec(answer)?.[1] ?? 0);
const get = (port: number, path: string, host = 'x') => rawRequest(port, `GET ${path} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);

/**
 * Readings of a path that an upstream may resolve differently from the gateway (nginx decodes
 * `%2F` and merges slashes; Tomcat and Spring drop `;` parameters) must not reach another
 * route's upstream than the one whose plugins ran (the routing review, helper 44).
 */
describe('routing: a path the upstream would read as another route', () => {
  let up: TestUpstream;
  let gw: GatewayProcess;
  beforeAll(async () => {
    up = await startUpstream();
    gw = await startGateway({
      services: [
        {
          name: 'app',
          url: up.url,
          routes: [
            { name: 'public', paths: ['/'] },
            { name: 'admin', paths: ['/admin', '/a/b'], strip_path: false, plugins: [{ name: 'jwt' }] },
            // written the way a config author might: still the paths a request is normalised to
            { name: 'odd', paths: ['/docs//secret', '/%7Euser', '/caf%c3%a9'], strip_path: false, plugins: [{ name: 'jwt' }] },
          ],
        },
        { name: 'based', url: `${up.url}/base`, routes: [{ name: 'pub', paths: ['/pub'] }] },
        { name: 'hosted', url: `${up.url}/hosted`, routes: [{ name: 'hosted', paths: ['/h'], hosts: ['api.example.com'] }] },
        { name: 'ported', url: `${up.url}/ported`, routes: [{ name: 'ported', paths: ['/h'], hosts: ['admin.example.com:8443'] }] },
      ],
    });
  });
  afterAll(async () => {
    await gw?.stop();
    await up?.close();
  });

  it('an encoded slash that would make another route of the path is refused (400); one inside a segment is passed on', async () => {
    const port = gw.ports.proxy!;
    expect(status(await get(port, '/admin'))).toBe(401);
    for (const p of ['/%2Fadmin', '/%2F/admin', '/%2fadmin', '/%5Cadmin', '/a%2Fb']) expect(status(await get(port, p)), p).toBe(400);
    // a model id with a slash stays one segment, on the route it was sent to
    const model = await get(port, '/v1/models/meta-llama%2FLlama-3');
    expect(status(model)).toBe(200);
    expect(model).toContain('"url":"/v1/models/meta-llama%2FLlama-3"');
  });

  it('path parameters that would make another route of the path are refused; a dot segment after the strip point in any spelling too', async () => {
    const port = gw.ports.proxy!;
    for (const p of ['/;/admin', '/;x/admin', '/a;x/b']) expect(status(await get(port, p)), p).toBe(400);
    for (const p of ['/pub..%2Fx', '/pub..%5Cx', '/pub..;/x', '/pub.;/x']) expect(status(await get(port, p)), p).toBe(400);
    expect(status(await get(port, '/pub/ok'))).toBe(200);
  });

  it('route paths are normalised like request paths, so a protected one written oddly still guards its requests', async () => {
    const port = gw.ports.proxy!;
    for (const p of ['/docs/secret', '/docs//secret', '/~user', '/%7Euser', '/caf%c3%a9', '/caf%C3%A9']) expect(status(await get(port, p)), p).toBe(401);
  });

  it('a hosts entry with a port matches that Host and port only (as Kong)', async () => {
    const port = gw.ports.proxy!;
    const hit = await get(port, '/h/x', 'admin.example.com:8443');
    expect(hit).toContain('"url":"/ported/x"');
    for (const host of ['admin.example.com', 'admin.example.com:9443']) expect(await get(port, '/h/x', host), host).not.toContain('/ported/');
  });

  it('hosts entries that could never match are refused at config validation, naming the entry', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'tollgate-hosts-')), 't.yaml');
    writeFileSync(file, stringify({ services: [{ name: 's', url: 'http://127.0.0.1:1', routes: [{ name: 'r', paths: ['/'], hosts: ['a.*.com', '*', 'ok.example.com', 'x.example.com:99999', 'fq.example.com.'] }] }] }));
    const out = await runCli(['config', 'validate', file]);
    expect(out.code).toBe(2);
    const lines = out.stderr.trim().split('\n');
    for (const i of [0, 1, 3]) expect(lines.some((l) => l.includes(`services[0].routes[0].hosts[${i}]: expected a host name`)), String(i)).toBe(true);
    for (const good of ['hosts[2]', 'hosts[4]']) expect(lines.some((l) => l.includes(good)), good).toBe(false);
  });

  it('a Host with an empty port is the host (RFC 3986): it matches the hosts route', async () => {
    const answer = await get(gw.ports.proxy!, '/h/x', 'api.example.com:');
    expect(status(answer)).toBe(200);
    expect(answer).toContain('"url":"/hosted/x"');
  });
});
