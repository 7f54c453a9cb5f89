// What x-amz-content-sha256 says about the body, and the signing context aws-chunked bodies are checked with.
import { EMPTY_SHA256 } from './canonical.js';
import { checksumAlgorithmOfHeader, type ChecksumAlgorithm } from './checksums.js';
import { fail, type SigV4Failure } from './errors.js';
import type { KeyObject } from 'node:crypto';
import { signHex } from '../../../domain/sigv4-key.js';

export const UNSIGNED_PAYLOAD = 'UNSIGNED-PAYLOAD';
const STREAMING_SIGNED = 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD';
const STREAMING_SIGNED_TRAILER = 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER';
const STREAMING_UNSIGNED_TRAILER = 'STREAMING-UNSIGNED-PAYLOAD-TRAILER';

/**
 * The chained signatures of an aws-chunked body: each chunk's signature covers the previous one, starting
 * from the request's own ("seed") signature. The key stays in a private field so logging a PayloadMode
 * never prints it.
 */
export class ChunkSigning {
  readonly #key: KeyObject;
  constructor(
    key: KeyObject,
    readonly amzDate: string,
    readonly scope: string,
    readonly seedSignature: string,
  ) {
    this.#key = key;
  }

  chunkSignature(previous: string, chunkSha256Hex: string): string {
    return signHex(this.#key, `AWS4-HMAC-SHA256-PAYLOAD\n${this.amzDate}\n${this.scope}\n${previous}\n${EMPTY_SHA256}\n${chunkSha256Hex}`);
  }

  trailerSignature(previous: string, canonicalTrailersSha256Hex: string): string {
    return signHex(this.#key, `AWS4-HMAC-SHA256-TRAILER\n${this.amzDate}\n${this.scope}\n${previous}\n${canonicalTrailersSha256Hex}`);
  }
}

export type PayloadMode =
  /** The body's SHA-256 was signed: check it while streaming (contentSha256Check). */
  | { kind: 'sha256'; sha256: string }
  | { kind: 'unsigned' }
  /** Content-Encoding aws-chunked: decode with AwsChunkedDecoder. */
  | {
      kind: 'aws-chunked';
      /** Chunk signatures present and checked (STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]). */
      signing: ChunkSigning | null;
      /** A -TRAILER variant: trailing headers may follow the last chunk. */
      trailers: boolean;
      /** The checksum announced in x-amz-trailer, checked against the decoded bytes. */
      trailerChecksum: ChecksumAlgorithm | null;
      decodedLength: number;
    };

/** The payload mode of a request whose signature already checked out. */
export function payloadMode(contentSha256: string, header: (name: string) => string | undefined, signing: () => ChunkSigning): PayloadMode | SigV4Failure {
  if (contentSha256 === UNSIGNED_PAYLOAD) return { kind: 'unsigned' };
  if (/^[0-9a-fA-F]{64}$/.test(contentSha256)) return { kind: 'sha256', sha256: contentSha256.toLowerCase() };
  const streaming = [STREAMING_SIGNED, STREAMING_SIGNED_TRAILER, STREAMING_UNSIGNED_TRAILER].includes(contentSha256);
  if (!streaming) {
    return fail(
      'InvalidArgument',
      `x-amz-content-sha256 must be ${UNSIGNED_PAYLOAD}, ${STREAMING_SIGNED}, ${STREAMING_SIGNED_TRAILER}, ${STREAMING_UNSIGNED_TRAILER} or a valid sha256 value.`,
    );
  }
  const decoded = header('x-amz-decoded-content-length');
  if (decoded === undefined) return fail('MissingContentLength', 'You must provide the x-amz-decoded-content-length HTTP header.');
  if (!/^\d{1,15}$/.test(decoded)) return fail('InvalidArgument', 'x-amz-decoded-content-length must be a non-negative integer.');
  const trailers = contentSha256 !== STREAMING_SIGNED;
  const announced = header('x-amz-trailer');
  let trailerChecksum: ChecksumAlgorithm | null = null;
  if (announced !== undefined && announced.trim() !== '') {
    if (!trailers) return fail('InvalidRequest', `x-amz-trailer needs x-amz-content-sha256 ${STREAMING_SIGNED_TRAILER} or ${STREAMING_UNSIGNED_TRAILER}.`);
    trailerChecksum = checksumAlgorithmOfHeader(announced.trim());
    if (!trailerChecksum) return fail('InvalidRequest', `The value specified in the x-amz-trailer header is not supported: ${announced}`);
  }
  return {
    kind: 'aws-chunked',
    signing: contentSha256 === STREAMING_UNSIGNED_TRAILER ? null : signing(),
    trailers,
    trailerChecksum,
    decodedLength: Number(decoded),
  };
}
