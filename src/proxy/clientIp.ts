import { BlockList, isIP } from 'node:net';

/**
 * The client IP (SPEC §4): the socket peer, unless that peer is a trusted proxy; then the
 * right-most X-Forwarded-For entry that is not itself trusted. Untrusted peers cannot move
 * their rate-limit key by sending X-Forwarded-For.
 */
export class ClientIpResolver {
  private readonly trusted: BlockList | null;

  constructor(trustedProxies: readonly string[]) {
    if (trustedProxies.length === 0) {
      this.trusted = null;
      return;
    }
    const list = new BlockList();
    for (const entry of trustedProxies) {
      const [addr, bits] = entry.split('/') as [string, string | undefined];
      const family = isIP(addr) === 6 ? 'ipv6' : 'ipv4';
      if (bits === undefined) list.addAddress(addr, family);
      else list.addSubnet(addr, Number(bits), family);
    }
    this.trusted = list;
  }

  isTrusted(ip: string): boolean {
    if (this.trusted === null) return false;
    const family = isIP(ip);
    if (family === 0) return false;
    return this.trusted.check(ip, family === 6 ? 'ipv6' : 'ipv4');
  }

  resolve(peer: string, forwardedFor: string | string[] | undefined): string {
    const ip = normalizeIp(peer);
    if (this.trusted === null || forwardedFor === undefined || !this.isTrusted(ip)) return ip;
    const hops = (Array.isArray(forwardedFor) ? forwardedFor.join(',') : forwardedFor).split(',');
    for (let i = hops.length - 1; i >= 0; i--) {
      const hop = normalizeIp(hops[i]!.trim());
      if (isIP(hop) === 0) return ip; // garbage in the chain: stop trusting it
      if (!this.isTrusted(hop)) return hop;
    }
    return normalizeIp(hops[0]!.trim()) || ip;
  }
}

/** `::ffff:10.0.0.1` → `10.0.0.1`, so IPv4 clients on dual-stack sockets get one key. */
export function normalizeIp(ip: string): string {
  return ip.startsWith('::ffff:') && isIP(ip.slice(7)) === 4 ? ip.slice(7) : ip;
}
