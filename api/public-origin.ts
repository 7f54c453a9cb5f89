import type { Request } from 'express';

type TrustFn = (addr: string | undefined, hop: number) => boolean;

/** `scheme://host[:port]` and nothing else (no user info, path, query), or null. */
function originOf(protocol: string, host: string): string | null {
  if (protocol !== 'http' && protocol !== 'https') return null;
  try {
    const url = new URL(`${protocol}://${host}`);
    return url.pathname === '/' && !url.search && !url.hash && !url.username && !url.password && !host.endsWith('/') ? url.origin : null;
  } catch {
    return null;
  }
}

/** Where this connection reached us: an address we listen on, which no header can change. */
function localOrigin(req: Request): string {
  const address = (req.socket.localAddress ?? '127.0.0.1').replace(/^::ffff:(?=\d+\.)/, '');
  return `http://${address.includes(':') ? `[${address}]` : address}:${req.socket.localPort}`;
}

/**
 * The origin signed URLs point at. LAKESYNC_PUBLIC_URL when configured;
 * otherwise the Host / X-Forwarded-Host / X-Forwarded-Proto a trusted proxy
 * (LAKESYNC_TRUST_PROXY, express's `trust proxy`) forwarded; otherwise the
 * address the request arrived at. A client's own Host header is never used:
 * it would let anyone mint links to their host that carry our signatures.
 */
export function publicOrigin(req: Request, configured: string | undefined): string {
  if (configured) return configured.replace(/\/+$/, '');
  const trust = req.app.get('trust proxy fn') as TrustFn;
  if (trust(req.socket.remoteAddress, 0) && req.host) {
    const forwarded = originOf(req.protocol, req.host);
    if (forwarded) return forwarded;
  }
  return localOrigin(req);
}
