import { z } from 'zod';
import { Instant, PageFields } from './common.js';

export const Bucket = z.object({ bucketId: z.string(), name: z.string(), createdAt: Instant }).meta({ id: 'Bucket' });
export type Bucket = z.infer<typeof Bucket>;

export const BucketList = z.object({ buckets: z.array(Bucket), ...PageFields });
