import { createHash } from 'node:crypto';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * What the proxy answers instead of the server (`reset`: it drops the
 * connection unanswered; `non-finite`: 200 with vectors whose first component
 * overflows float32; `delayMs`: the request passes after that wait); null
 * passes the request through.
 */
export type Fault = { status: 429; retryAfterSeconds: number } | { status: 500 } | { status: 413 } | { delayMs: number } | 'reset' | 'non-finite' | null;

export interface FaultProxy {
  /** The API root clients use instead of the server's: `http://127.0.0.1:<port>/v1`. */
  baseUrl: string;
  /** Requests to the embeddings route, by what they got: `passed` went to the server. */
  counts(): { requests: number; passed: number; resets: number; byStatus: Record<number, number> };
  /** When each passed request arrived (ms since the epoch), in order. */
  passedAt(): number[];
  /** For each body answered 429, how long (ms) until the same body came again. */
  resentAfter429(): number[];
  /** Every Authorization header value it was sent, for the tests to check the key went only here. */
  authorizations(): string[];
  stop(): Promise<void>;
}

interface FaultOptions {
  /** When set, a request without `Authorization: Bearer <apiKey>` gets 401, as OpenAI answers one (echoing the key it was sent). */
  apiKey?: string;
  /**
   * The fault for a request, given how many times this very body has now
   * been sent (1 the first time): faults keyed on the body hit each batch a
   * bounded number of times, however requests interleave.
   */
  fault?: (sends: number, bodyHash: number, inputs: number) => Fault;
}

/**
 * A loopback HTTP proxy in front of a real OpenAI-compatible embeddings
 * server that answers some requests itself — 429 with Retry-After, 500, or
 * 401 for a wrong key — and passes the rest through untouched, counting what
 * each request got.
 */
export async function startFaultProxy(serverBaseUrl: string, o: FaultOptions = {}): Promise<FaultProxy> {
  const target = new URL(serverBaseUrl);
  const sends = new Map<string, number>();
  const byStatus: Record<number, number> = {};
  const passedAt: number[] = [];
  const authorizations: string[] = [];
  const refusedAt = new Map<string, number>();
  const resentAfter429: number[] = [];
  let requests = 0;
  let resets = 0;
  const answer = (res: import('node:http').ServerResponse, status: number, body: object, headers: Record<string, string> = {}) => {
    byStatus[status] = (byStatus[status] ?? 0) + 1;
    res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));
  };
  const server: Server = createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => {
      const body = Buffer.concat(parts);
      const embeddings = req.method === 'POST' && req.url?.endsWith('/embeddings');
      if (embeddings) {
        requests++;
        const given = req.headers.authorization ?? '';
        authorizations.push(given);
        if (o.apiKey !== undefined && given !== `Bearer ${o.apiKey}`) {
          return answer(res, 401, {
            error: { message: `Incorrect API key provided: ${given.replace(/^Bearer /, '')}`, type: 'invalid_request_error', code: 'invalid_api_key' },
          });
        }
        const digest = createHash('sha256').update(body).digest();
        const key = digest.toString('hex');
        const n = (sends.get(key) ?? 0) + 1;
        sends.set(key, n);
        const refused = refusedAt.get(key);
        if (refused !== undefined) {
          resentAfter429.push(Date.now() - refused);
          refusedAt.delete(key);
        }
        const inputs = ((JSON.parse(body.toString('utf8')) as { input?: unknown[] }).input ?? []).length;
        const fault = o.fault?.(n, digest.readUInt32BE(0), inputs);
        if (fault === 'reset') {
          resets++;
          return void res.socket?.destroy();
        }
        if (fault === 'non-finite') {
          const embedding = Array.from({ length: 8 }, (_, i) => (i === 0 ? 1e39 : 0.5));
          return answer(res, 200, { object: 'list', data: Array.from({ length: inputs }, (_, index) => ({ object: 'embedding', index, embedding })) });
        }
        if (fault !== null && fault !== undefined && 'status' in fault) {
          if (fault.status === 429) refusedAt.set(key, Date.now());
          if (fault.status === 429)
            return answer(res, 429, { error: { message: 'Rate limit reached', type: 'requests' } }, { 'retry-after': String(fault.retryAfterSeconds) });
          if (fault.status === 413) return answer(res, 413, { error: { message: 'batch size too large', type: 'validation' } });
          return answer(res, 500, { error: { message: 'The server had an error', type: 'server_error' } });
        }
        // A client that gave up while it waited is not passed on (its request was never sent to the server).
        if (fault)
          return void setTimeout(() => {
            if (req.socket.destroyed) return;
            passedAt.push(Date.now());
            pass(body, embeddings);
          }, fault.delayMs);
        passedAt.push(Date.now());
      }
      pass(body, embeddings);
    });
    function pass(body: Buffer, embeddings: boolean | undefined): void {
      const out = request(
        {
          host: target.hostname,
          port: Number(target.port),
          method: req.method,
          path: req.url,
          headers: { ...req.headers, 'content-length': String(body.length) },
        },
        (up) => {
          if (embeddings) byStatus[up.statusCode ?? 502] = (byStatus[up.statusCode ?? 502] ?? 0) + 1;
          res.writeHead(up.statusCode ?? 502, up.headers);
          up.pipe(res);
        },
      );
      out.once('error', () => (res.headersSent ? res.destroy() : res.writeHead(502).end()));
      out.end(body);
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}${target.pathname.replace(/\/+$/, '')}`,
    counts: () => ({ requests, passed: passedAt.length, resets, byStatus: { ...byStatus } }),
    passedAt: () => [...passedAt],
    resentAfter429: () => [...resentAfter429],
    authorizations: () => [...authorizations],
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
