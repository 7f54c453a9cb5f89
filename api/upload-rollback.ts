import { eq, inArray, sql } from 'drizzle-orm';
import { uploadFiles, uploadSyncs, type buckets } from '../db/schema.js';
import { filesUploadedSignal } from '../workflows/shared.js';
import type { ApiDeps } from './deps.js';
import { recordRemoval } from './push-source.js';

/** One history row an upload request created, and the write id of what it stored in the lake (null: nothing). */
export interface CreatedFile {
  historyId: string;
  key: string;
  stored: string | null;
}

type Sync = typeof uploadSyncs.$inferSelect;

/** Adds a request's files to its sync's counters and tells the sync's workflow. */
export async function countUploadedFiles(deps: ApiDeps, sync: Sync, count: number, failed: number): Promise<void> {
  if (count === 0) return;
  await deps.db
    .update(uploadSyncs)
    .set({ totalFiles: sql`${uploadSyncs.totalFiles} + ${count}`, numFailed: sql`${uploadSyncs.numFailed} + ${failed}` })
    .where(eq(uploadSyncs.id, sync.id));
  await deps.temporal.workflow
    .getHandle(sync.workflowId)
    .signal(filesUploadedSignal, { count, failed })
    .catch(() => undefined);
}

/**
 * Undoes an upload request that did not complete (refused, malformed, cut off):
 * the files it stored leave the lake and the catalog, and every history row it
 * created ends Failed with `reason`. (An object the request had overwritten is
 * not brought back: the lake keeps no earlier versions. One that another
 * write has replaced since is not this request's to remove.)
 */
export async function discardUploadRequest(
  deps: ApiDeps,
  bucket: typeof buckets.$inferSelect,
  sync: Sync,
  created: CreatedFile[],
  reason: string,
): Promise<void> {
  for (const f of created) {
    if (!f.stored) continue;
    try {
      if ((await deps.lake.head(bucket.name, f.key))?.writeId !== f.stored) continue;
      await deps.lake.delete(bucket.name, f.key);
      await recordRemoval(deps, bucket, f.key);
    } catch (err) {
      deps.log.error({ err, bucket: bucket.name, syncId: sync.id, key: f.key }, 'could not remove a file of a discarded upload request');
    }
  }
  for (let i = 0; i < created.length; i += 1000) {
    const ids = created.slice(i, i + 1000).map((f) => f.historyId);
    await deps.db
      .update(uploadFiles)
      .set({ syncStatus: 'Failed', endTime: sql`now()`, message: reason })
      .where(inArray(uploadFiles.id, ids));
  }
  await countUploadedFiles(deps, sync, created.length, created.length);
}
