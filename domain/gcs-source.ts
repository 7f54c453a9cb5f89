/**
 * A Google Cloud Storage source's settings and credentials as the API takes
 * them (the `gcs` entry of domain/source-kinds.ts). Settings hold no secret;
 * the service-account key is sealed apart from them.
 */
import { createPrivateKey } from 'node:crypto';
import { z } from 'zod';
import { patchOf } from './patch-of.js';
import { text } from './text.js';

/** The one token endpoint the Google client signs for; a key file naming another is refused, not silently ignored. */
export const GOOGLE_TOKEN_URI = 'https://oauth2.googleapis.com/token';

export const GcsConnectionSchema = z
  .object({
    /** An emulator or a private endpoint; absent means Google's own. */
    endpoint: text().url().optional(),
    // Google's rules for bucket names (dotted names may be up to 222 characters).
    bucket: text()
      .min(3)
      .max(222)
      .regex(/^[a-z0-9][a-z0-9._-]*[a-z0-9]$/, 'must be a valid GCS bucket name'),
    prefix: text().max(1024).default(''),
  })
  .strict();
export type GcsConnection = z.infer<typeof GcsConnectionSchema>;

/** What is sealed: the parts of a key file that sign requests. */
export interface GcsCredentials {
  clientEmail: string;
  privateKey: string;
  privateKeyId?: string;
}

/**
 * A service-account key file as Google hands it out. Its other fields
 * (project_id, client_id, auth_uri, …) are accepted and dropped: nothing here
 * uses them.
 */
const ServiceAccountKey = z.object({
  type: z.literal('service_account', { message: 'must be "service_account" (a service-account key file)' }),
  client_email: text().min(3).max(320).email(),
  // A PEM key spans lines.
  private_key: text('multiline')
    .min(1)
    .max(16_384)
    .refine((pem) => {
      try {
        // Service-account keys sign RS256.
        return createPrivateKey(pem).asymmetricKeyType === 'rsa';
      } catch {
        return false;
      }
    }, 'must be a PEM RSA private key'),
  private_key_id: text().max(256).optional(),
  token_uri: text().max(2048).optional(),
});

export const GcsCreateInput = GcsConnectionSchema.extend({ serviceAccount: ServiceAccountKey.optional() })
  .strict()
  .refine((v) => v.serviceAccount !== undefined || v.endpoint !== undefined, {
    message: 'is required unless an emulator endpoint is given',
    path: ['serviceAccount'],
  });

export const GcsPatchInput = patchOf(GcsConnectionSchema).extend({ serviceAccount: ServiceAccountKey.optional() }).strict();

export type ServiceAccountKey = z.output<typeof ServiceAccountKey>;

export function gcsCredentials(key: ServiceAccountKey | undefined): GcsCredentials | null {
  if (!key) return null;
  return { clientEmail: key.client_email, privateKey: key.private_key, ...(key.private_key_id ? { privateKeyId: key.private_key_id } : {}) };
}
