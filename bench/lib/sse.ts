import { createServer, type Server } from 'node:http';
import { request, Agent } from 'undici';

/** An SSE upstream that sends its first event at once, then two more, 5 ms apart. */
export async function sseUpstream(port: number): Promise<Server> {
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    res.write('data: {"n":0}\n\n');
    setTimeout(() => res.write('data: {"n":1}\n\n'), 5);
    setTimeout(() => res.end('data: [DONE]\n\n'), 10);
  });
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  return server;
}

/** Time to first byte of the body, in ms, over `n` sequential requests: median and p99. */
export async function timeToFirstByte(url: string, n: number, headers: Record<string, string> = {}): Promise<{ p50: number; p99: number }> {
  const agent = new Agent({ connections: 1 });
  const samples: number[] = [];
  for (let i = 0; i < n + 20; i++) {
    const t0 = process.hrtime.bigint();
    const res = await request(url, { dispatcher: agent, headers });
    const it = res.body[Symbol.asyncIterator]();
    await it.next();
    const t1 = process.hrtime.bigint();
    for (let x = await it.next(); !x.done; x = await it.next());
    if (i >= 20) samples.push(Number(t1 - t0) / 1e6); // the first 20 warm up
  }
  await agent.close();
  samples.sort((a, b) => a - b);
  return { p50: samples[Math.floor(n / 2)]!, p99: samples[Math.floor(n * 0.99)]! };
}

/** Opens `n` keep-alive connections, each with a request done, and keeps them open. */
export async function holdConnections(url: string, n: number): Promise<() => Promise<void>> {
  const agent = new Agent({ connections: n, pipelining: 1, keepAliveTimeout: 120_000 });
  await Promise.all(
    Array.from({ length: n }, async () => {
      const res = await request(url, { dispatcher: agent });
      await res.body.dump();
    }),
  );
  return () => agent.close();
}
