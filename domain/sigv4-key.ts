// The SigV4 signing key: HMAC chain over date, region, service and "aws4_request", cached per
// (secret, date, region, service). The cache is keyed by a hash so secrets do not sit in map keys, and holds
// KeyObjects: an HMAC keyed by a raw Buffer makes one on every call, which cost more than the HMAC itself.
import { createHash, createHmac, createSecretKey, timingSafeEqual, type KeyObject } from 'node:crypto';
import { setBounded } from './bounded-map.js';

const MAX_CACHED = 1024;
const cache = new Map<string, KeyObject>();

const hmac = (key: Buffer | string, data: string): Buffer => createHmac('sha256', key).update(data, 'utf8').digest();

export function signingKey(secret: string, date: string, region: string, service: string): KeyObject {
  const id = createHash('sha256').update(`${secret}\0${date}\0${region}\0${service}`).digest('base64');
  const hit = cache.get(id);
  if (hit) return hit;
  const key = createSecretKey(hmac(hmac(hmac(hmac(`AWS4${secret}`, date), region), service), 'aws4_request'));
  setBounded(cache, id, key, MAX_CACHED);
  return key;
}

export function signHex(key: KeyObject, stringToSign: string): string {
  return createHmac('sha256', key).update(stringToSign, 'utf8').digest('hex');
}

/** Constant-time comparison of two hex signatures (case-insensitive); false when either is not 64 hex digits. */
export function signaturesEqual(expectedHex: string, givenHex: string): boolean {
  if (!/^[0-9a-fA-F]{64}$/.test(givenHex)) return false;
  return timingSafeEqual(Buffer.from(expectedHex, 'hex'), Buffer.from(givenHex, 'hex'));
}

/** The SHA-256 of an empty payload, which SigV4 signs for a request without a body. */
export const EMPTY_SHA256 = createHash('sha256').update('').digest('hex');

/** SigV4 sorts names and values by byte value (all ASCII once encoded), not by locale. */
export const byCodeUnit = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
