/**
 * Service-account keys: minting an access key id and secret, sealing the
 * secret at rest, and `findActiveKey`, the one lookup SigV4 verification
 * calls. The routes (api/routes/keys.ts) are the only writer of the table.
 */
import { randomBytes, randomInt } from 'node:crypto';
import { and, eq, isNull } from 'drizzle-orm';
import type { Db } from '../db/client.js';
import { serviceAccountKeys } from '../db/schema.js';
import type { SecretBox } from '../domain/secrets.js';
import type { Scope } from './auth.js';
import { setBounded } from '../domain/bounded-map.js';

/** A recognisable prefix (as AWS's `AKIA`), then 16 of A-Z0-9: 20 characters, about 83 random bits. */
const PREFIX = 'LKSA';
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
export const ACCESS_KEY_ID = /^LKSA[A-Z0-9]{16}$/;

export const newAccessKeyId = (): string => PREFIX + Array.from({ length: 16 }, () => ALPHABET[randomInt(ALPHABET.length)]).join('');

/** 30 random bytes in base64: 40 characters, as AWS's secrets. */
export const newSecretAccessKey = (): string => randomBytes(30).toString('base64');

/** What is sealed: the id with the secret, so a sealed secret copied onto another key's row does not open there. */
interface SealedKey {
  id: string;
  secret: string;
}

export const sealKeySecret = (secrets: SecretBox, id: string, secret: string): string => secrets.seal({ id, secret } satisfies SealedKey);

/** What SigV4 verification needs of a key: the plaintext secret to recompute signatures, and what the key may reach. */
export interface ActiveKey {
  accessKeyId: string;
  secret: string;
  org: string;
  scopes: Scope[];
  /** Bucket names it is limited to (looked up within `org` like any bucket); null for every bucket of the organisation. */
  buckets: string[] | null;
}

type KeyRow = typeof serviceAccountKeys.$inferSelect;

/**
 * Opened secrets by box and sealed form: a request's lookup still reads the row (revocation is at once), only the
 * decryption is saved. Per box, so a sealed form only ever opens with the key that sealed it.
 */
const opened = new WeakMap<SecretBox, Map<string, SealedKey>>();
const MAX_OPENED = 1024;

/** The active key a row holds, or null when it holds no secret or one sealed for another key id. */
export function activeKeyOf(secrets: SecretBox, row: KeyRow): ActiveKey | null {
  if (!row.sealedSecret) return null;
  let mine = opened.get(secrets);
  if (!mine) opened.set(secrets, (mine = new Map()));
  let sealed = mine.get(row.sealedSecret);
  if (!sealed) {
    sealed = secrets.open<SealedKey>(row.sealedSecret);
    setBounded(mine, row.sealedSecret, sealed, MAX_OPENED);
  }
  if (sealed.id !== row.id) {
    mine.delete(row.sealedSecret);
    return null;
  }
  return { accessKeyId: row.id, secret: sealed.secret, org: row.orgId, scopes: row.scopes, buckets: row.buckets };
}

/**
 * The key with this access key id, unless it does not exist or was revoked
 * (null). A malformed id is null without a query, so text from a request's
 * `Credential` reaches Postgres only in a shape it accepts.
 */
export async function findActiveKey(deps: { db: Db; secrets: SecretBox }, accessKeyId: string): Promise<ActiveKey | null> {
  if (!ACCESS_KEY_ID.test(accessKeyId)) return null;
  const [row] = await deps.db
    .select()
    .from(serviceAccountKeys)
    .where(and(eq(serviceAccountKeys.id, accessKeyId), isNull(serviceAccountKeys.revokedAt)));
  return row ? activeKeyOf(deps.secrets, row) : null;
}
