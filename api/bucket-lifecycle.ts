/**
 * Creating and deleting lake buckets: one owner for both planes (the admin
 * routes and the S3 endpoint's CreateBucket / DeleteBucket), each answering
 * the outcome in its own errors.
 */
import { and, count, eq, inArray, notInArray } from 'drizzle-orm';
import { buckets, sources, uploadSyncs } from '../db/schema.js';
import type { Db } from '../db/client.js';
import { newId } from '../domain/ids.js';
import { PUSHED_SOURCE_KINDS } from '../domain/kinds.js';
import { stopSignal, syncRunWorkflowId } from '../workflows/shared.js';
import type { ApiDeps } from './deps.js';
import { removeBucketUploads } from './s3/multipart-state.js';

type BucketRow = typeof buckets.$inferSelect;

/** Bucket names are global, as in S3: null when the name is taken, whoever holds it. */
export async function createBucket(deps: Pick<ApiDeps, 'db'>, org: string, name: string): Promise<BucketRow | null> {
  const [row] = await deps.db
    .insert(buckets)
    .values({ id: newId('bkt'), name, orgId: org })
    .onConflictDoNothing()
    .returning();
  return row ?? null;
}

/** Sources a user created hold their bucket; the built-in push source (kind `upload`, never user-created) does not. */
async function userSources(db: Pick<Db, 'select'>, bucketId: string): Promise<number> {
  const [{ n }] = (await db
    .select({ n: count() })
    .from(sources)
    .where(and(eq(sources.bucketId, bucketId), notInArray(sources.kind, PUSHED_SOURCE_KINDS)))) as [{ n: number }];
  return n;
}

export type BucketInUse = { refused: 'sourced'; sources: number } | { refused: 'not-empty' };

/**
 * Deletes a bucket, only when empty, as in S3: names are global, so a bucket
 * deleted with objects left in the lake would hand them to whoever takes
 * the name next; and the sources a user created must be deleted first. The
 * built-in push source the first PUT created does not hold the bucket: it
 * goes with it (its rows by cascade, in the same transaction), and so do
 * its controller and any open upload sync's workflow. Null once deleted.
 */
export async function deleteEmptyBucket(deps: ApiDeps, bucket: BucketRow): Promise<BucketInUse | null> {
  const n = await userSources(deps.db, bucket.id);
  if (n > 0) return { refused: 'sourced', sources: n };
  const { objects } = await deps.lake.list(bucket.name, '', null, 1);
  if (objects.length > 0) return { refused: 'not-empty' };
  const builtIn = await deps.db
    .select()
    .from(sources)
    .where(and(eq(sources.bucketId, bucket.id), inArray(sources.kind, PUSHED_SOURCE_KINDS)));
  const openSyncs = await deps.db
    .select({ workflowId: uploadSyncs.workflowId })
    .from(uploadSyncs)
    .where(and(eq(uploadSyncs.bucketId, bucket.id), eq(uploadSyncs.syncStatus, 'Syncing')));
  const raced = await deps.db.transaction(async (tx) => {
    // A source created since the check above holds the bucket after all: the row lock orders the two.
    await tx.select({ id: buckets.id }).from(buckets).where(eq(buckets.id, bucket.id)).for('update');
    const now = await userSources(tx, bucket.id);
    if (now > 0) return now;
    // Multipart uploads in progress do not hold the bucket; their rows go by cascade, so their lake parts go first.
    await removeBucketUploads(deps.db, deps.lake, bucket.id, deps.log);
    await tx.delete(buckets).where(eq(buckets.id, bucket.id));
    return 0;
  });
  if (raced > 0) return { refused: 'sourced', sources: raced };
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
  return null;
}
