// Body checks for the non-chunked payload modes, and the one entry point that picks the right stream.
import { createHash } from 'node:crypto';
import { PassThrough, Transform, type TransformCallback } from 'node:stream';
import { AwsChunkedDecoder } from './chunked.js';
import { checksumDisplayName, createChecksum, type ChecksumAlgorithm } from './checksums.js';
import { SigV4Error } from './errors.js';
import type { PayloadMode } from './payload.js';

/** Passes the body through and fails at its end with XAmzContentSHA256Mismatch when its SHA-256 differs. */
export function contentSha256Check(expectedHex: string): Transform {
  const hash = createHash('sha256');
  return new Transform({
    transform(chunk: Buffer, _enc, callback: TransformCallback) {
      hash.update(chunk);
      callback(null, chunk);
    },
    flush(callback: TransformCallback) {
      if (hash.digest('hex') === expectedHex) callback();
      else {
        callback(new SigV4Error('XAmzContentSHA256Mismatch', "The provided 'x-amz-content-sha256' header does not match what was computed."));
      }
    },
  });
}

/** Passes the body through and fails at its end with BadDigest when a header checksum (x-amz-checksum-*) differs. */
export function checksumCheck(algorithm: ChecksumAlgorithm, expectedBase64: string): Transform {
  const running = createChecksum(algorithm);
  return new Transform({
    transform(chunk: Buffer, _enc, callback: TransformCallback) {
      running.update(chunk);
      callback(null, chunk);
    },
    flush(callback: TransformCallback) {
      running.digestBase64().then(
        (computed) =>
          callback(
            computed === expectedBase64
              ? null
              : new SigV4Error('BadDigest', `The ${checksumDisplayName(algorithm)} you specified did not match the calculated checksum.`),
          ),
        (err: unknown) => callback(err as Error),
      );
    },
  });
}

/**
 * The stream a verified request's body goes through: it yields the object's bytes and errors (SigV4Error,
 * carrying the S3 code) when the body breaks what was signed. Data flows before the end is checked, so a
 * caller discards what it wrote when this stream errors.
 */
export function payloadStream(mode: PayloadMode): Transform {
  switch (mode.kind) {
    case 'sha256':
      return contentSha256Check(mode.sha256);
    case 'unsigned':
      return new PassThrough();
    case 'aws-chunked':
      return new AwsChunkedDecoder(mode);
  }
}
