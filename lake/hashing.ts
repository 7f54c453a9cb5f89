import { createHash } from 'node:crypto';
import { Transform } from 'node:stream';

/**
 * A pass-through stream that hashes (MD5, the digest S3 reports as a simple
 * ETag, so content from either side compares) and counts what flows through.
 */
export class HashingStream extends Transform {
  private readonly hash = createHash('md5');
  bytes = 0;
  override _transform(chunk: Buffer, _enc: BufferEncoding, done: (err?: Error | null, data?: Buffer) => void): void {
    this.hash.update(chunk);
    this.bytes += chunk.length;
    done(null, chunk);
  }
  /** The content identity recorded for skip-duplicates: `md5:<hex>`. */
  contentHash(): string {
    return `md5:${this.hash.digest('hex')}`;
  }
}

/** An S3 ETag is the content's MD5 only for simple (non-multipart, non-SSE-KMS) uploads. */
export function contentHashFromEtag(etag: string): string | null {
  return /^[0-9a-f]{32}$/.test(etag) ? `md5:${etag}` : null;
}
