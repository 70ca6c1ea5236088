import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { freePort, waitFor } from './ports.js';

export interface PromSample {
  metric: Record<string, string>;
  value: [number, string];
}

export interface PrometheusServer {
  url: string;
  /** An instant query; throws when Prometheus refuses it (bad PromQL, unknown function). */
  query(promql: string): Promise<PromSample[]>;
  /** Resolves once the target has been scraped `n` more times. */
  waitForScrapes(n: number): Promise<void>;
  stop(): Promise<void>;
}

/**
 * A real Prometheus (`/usr/bin/prometheus`, or TOLLGATE_PROMETHEUS_BIN) scraping `target`
 * (host:port of a status listener) every second, with a private TSDB in a temp dir.
 */
export async function startPrometheus(target: string): Promise<PrometheusServer> {
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-prom-'));
  const port = await freePort();
  const config = join(dir, 'prometheus.yml');
  writeFileSync(config, `global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: tollgate\n    static_configs:\n      - targets: ['${target}']\n`);
  const child = spawn(
    process.env.TOLLGATE_PROMETHEUS_BIN ?? 'prometheus',
    [`--config.file=${config}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'],
    { stdio: 'ignore' },
  );
  const exited = new Promise((r) => child.once('exit', r));
  const url = `http://127.0.0.1:${port}`;
  await waitFor(async () => (await request(`${url}/-/ready`)).statusCode === 200 || undefined, 'prometheus ready', 30_000, 100);

  const query = async (promql: string): Promise<PromSample[]> => {
    const res = await request(`${url}/api/v1/query?query=${encodeURIComponent(promql)}`);
    const body = (await res.body.json()) as { status: string; error?: string; data?: { resultType: string; result: PromSample[] } };
    if (body.status !== 'success' || !body.data) throw new Error(`PromQL ${promql}: ${body.error ?? res.statusCode}`);
    return body.data.resultType === 'vector' ? body.data.result : [];
  };
  const scrapes = async () => Number((await query('count_over_time(up{job="tollgate"}[1h])'))[0]?.value[1] ?? 0);
  return {
    url,
    query,
    async waitForScrapes(n) {
      const start = await scrapes();
      await waitFor(async () => (await scrapes()) >= start + n || undefined, `${n} scrapes`, 30_000, 200);
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
