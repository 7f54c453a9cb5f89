import { createCipheriv, createDecipheriv, createSecretKey, randomBytes, type KeyObject } from 'node:crypto';

/**
 * Seals source credentials with AES-256-GCM. The sealed form is
 * `v1.<iv>.<tag>.<ciphertext>` (base64url), so a key rotation can add v2.
 */
export class SecretBox {
  /** A KeyObject, made once: a raw Buffer is turned into one on every cipher made with it. */
  private readonly key: KeyObject;
  constructor(keyBase64: string) {
    const raw = Buffer.from(keyBase64, 'base64');
    if (raw.length !== 32) throw new Error('secret key must be 32 bytes');
    this.key = createSecretKey(raw);
  }
  seal(value: unknown): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    const body = Buffer.concat([cipher.update(JSON.stringify(value), 'utf8'), cipher.final()]);
    return ['v1', iv.toString('base64url'), cipher.getAuthTag().toString('base64url'), body.toString('base64url')].join('.');
  }
  open<T>(sealed: string): T {
    const [version, iv, tag, body] = sealed.split('.');
    if (version !== 'v1' || !iv || !tag || body === undefined) throw new Error('unrecognised sealed secret');
    const decipher = createDecipheriv('aes-256-gcm', this.key, Buffer.from(iv, 'base64url'));
    decipher.setAuthTag(Buffer.from(tag, 'base64url'));
    const plain = Buffer.concat([decipher.update(Buffer.from(body, 'base64url')), decipher.final()]);
    return JSON.parse(plain.toString('utf8')) as T;
  }
}
