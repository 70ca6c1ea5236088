import type { Server } from 'node:net';
import type { Socket } from 'node:net';

/**
 * Connection counters across the proxy listeners, in Kong's terms (kong_nginx_connections_total,
 * /status `server`): accepted and handled since start, active now, and of the active ones how
 * many are mid-request (`writing`: a response is under way) or idle keep-alive (`waiting`).
 */
export class ConnectionStats {
  accepted = 0;
  handled = 0;
  active = 0;
  totalRequests = 0;
  inflightRequests = 0;
  private readonly sockets = new Set<Socket>();

  track(server: Server): void {
    server.on('connection', (socket: Socket) => {
      this.accepted++;
      this.handled++;
      this.active++;
      this.sockets.add(socket);
      socket.once('close', () => {
        this.active--;
        this.sockets.delete(socket);
      });
    });
  }

  requestStarted(): void {
    this.totalRequests++;
    this.inflightRequests++;
  }

  requestEnded(): void {
    this.inflightRequests--;
  }

  snapshot(): { accepted: number; handled: number; active: number; reading: number; writing: number; waiting: number; total_requests: number } {
    const writing = Math.min(this.inflightRequests, this.active);
    return {
      accepted: this.accepted,
      handled: this.handled,
      active: this.active,
      reading: 0,
      writing,
      waiting: Math.max(0, this.active - writing),
      total_requests: this.totalRequests,
    };
  }

  /** Destroys every open client socket (end of drain). */
  destroyAll(): void {
    for (const s of this.sockets) s.destroy();
  }
}
