/** Body of GET /status (status and admin listeners), Kong's shape plus Redis and config. */
export interface StatusReport {
  server: {
    connections_accepted: number;
    connections_handled: number;
    connections_active: number;
    connections_reading: number;
    connections_writing: number;
    connections_waiting: number;
    total_requests: number;
  };
  database: { reachable: boolean; kind: 'sqlite' | 'postgres' };
  redis: { reachable: boolean; configured: boolean };
  configuration: { loaded_at: string; hash: string; file: string | null; last_reload_error: string | null };
  memory: { rss_bytes: number; heap_used_bytes: number };
  draining: boolean;
}
