import { createHash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';

/** Digests a writer may declare for a body it sends: hex MD5 (Content-MD5) and hex SHA-256 (x-amz-content-sha256). */
export interface BodyDigests {
  md5?: string;
  sha256?: string;
}

/** The bytes' digest is not the one the writer declared: the write fails and stores nothing. */
export class BadDigestError extends Error {
  override readonly name = 'BadDigest';
  constructor(readonly digest: keyof BodyDigests) {
    super(`the ${digest === 'md5' ? 'MD5' : 'SHA-256'} of the bytes received does not match the declared one`);
  }
}

/** Passes the bytes through and fails at their end (BadDigestError) when their digest is not `expectedHex`. */
export class DigestCheck extends Transform {
  private readonly hash;
  constructor(
    private readonly digest: keyof BodyDigests,
    private readonly expectedHex: string,
  ) {
    super();
    this.hash = createHash(digest);
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.hash.update(chunk);
    done(null, chunk);
  }
  override _flush(done: TransformCallback): void {
    done(this.hash.digest('hex') === this.expectedHex ? null : new BadDigestError(this.digest));
  }
}

/**
 * A pass-through stream that hashes (MD5, the digest S3 reports as a simple
 * ETag, so content from either side compares) and counts what flows through.
 * Given the MD5 the writer declared, it fails at the end (BadDigestError)
 * when the bytes have another: the one MD5 a checked write computes, which a
 * stage downstream holding the last chunk (a lake write) keeps from landing.
 */
export class HashingStream extends Transform {
  private readonly hash = createHash('md5');
  private digest: string | undefined;
  bytes = 0;
  constructor(private readonly expectedMd5Hex?: string) {
    super();
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, done: (err?: Error | null, data?: Buffer) => void): void {
    this.hash.update(chunk);
    this.bytes += chunk.length;
    done(null, chunk);
  }
  override _flush(done: TransformCallback): void {
    if (this.expectedMd5Hex === undefined) return done();
    done(this.md5Hex() === this.expectedMd5Hex ? null : new BadDigestError('md5'));
  }
  private md5Hex(): string {
    return (this.digest ??= this.hash.digest('hex'));
  }
  /** The content identity recorded for skip-duplicates: `md5:<hex>`. */
  contentHash(): string {
    return `md5:${this.md5Hex()}`;
  }
}

/** An S3 ETag is the content's MD5 only for simple (non-multipart, non-SSE-KMS) uploads. */
export function contentHashFromEtag(etag: string): string | null {
  return /^[0-9a-f]{32}$/.test(etag) ? `md5:${etag}` : null;
}
