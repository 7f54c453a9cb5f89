// A request body on its way to the lake: the SigV4 payload check (payload hash, chunk signatures, trailing
// checksum), then any Content-MD5 or x-amz-checksum-* header. Each fails the stream with S3's code, so a
// lake write of it rejects and leaves nothing behind. A lake write can take over the whole-body digests
// (lakeDigests, leaveToLake): it checks them with the MD5 it computes anyway, or has its store check them.
import type { IncomingHttpHeaders } from 'node:http';
import { PassThrough, type Readable, type Transform } from 'node:stream';
import { DigestCheck, type BodyDigests } from '../../lake/hashing.js';
import { S3Error } from './errors.js';
import { CHECKSUM_ALGORITHMS, checksumCheck, payloadStream, type PayloadMode } from './sigv4/index.js';

/** The request's Content-MD5 as hex, undefined when it has none; InvalidDigest unless it is base64 of 16 bytes. */
export function declaredContentMd5(headers: IncomingHttpHeaders): string | undefined {
  const header = headers['content-md5'];
  if (typeof header !== 'string') return undefined;
  const expected = Buffer.from(header, 'base64');
  if (expected.length !== 16 || expected.toString('base64') !== header.trim()) {
    throw new S3Error('InvalidDigest', 'The Content-MD5 you specified was an invalid.');
  }
  return expected.toString('hex');
}

/** The x-amz-checksum-* header a request carries with the checksum as a header (not a trailer). */
function headerChecksum(headers: IncomingHttpHeaders): Transform | null {
  for (const algorithm of CHECKSUM_ALGORITHMS) {
    const value = headers[`x-amz-checksum-${algorithm}`];
    if (typeof value === 'string') return checksumCheck(algorithm, value.trim());
  }
  return null;
}

/**
 * The verified body: `req` through the payload check and the digest checks (`headerChecksum: false` skips
 * the x-amz-checksum-* header's). Errors travel down the chain, so the
 * reader sees the first one (and a client that goes away mid-body is an error too, never a short object).
 */
export function verifiedBody(
  req: Readable & { headers: IncomingHttpHeaders },
  mode: PayloadMode,
  options: { headerChecksum?: boolean; leaveToLake?: BodyDigests } = {},
): Readable {
  // Digests a lake write takes over (lakeDigests) are checked there: by the MD5 it computes anyway, or by its store.
  const leave = options.leaveToLake ?? {};
  // Never the request itself: a stage of our own is what an aborted request is failed on (below).
  const stages: Transform[] = [mode.kind === 'sha256' && leave.sha256 !== undefined ? new PassThrough() : payloadStream(mode)];
  const md5 = declaredContentMd5(req.headers);
  if (md5 !== undefined && leave.md5 === undefined) stages.push(new DigestCheck('md5', md5));
  // With a trailer the decoder already checks the checksum it announces; an operation whose x-amz-checksum-*
  // header is the object's (CompleteMultipartUpload's composite) opts out, for it is not this body's.
  const checksum = options.headerChecksum === false || (mode.kind === 'aws-chunked' && mode.trailerChecksum) ? null : headerChecksum(req.headers);
  if (checksum) stages.push(checksum);
  let upstream: Readable = req;
  for (const stage of stages) {
    const from = upstream;
    from.on('error', (err) => stage.destroy(err));
    from.pipe(stage);
    upstream = stage;
  }
  // The consumer (a lake write) may attach only after a few awaits, by when a small body can have failed
  // already: the stream keeps its error (stream.errored) for the consumer's pipeline, and must not crash meanwhile.
  upstream.on('error', () => undefined);
  req.on('aborted', () =>
    upstream.destroy(new S3Error('IncompleteBody', 'You did not provide the number of bytes specified by the Content-Length HTTP header.')),
  );
  return upstream;
}

/** The digests a request declares for its whole body, which a lake write can check itself (LakeStore.put's `digests`). */
export function lakeDigests(headers: IncomingHttpHeaders, mode: PayloadMode): BodyDigests {
  const md5 = declaredContentMd5(headers);
  return { ...(md5 === undefined ? {} : { md5 }), ...(mode.kind === 'sha256' ? { sha256: mode.sha256 } : {}) };
}
