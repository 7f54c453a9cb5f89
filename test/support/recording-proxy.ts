import { createServer, request, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedRequest {
  method: string;
  /** The path as sent, query included (still percent-encoded). */
  url: string;
  headers: IncomingHttpHeaders;
  status: number;
}

export interface RecordingProxy {
  /** Where clients go instead of the upstream: `http://127.0.0.1:<port>`. */
  endpoint: string;
  /** Every request that went through, in the order they were answered. */
  requests: RecordedRequest[];
  stop(): Promise<void>;
}

/**
 * A loopback HTTP proxy in front of an S3 endpoint that records each request's
 * method, path and headers. It forwards bytes and headers untouched (Host
 * included), so SigV4 signatures made for the proxy's address verify upstream:
 * a real network hop whose log shows which S3 calls a client made.
 */
export async function startRecordingProxy(upstream: string): Promise<RecordingProxy> {
  const target = new URL(upstream);
  const requests: RecordedRequest[] = [];
  const server: Server = createServer((req, res) => {
    const out = request({ host: target.hostname, port: Number(target.port), method: req.method, path: req.url, headers: req.headers }, (up) => {
      requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, status: up.statusCode ?? 0 });
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    });
    out.once('error', () => {
      if (!res.headersSent) res.writeHead(502).end();
      else res.destroy();
    });
    req.pipe(out);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
