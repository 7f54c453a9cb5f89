import { createHmac, timingSafeEqual } from 'node:crypto';

export const MAX_URL_SECONDS = 86_400;
export const DEFAULT_URL_SECONDS = 3_600;

/**
 * Object URLs signed with a server secret (K3 GetObjectUrl): a GET or HEAD
 * with a valid, unexpired signature needs no bearer token.
 */
export class UrlSigner {
  constructor(private readonly key: Buffer) {}

  private mac(bucket: string, key: string, expires: number): Buffer {
    return createHmac('sha256', this.key).update(`${bucket}\n${key}\n${expires}`).digest();
  }

  sign(baseUrl: string, bucket: string, key: string, expiresInSeconds: number, now = Date.now()): { url: string; expiresAt: number } {
    const expires = Math.floor(now / 1000) + expiresInSeconds;
    const path = `/${encodeURIComponent(bucket)}/${key.split('/').map(encodeURIComponent).join('/')}`;
    const sig = this.mac(bucket, key, expires).toString('base64url');
    return { url: `${baseUrl}${path}?X-Lakesync-Expires=${expires}&X-Lakesync-Signature=${sig}`, expiresAt: expires * 1000 };
  }

  /** Returns the problem with a signed request, or null when it is valid now. */
  verify(bucket: string, key: string, expiresParam: unknown, signatureParam: unknown, now = Date.now()): string | null {
    const expires = Number(expiresParam);
    if (typeof signatureParam !== 'string' || !Number.isInteger(expires)) return 'is not a valid signed URL';
    const given = Buffer.from(signatureParam, 'base64url');
    const expected = this.mac(bucket, key, expires);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return 'signature does not match';
    if (expires * 1000 < now) return 'has expired';
    return null;
  }
}
