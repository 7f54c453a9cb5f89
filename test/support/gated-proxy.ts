import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface GatedProxy {
  /** Where clients go instead of the upstream: `http://127.0.0.1:<port>`. */
  endpoint: string;
  /** Requests the gate holds now. */
  held(): number;
  /** Holds every later request that `holds` selects until `open` (requests already through are untouched). */
  close(holds: (req: IncomingMessage) => boolean): void;
  /** Lets the held requests, and every later one, through to the upstream. */
  open(): void;
  /** Forwards every later request that `delays` selects only after `ms`, as a slow link would (null: none). */
  slow(delays: ((req: IncomingMessage) => boolean) | null, ms?: number): void;
  stop(): Promise<void>;
}

/**
 * A loopback HTTP proxy in front of a real S3 endpoint that can hold chosen
 * requests back, as a slow network would, and then forwards them untouched
 * (Host included, so SigV4 signatures verify upstream). It never answers for
 * the upstream: every answer a client sees is the upstream's, given when the
 * request reaches it. A test uses it to change the upstream (delete a bucket)
 * between two requests of one client.
 */
export async function startGatedProxy(upstream: string): Promise<GatedProxy> {
  const target = new URL(upstream);
  let holds: ((req: IncomingMessage) => boolean) | null = null;
  let delays: ((req: IncomingMessage) => boolean) | null = null;
  let delayMs = 0;
  const waiting: (() => void)[] = [];
  const forward = (req: IncomingMessage, res: ServerResponse) => {
    const out = request({ host: target.hostname, port: Number(target.port), method: req.method, path: req.url, headers: req.headers }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    });
    out.once('error', () => {
      if (!res.headersSent) res.writeHead(502).end();
      else res.destroy();
    });
    req.pipe(out);
  };
  const server: Server = createServer((req, res) => {
    if (holds?.(req)) {
      // Paused until the gate opens; the body (none for the requests held here) waits in the socket meanwhile.
      req.pause();
      waiting.push(() => forward(req, res));
    } else if (delays?.(req)) {
      req.pause();
      setTimeout(() => forward(req, res), delayMs);
    } else forward(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    held: () => waiting.length,
    close: (select) => void (holds = select),
    slow: (select, ms = 0) => {
      delays = select;
      delayMs = ms;
    },
    open: () => {
      holds = null;
      for (const go of waiting.splice(0)) go();
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
