import { and, eq } from 'drizzle-orm';
import { buckets, sources } from '../../db/schema.js';
import type { ApiDeps } from '../deps.js';
import { ApiError } from '../errors.js';

export async function findBucket(deps: ApiDeps, name: string) {
  const [bucket] = await deps.db.select().from(buckets).where(eq(buckets.name, name));
  if (!bucket) throw ApiError.notFound(`bucket ${name}`);
  return bucket;
}

export async function findSource(deps: ApiDeps, bucketName: string, sourceId: string) {
  const bucket = await findBucket(deps, bucketName);
  const [source] = await deps.db.select().from(sources).where(and(eq(sources.bucketId, bucket.id), eq(sources.id, sourceId)));
  if (!source) throw ApiError.notFound(`source ${sourceId}`);
  return { bucket, source };
}
