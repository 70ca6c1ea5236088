/** A `.` or `..` segment anywhere in a path. */
const DOT_SEGMENT = /(^|\/)\.\.?(\/|$)/;

/**
 * Normalises a request path before routing (as Kong/nginx do), so `/public/../admin` or
 * `/%61dmin` cannot reach a route whose plugins were meant to guard it: percent-encoded
 * unreserved characters are decoded, other escapes upper-cased, `//` merged, and dot segments
 * removed (RFC 3986 §5.2.4). The normalised path is also what goes upstream.
 * Returns null (400) for a path that escapes the root, carries an encoded NUL or a raw
 * backslash, or whose encoded slashes or path parameters (`..;`) would hide a dot segment.
 */
export function normalizePath(path: string): string | null {
  if (!path.includes('%') && !path.includes('/.') && !path.includes('//') && !path.includes('\\')) return path;
  // A raw backslash is not a path character (RFC 3986 §3.3); upstreams that read it as `/`
  // would resolve `/public/..\admin` to a path routing never saw.
  if (path.includes('\\')) return null;
  let p = path;
  if (p.includes('%')) {
    p = p.replace(/%([0-9a-fA-F]{2})/g, (m, hex: string) => {
      const code = parseInt(hex, 16);
      if (code === 0) return '\u0000';
      const ch = String.fromCharCode(code);
      return /[A-Za-z0-9\-._~]/.test(ch) ? ch : `%${hex.toUpperCase()}`;
    });
    if (p.includes('\u0000')) return null;
    // An encoded `/` or `\` stays encoded (`org%2Fmodel` is one segment), unless an upstream
    // that decodes it would then see a dot segment (`/public/..%2Fadmin`): refused.
    if ((p.includes('%2F') || p.includes('%5C')) && DOT_SEGMENT.test(p.replace(/%2F|%5C/g, '/'))) return null;
  }
  p = p.replace(/\/{2,}/g, '/');
  if (!p.includes('/.')) return p;
  const out: string[] = [];
  const segments = p.split('/');
  for (let i = 1; i < segments.length; i++) {
    const seg = segments[i]!;
    if (seg === '.') {
      if (i === segments.length - 1) out.push('');
      continue;
    }
    if (seg === '..') {
      if (out.length === 0) return null;
      out.pop();
      if (i === segments.length - 1) out.push('');
      continue;
    }
    // `..;x` is `..` to Tomcat and Spring (a path parameter on a dot segment): an upstream
    // would resolve it out of the route's part of the service. Refused, like `..%2F`.
    if (seg.startsWith('..;') || seg.startsWith('.;')) return null;
    out.push(seg);
  }
  return `/${out.join('/')}`;
}
