import { mkdtempSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { launch, type Running } from './processes.js';

export function nginxAvailable(): boolean {
  try {
    execFileSync('nginx', ['-v'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function conf(dir: string, server: string): string {
  return `daemon off;
master_process off;
worker_processes 1;
error_log ${dir}/error.log warn;
pid ${dir}/nginx.pid;
${process.getuid?.() === 0 ? 'user root;' : ''}
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${dir}/body; proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fcgi; uwsgi_temp_path ${dir}/uwsgi; scgi_temp_path ${dir}/scgi;
  keepalive_requests 1000000;
  ${server}
}
`;
}

async function run(role: 'proxy' | 'load', name: string, server: string): Promise<Running> {
  const dir = mkdtempSync(join(tmpdir(), `bench-${name}-`));
  mkdirSync(join(dir, 'body'));
  writeFileSync(join(dir, 'nginx.conf'), conf(dir, server));
  const running = await launch(role, ['nginx', '-p', dir, '-c', join(dir, 'nginx.conf'), '-g', 'error_log stderr notice;'], /start worker process|using the "epoll"/);
  await new Promise((r) => setTimeout(r, 200));
  return running;
}

/** The benchmark upstream: a fixed small JSON answer, as cheap as a server gets. */
export function nginxUpstream(role: 'proxy' | 'load', port: number): Promise<Running> {
  const chat = '{"id":"chatcmpl-bench","object":"chat.completion","model":"bench-model","choices":[{"index":0,"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}],"usage":{"prompt_tokens":12,"completion_tokens":2,"total_tokens":14}}';
  return run(
    role,
    'upstream',
    `server { listen 127.0.0.1:${port};
    location / { default_type application/json; return 200 '{"ok":true,"model":"bench"}'; }
    location /v1/chat/completions { default_type application/json; return 200 '${chat}'; } }`,
  );
}

/** nginx as a plain reverse proxy (1 worker, keep-alive upstream): the reference. */
export function nginxProxy(port: number, upstreamPort: number): Promise<Running> {
  return run(
    'proxy',
    'proxy',
    `upstream backend { server 127.0.0.1:${upstreamPort}; keepalive 128; }
  server { listen 127.0.0.1:${port}; location / { proxy_pass http://backend; proxy_http_version 1.1; proxy_set_header Connection ""; } }`,
  );
}
