import { createHash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';

/** The bytes' MD5 is not the one the writer declared (Content-MD5): the write fails and stores nothing. */
export class BadDigestError extends Error {
  override readonly name = 'BadDigest';
  constructor() {
    super('the MD5 of the bytes received does not match the declared Content-MD5');
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
    done(this.md5Hex() === this.expectedMd5Hex ? null : new BadDigestError());
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
