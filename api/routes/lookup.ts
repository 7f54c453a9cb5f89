import { and, eq } from 'drizzle-orm';
import { buckets, sources } from '../../db/schema.js';
import type { ApiDeps } from '../deps.js';
import { ApiError } from '../errors.js';

/** Another organisation's bucket is not found, exactly like one that does not exist. */
export async function findBucket(deps: ApiDeps, name: string, org: string) {
  const [bucket] = await deps.db
    .select()
    .from(buckets)
    .where(and(eq(buckets.name, name), eq(buckets.orgId, org)));
  if (!bucket) throw ApiError.notFound(`bucket ${name}`);
  return bucket;
}

export async function findSource(deps: ApiDeps, bucketName: string, sourceId: string, org: string) {
  const bucket = await findBucket(deps, bucketName, org);
  const [source] = await deps.db
    .select()
    .from(sources)
    .where(and(eq(sources.bucketId, bucket.id), eq(sources.id, sourceId)));
  if (!source) throw ApiError.notFound(`source ${sourceId}`);
  return { bucket, source };
}
