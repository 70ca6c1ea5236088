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
  /**
   * Connections whose first request has not arrived yet (nginx's `reading`: still sending its
   * header block, a slowloris among them). A keep-alive connection between requests is
   * `waiting`, as in nginx; one slowly sending its second request counts there too.
   */
  private readonly unread = new Set<object>();

  track(server: Server, tls = false): void {
    server.on('connection', (socket: Socket) => {
      this.accepted++;
      this.handled++;
      this.active++;
      this.sockets.add(socket);
      if (!tls) this.unread.add(socket);
      socket.once('close', () => {
        this.active--;
        this.sockets.delete(socket);
        this.unread.delete(socket);
      });
    });
    // Over TLS the request's socket is the TLS one: reading from the end of the handshake.
    if (tls) {
      server.on('secureConnection', (socket: Socket) => {
        this.unread.add(socket);
        socket.once('close', () => this.unread.delete(socket));
      });
    }
  }

  requestStarted(socket?: object): void {
    this.totalRequests++;
    this.inflightRequests++;
    if (socket !== undefined) this.unread.delete(socket);
  }

  requestEnded(): void {
    this.inflightRequests--;
  }

  snapshot(): { accepted: number; handled: number; active: number; reading: number; writing: number; waiting: number; total_requests: number } {
    const writing = Math.min(this.inflightRequests, this.active);
    const reading = Math.min(this.unread.size, this.active - writing);
    return {
      accepted: this.accepted,
      handled: this.handled,
      active: this.active,
      reading,
      writing,
      waiting: Math.max(0, this.active - writing - reading),
      total_requests: this.totalRequests,
    };
  }

  /** Destroys every open client socket (end of drain). */
  destroyAll(): void {
    for (const s of this.sockets) s.destroy();
  }
}
