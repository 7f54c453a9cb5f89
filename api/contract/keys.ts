import { z } from 'zod';
import { Instant, PageFields } from './common.js';

/** A service-account key as every answer but its creation shows it: never its secret. */
export const ServiceAccountKey = z
  .object({
    accessKeyId: z.string(),
    org: z.string(),
    scopes: z.array(z.enum(['read', 'write', 'admin'])),
    /** The bucket names it is limited to; null for every bucket of its organisation. */
    buckets: z.array(z.string()).nullable(),
    description: z.string().nullable(),
    createdAt: Instant,
  })
  .meta({ id: 'ServiceAccountKey' });
export type ServiceAccountKey = z.infer<typeof ServiceAccountKey>;

/** The answer to its creation: the one time the secret is shown. */
export const CreatedServiceAccountKey = ServiceAccountKey.extend({ secretAccessKey: z.string() }).meta({ id: 'CreatedServiceAccountKey' });
export type CreatedServiceAccountKey = z.infer<typeof CreatedServiceAccountKey>;

export const ServiceAccountKeyList = z.object({ keys: z.array(ServiceAccountKey), ...PageFields });
