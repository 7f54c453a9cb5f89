import { createHash } from 'node:crypto';
import type { S3Credentials } from '../../domain/source-config.js';

/**
 * Who a set of S3 credentials is, secret included: two sources (or a source
 * and the lake) are the same principal only when all of it matches, since an
 * access key id alone is no secret. A digest, so the secret itself is not
 * passed around with locations.
 */
export function credentialIdentity(c: S3Credentials): string {
  return createHash('sha256')
    .update(JSON.stringify([c.accessKeyId, c.secretAccessKey, c.sessionToken ?? null]))
    .digest('base64url');
}
