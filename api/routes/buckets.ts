import type { Router } from 'express';
import { and, count, eq, inArray, notInArray } from 'drizzle-orm';
import { z } from 'zod';
import { text } from '../../domain/text.js';
import { buckets, sources, uploadSyncs } from '../../db/schema.js';
import type { Db } from '../../db/client.js';
import { stopSignal, syncRunWorkflowId } from '../../workflows/shared.js';
import { newId } from '../../domain/ids.js';
import { PUSHED_SOURCE_KINDS } from '../../domain/kinds.js';
import { callerOf } from '../auth.js';
import type { ApiDeps } from '../deps.js';
import { ApiError } from '../errors.js';
import { PaginationQuery, pageOwnedBy } from '../pagination.js';
import { defineRoutes, routesOf } from '../route.js';
import { bucketJson } from '../serialize.js';
import { Bucket, BucketList } from '../contract/buckets.js';
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

export const BUCKET_ROUTES = defineRoutes({
  create: {
    method: 'post',
    route: '/admin/buckets',
    summary: 'Create a lake bucket',
    scope: 'admin',
    body: CreateBucket,
    responses: { 201: { body: Bucket } },
  },
  list: {
    method: 'get',
    route: '/admin/buckets',
    summary: "List the organisation's buckets",
    scope: 'admin',
    query: PaginationQuery,
    responses: { 200: { body: BucketList } },
  },
  get: { method: 'get', route: '/admin/buckets/:bucket', summary: 'Get a lake bucket', scope: 'admin', responses: { 200: { body: Bucket } } },
  delete: {
    method: 'delete',
    route: '/admin/buckets/:bucket',
    summary: 'Delete an empty lake bucket (no sources, no objects)',
    scope: 'admin',
    responses: { 204: {} },
  },
});

/** Sources a user created hold their bucket; the built-in push source (kind `upload`, never user-created) does not. */
async function refuseWhileSourced(db: Pick<Db, 'select'>, bucket: { id: string; name: string }): Promise<void> {
  const [{ n }] = (await db
    .select({ n: count() })
    .from(sources)
    .where(and(eq(sources.bucketId, bucket.id), notInArray(sources.kind, PUSHED_SOURCE_KINDS)))) as [{ n: number }];
  if (n > 0)
    throw new ApiError('FAILED_PRECONDITION', `bucket: ${bucket.name} still has ${n} source${n === 1 ? '' : 's'}; delete them first`, [
      { field: 'bucket', problem: 'still has sources' },
    ]);
}

export function bucketRoutes(deps: ApiDeps): Router {
  const r = routesOf(BUCKET_ROUTES);
  r.on('create', async (req, res) => {
    const body = parseBody(CreateBucket, req);
    // Bucket names are global, as in S3: a taken name is a conflict whoever holds it.
    const [row] = await deps.db
      .insert(buckets)
      .values({ id: newId('bkt'), name: body.name, orgId: callerOf(res).org })
      .onConflictDoNothing()
      .returning();
    if (!row) throw ApiError.bucketNameTaken(body.name);
    res.status(201).json(bucketJson(row));
  });
  r.on('list', async (req, res) => {
    const q = parseQuery(PaginationQuery, req);
    const org = callerOf(res).org;
    const { page, ...rest } = await pageOwnedBy(deps, buckets, buckets.orgId, org, 'buckets', q);
    res.json({ buckets: page.map(bucketJson), ...rest });
  });
  r.on('get', async (req, res) => {
    res.json(bucketJson(await findBucket(deps, req.params.bucket, callerOf(res).org)));
  });
  /**
   * Only an empty bucket is deleted, as in S3: names are global, so a bucket
   * deleted with objects left in the lake would hand them to whoever takes
   * the name next; and the sources a user created must be deleted first. The
   * built-in push source the first PUT created does not hold the bucket: it
   * goes with it (its rows by cascade, in the same transaction), and so do
   * its controller and any open upload sync's workflow.
   */
  r.on('delete', async (req, res) => {
    const bucket = await findBucket(deps, req.params.bucket, callerOf(res).org);
    await refuseWhileSourced(deps.db, bucket);
    const { objects } = await deps.lake.list(bucket.name, '', null, 1);
    if (objects.length > 0)
      throw new ApiError('FAILED_PRECONDITION', `bucket: ${bucket.name} is not empty; delete its objects first`, [
        { field: 'bucket', problem: 'is not empty' },
      ]);
    const builtIn = await deps.db
      .select()
      .from(sources)
      .where(and(eq(sources.bucketId, bucket.id), inArray(sources.kind, PUSHED_SOURCE_KINDS)));
    const openSyncs = await deps.db
      .select({ workflowId: uploadSyncs.workflowId })
      .from(uploadSyncs)
      .where(and(eq(uploadSyncs.bucketId, bucket.id), eq(uploadSyncs.syncStatus, 'Syncing')));
    await deps.db.transaction(async (tx) => {
      // A source created since the check above holds the bucket after all: the row lock orders the two.
      await tx.select({ id: buckets.id }).from(buckets).where(eq(buckets.id, bucket.id)).for('update');
      await refuseWhileSourced(tx, bucket);
      await tx.delete(buckets).where(eq(buckets.id, bucket.id));
    });
    // The rows are gone first, so a controller woken meanwhile finds no source and ends too.
    for (const source of builtIn) {
      await deps.temporal.workflow
        .getHandle(source.workflowId)
        .signal(stopSignal)
        .catch((err) => deps.log.warn({ err, sourceId: source.id }, 'could not stop the push source controller'));
      if (source.currentJobId)
        await deps.temporal.workflow
          .getHandle(syncRunWorkflowId(source.currentJobId))
          .cancel()
          .catch(() => undefined);
    }
    for (const sync of openSyncs)
      await deps.temporal.workflow
        .getHandle(sync.workflowId)
        .cancel()
        .catch(() => undefined);
    res.status(204).end();
  });
  return r.router();
}
