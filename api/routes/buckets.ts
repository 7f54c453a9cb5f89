import { Router } from 'express';
import { and, asc, count, eq, gt } from 'drizzle-orm';
import { z } from 'zod';
import { text } from '../../domain/text.js';
import { buckets, sources } from '../../db/schema.js';
import { newId } from '../../domain/ids.js';
import { callerOf } from '../auth.js';
import type { ApiDeps } from '../deps.js';
import { ApiError } from '../errors.js';
import { PaginationQuery, pageById } from '../pagination.js';
import { bucketJson } from '../serialize.js';
import { parseBody, parseQuery } from '../validate.js';
import { findBucket } from './lookup.js';

/** Bucket names follow S3's rules so a lake bucket can map onto any S3 store. */
export const BucketName = text()
  .min(3, 'must be 3 to 63 characters')
  .max(63, 'must be 3 to 63 characters')
  .regex(/^[a-z0-9][a-z0-9-]*[a-z0-9]$/, 'must be lowercase letters, digits and hyphens, starting and ending with a letter or digit')
  // `/admin/…` is the API's own; a bucket of that name would shadow it.
  .refine((n) => n !== 'admin', 'is reserved');

const CreateBucket = z.object({ name: BucketName }).strict();

export function bucketRoutes(deps: ApiDeps): Router {
  const r = Router();
  r.post('/admin/buckets', async (req, res) => {
    const body = parseBody(CreateBucket, req);
    // Bucket names are global, as in S3: a taken name is a conflict whoever holds it.
    const [row] = await deps.db.insert(buckets).values({ id: newId('bkt'), name: body.name, orgId: callerOf(res).org }).onConflictDoNothing().returning();
    if (!row) throw new ApiError('ALREADY_EXISTS', `name: bucket ${body.name} already exists`, [{ field: 'name', problem: 'is already taken' }]);
    res.status(201).json(bucketJson(row));
  });
  r.get('/admin/buckets', async (req, res) => {
    const q = parseQuery(PaginationQuery, req);
    const org = callerOf(res).org;
    const { page, ...rest } = await pageById(
      deps.pageTokens,
      `buckets:${org}`,
      q,
      (after, limit) => deps.db.select().from(buckets).where(and(eq(buckets.orgId, org), after ? gt(buckets.id, after) : undefined)).orderBy(asc(buckets.id)).limit(limit),
      async () => (await deps.db.select({ n: count() }).from(buckets).where(eq(buckets.orgId, org)))[0]?.n ?? 0,
    );
    res.json({ buckets: page.map(bucketJson), ...rest });
  });
  r.get('/admin/buckets/:bucket', async (req, res) => {
    res.json(bucketJson(await findBucket(deps, req.params.bucket, callerOf(res).org)));
  });
  /**
   * Only an empty bucket is deleted, as in S3: names are global, so a bucket
   * deleted with objects left in the lake would hand them to whoever takes
   * the name next; and its sources' controllers must be stopped first.
   */
  r.delete('/admin/buckets/:bucket', async (req, res) => {
    const bucket = await findBucket(deps, req.params.bucket, callerOf(res).org);
    const [{ n }] = (await deps.db.select({ n: count() }).from(sources).where(eq(sources.bucketId, bucket.id))) as [{ n: number }];
    if (n > 0) throw new ApiError('FAILED_PRECONDITION', `bucket: ${bucket.name} still has ${n} source${n === 1 ? '' : 's'}; delete them first`, [{ field: 'bucket', problem: 'still has sources' }]);
    const { objects } = await deps.lake.list(bucket.name, '', null, 1);
    if (objects.length > 0) throw new ApiError('FAILED_PRECONDITION', `bucket: ${bucket.name} is not empty; delete its objects first`, [{ field: 'bucket', problem: 'is not empty' }]);
    await deps.db.delete(buckets).where(eq(buckets.id, bucket.id));
    res.status(204).end();
  });
  return r;
}
