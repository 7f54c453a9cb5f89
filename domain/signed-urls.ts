import { createHmac, timingSafeEqual } from 'node:crypto';

export const MAX_URL_SECONDS = 86_400;
export const DEFAULT_URL_SECONDS = 3_600;

/** The bucket a URL is signed for: its name goes in the path, its id into the signature. */
export interface SignedBucket {
  id: string;
  name: string;
}

/**
 * Object URLs signed with a server secret (K3 GetObjectUrl): a GET or HEAD
 * with a valid, unexpired signature needs no bearer token.
 *
 * The MAC covers the bucket's id, not its name: names are reused (an
 * organisation deletes `x`, another creates `x`), ids never are, so a URL dies
 * with the bucket it was issued for. Overwrites of the object keep it valid,
 * as S3 presigned URLs do.
 */
export class UrlSigner {
  constructor(private readonly key: Buffer) {}

  private mac(bucketId: string, key: string, expires: number): Buffer {
    return createHmac('sha256', this.key).update(`bucket-id:${bucketId}\n${key}\n${expires}`).digest();
  }

  sign(baseUrl: string, bucket: SignedBucket, key: string, expiresInSeconds: number, now = Date.now()): { url: string; expiresAt: number } {
    const expires = Math.floor(now / 1000) + expiresInSeconds;
    const path = `/${encodeURIComponent(bucket.name)}/${key.split('/').map(encodeURIComponent).join('/')}`;
    const sig = this.mac(bucket.id, key, expires).toString('base64url');
    return { url: `${baseUrl}${path}?X-Lakesync-Expires=${expires}&X-Lakesync-Signature=${sig}`, expiresAt: expires * 1000 };
  }

  /** Returns the problem with a signed request for the bucket now named in its path (by id), or null when it is valid now. */
  verify(bucketId: string, key: string, expiresParam: unknown, signatureParam: unknown, now = Date.now()): string | null {
    const expires = Number(expiresParam);
    if (typeof signatureParam !== 'string' || !Number.isInteger(expires)) return 'is not a valid signed URL';
    const given = Buffer.from(signatureParam, 'base64url');
    const expected = this.mac(bucketId, key, expires);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return 'signature does not match';
    if (expires * 1000 < now) return 'has expired';
    return null;
  }
}
