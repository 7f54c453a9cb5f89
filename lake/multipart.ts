import { createHash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';

/** S3's part numbers. */
export const MIN_PART_NUMBER = 1;
export const MAX_PART_NUMBER = 10_000;
/** S3's smallest part other than the last. */
export const MIN_PART_SIZE = 5 * 1024 ** 2;
/** S3's largest part. */
export const MAX_PART_SIZE = 5 * 1024 ** 3;
/**
 * S3's ETag of a multipart object: the MD5 of the parts' binary MD5s, then
 * `-` and the number of parts. Clients (rclone, aws-cli) recompute it.
 */
export function multipartEtag(partMd5s: readonly string[]): string {
  const md5 = createHash('md5');
  for (const hex of partMd5s) md5.update(Buffer.from(hex, 'hex'));
  return `${md5.digest('hex')}-${partMd5s.length}`;
}

/**
 * Passes exactly `size` bytes: a body that brings more, or ends with fewer,
 * fails, so a part is never stored with another length than the one the lake
 * was told (S3 would wait for the missing bytes; a file would be short).
 */
export class ExactLength extends Transform {
  private seen = 0;
  constructor(private readonly size: number) {
    super();
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.seen += chunk.length;
    if (this.seen > this.size) return done(new Error(`part body is longer than its declared ${this.size} bytes`));
    done(null, chunk);
  }
  override _flush(done: TransformCallback): void {
    done(this.seen === this.size ? null : new Error(`part body ended after ${this.seen} of its declared ${this.size} bytes`));
  }
}

/** The lake no longer has the upload (aborted, completed, or cleaned up): S3's NoSuchUpload. */
export class MultipartUploadGone extends Error {
  override readonly name = 'MultipartUploadGone';
  constructor() {
    super('the multipart upload is no longer in the lake');
  }
}

/**
 * The lake refused a part the caller's state names (S3 lake: the physical upload's InvalidPart — its stored
 * part is not the one recorded): S3's InvalidPart, not a server error.
 */
export class MultipartPartInvalid extends Error {
  override readonly name = 'MultipartPartInvalid';
  constructor(readonly detail: string) {
    super(`the lake refused a part of the multipart upload: ${detail}`);
  }
}
