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
      const hop = hopAddress(hops[i]!.trim());
      if (hop === null) return ip; // garbage in the chain: stop trusting it
      if (!this.isTrusted(hop)) return hop;
    }
    return hopAddress(hops[0]!.trim()) ?? ip;
  }
}

/**
 * One X-Forwarded-For entry as an address, or null when it is none: `1.2.3.4`, `1.2.3.4:5678`
 * (some load balancers append the port), `[2001:db8::1]:443`, `2001:DB8::1`. IPv6 is written
 * in its canonical form, so one client has one rate-limit key however a proxy spells it.
 */
export function hopAddress(hop: string): string | null {
  let addr = hop;
  if (addr.startsWith('[')) {
    const end = addr.indexOf(']');
    if (end < 0 || (end + 1 < addr.length && !/^:\d{1,5}$/.test(addr.slice(end + 1)))) return null;
    addr = addr.slice(1, end);
  } else if (addr.indexOf(':') > 0 && addr.indexOf(':') === addr.lastIndexOf(':')) {
    const [host, port] = addr.split(':') as [string, string];
    if (!/^\d{1,5}$/.test(port)) return null;
    addr = host;
  }
  const family = isIP(addr);
  if (family === 0) return null;
  if (family === 4) return addr;
  const canonical = new URL(`http://[${addr}]/`).hostname.slice(1, -1);
  const mapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(canonical); // an IPv4 client, as ::ffff:a.b.c.d
  if (mapped) {
    const hi = parseInt(mapped[1]!, 16);
    const lo = parseInt(mapped[2]!, 16);
    return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
  }
  return canonical;
}

/** `::ffff:10.0.0.1` → `10.0.0.1`, so IPv4 clients on dual-stack sockets get one key. */
export function normalizeIp(ip: string): string {
  return ip.startsWith('::ffff:') && isIP(ip.slice(7)) === 4 ? ip.slice(7) : ip;
}

/**
 * The /64 network of an IPv6 address (`2001:db8:1:2::/64`); an IPv4 address as it is. One IPv6
 * host or subscriber is given a whole /64 (RFC 6177, mobile carriers per device), so counting
 * by full address would let a client rotate through 2^64 addresses to escape a per-IP limit.
 */
export function addressBlock(ip: string): string {
  if (!ip.includes(':')) return ip;
  const zone = ip.indexOf('%');
  const addr = zone < 0 ? ip : ip.slice(0, zone);
  const gap = addr.indexOf('::');
  const width = (part: string) => (part === '' ? 0 : part.split(':').reduce((n, g) => n + (g.includes('.') ? 2 : 1), 0));
  let groups: string[];
  if (gap < 0) groups = addr.split(':');
  else {
    const head = addr.slice(0, gap);
    const tail = addr.slice(gap + 2);
    const headGroups = head === '' ? [] : head.split(':');
    groups = [...headGroups, ...new Array<string>(Math.max(0, 8 - width(head) - width(tail))).fill('0'), ...(tail === '' ? [] : tail.split(':'))];
  }
  const prefix = groups.slice(0, 4).map((g) => (g.includes('.') ? '0' : parseInt(g, 16).toString(16)));
  while (prefix.length < 4) prefix.push('0');
  return `${prefix.join(':')}::/64`;
}
