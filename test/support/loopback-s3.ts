// A throwaway loopback HTTP server for the SigV4 tests: every request is verified with verifySigV4 and its
// body streamed through payloadStream, exactly as the S3 endpoint will; the outcome is recorded and
// answered S3-style (XML error with the S3 code), so real clients see what a real S3 would tell them.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  checksumAlgorithmOfHeader,
  checksumCheck,
  payloadStream,
  SIGV4_ERROR_STATUS,
  SigV4Error,
  splitRequestUrl,
  verifySigV4,
  type SigV4ErrorCode,
  type SigV4Failure,
  type SigV4Options,
  type SigV4Success,
} from '../../api/s3/sigv4/index.js';
import { AwsChunkedDecoder } from '../../api/s3/sigv4/chunked.js';

export interface Outcome {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  result: SigV4Success | SigV4Failure;
  /** The decoded body, when the signature verified and the body checks passed. */
  body?: Buffer;
  /** The S3 code the body checks failed with. */
  bodyError?: SigV4ErrorCode | 'InternalError';
  trailerChecksum?: { algorithm: string; base64: string } | null;
}

export interface LoopbackS3 {
  endpoint: string;
  port: number;
  outcomes: Outcome[];
  close(): Promise<void>;
}

function xmlError(code: string, message: string): string {
  const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  return `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${esc(message)}</Message><RequestId>test</RequestId></Error>`;
}

export async function startLoopbackS3(options: SigV4Options): Promise<LoopbackS3> {
  const outcomes: Outcome[] = [];
  const server: Server = createServer((req, res) => {
    void (async () => {
      const { rawPath, rawQuery } = splitRequestUrl(req.url ?? '/');
      const result = await verifySigV4({ method: req.method ?? 'GET', rawPath, rawQuery, headers: req.headers, rawHeaders: req.rawHeaders }, options);
      const outcome: Outcome = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, result };
      outcomes.push(outcome);
      if (!result.ok) {
        req.resume();
        res.writeHead(SIGV4_ERROR_STATUS[result.code], { 'content-type': 'application/xml' }).end(xmlError(result.code, result.message));
        return;
      }
      const stages: NodeJS.ReadWriteStream[] = [payloadStream(result.payload)];
      // A checksum sent as a header (not a trailer) covers the decoded body too.
      for (const name of Object.keys(req.headers)) {
        const algorithm = checksumAlgorithmOfHeader(name);
        if (algorithm) stages.push(checksumCheck(algorithm, String(req.headers[name])));
      }
      const parts: Buffer[] = [];
      const sink = new Writable({
        write(chunk: Buffer, _enc, callback) {
          parts.push(chunk);
          callback();
        },
      });
      try {
        await pipeline([req, ...stages, sink]);
        outcome.body = Buffer.concat(parts);
        outcome.trailerChecksum = stages[0] instanceof AwsChunkedDecoder ? stages[0].checksum : null;
        res.writeHead(200, { etag: '"0"' }).end();
      } catch (err) {
        const code = err instanceof SigV4Error ? err.code : 'InternalError';
        outcome.bodyError = code;
        res.writeHead(err instanceof SigV4Error ? err.status : 500, { 'content-type': 'application/xml' }).end(xmlError(code, (err as Error).message));
      }
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    port,
    outcomes,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((err) => (err ? reject(err) : resolve()));
      }),
  };
}
