// The runtime's ceiling: a bare Node.js reverse proxy over an undici Pool, no features.
// `node --import tsx bench/bareProxy.ts <listenPort> <upstreamUrl>`
import { createServer } from 'node:http';
import { Pool } from 'undici';

const [port, upstream] = [Number(process.argv[2]), process.argv[3]!];
const pool = new Pool(upstream, { connections: 128, pipelining: 1 });
createServer((req, res) => {
  pool.stream({ path: req.url!, method: req.method as 'GET', headers: req.headers, body: req.method === 'GET' ? null : req }, ({ statusCode, headers }) => {
    res.writeHead(statusCode, headers as Record<string, string>);
    return res;
  }).catch(() => {
    if (!res.headersSent) res.writeHead(502);
    res.end();
  });
}).listen(port, '127.0.0.1', () => process.stdout.write('ready\n'));
