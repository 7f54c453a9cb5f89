import { Context } from '@temporalio/activity';
import { and, eq, sql } from 'drizzle-orm';
import { recordRemovedFromLake } from '../catalog/index.js';
import { buckets, uploadFiles, uploadSyncs } from '../db/schema.js';
import type { ActivityDeps } from './deps.js';
import { TRASH_PREFIX, trashKey } from '../lake/trash.js';

export function uploadActivities(deps: ActivityDeps) {
  const { db } = deps;

  async function load(syncId: string) {
    const [row] = await db
      .select({ sync: uploadSyncs, bucketName: buckets.name })
      .from(uploadSyncs)
      .innerJoin(buckets, eq(buckets.id, uploadSyncs.bucketId))
      .where(eq(uploadSyncs.id, syncId));
    return row;
  }

  /**
   * A sync that ends leaves no file `Syncing`: a row still so belongs to a
   * request that never finished (its API process died mid-upload), whose file
   * is not in the lake whole. Idempotent, so a retried activity repeats it.
   */
  async function failUnfinishedFiles(syncId: string, message: string): Promise<void> {
    await db
      .update(uploadFiles)
      .set({ syncStatus: 'Failed', endTime: sql`now()`, message })
      .where(and(eq(uploadFiles.syncId, syncId), eq(uploadFiles.syncStatus, 'Syncing')));
  }

  return {
    /**
     * Ends a sync. For FULL: every object under its path that this sync did not
     * upload moves to `.trash/<syncId>/…`. Moves are idempotent (a repeated one
     * finds nothing to move), so a retry after a crash finishes the job.
     */
    async finishUploadSync(input: { syncId: string }): Promise<void> {
      // First, so a FULL sync trashes what such a file would have replaced, as for any file it did not upload.
      await failUnfinishedFiles(input.syncId, 'not stored: the sync ended before the file was received whole');
      const row = await load(input.syncId);
      if (!row || row.sync.syncStatus !== 'Syncing') return;
      const { sync, bucketName } = row;
      let trashed = 0;
      if (sync.syncType === 'FULL') {
        const uploaded = new Set(
          (
            await db
              .select({ key: uploadFiles.key })
              .from(uploadFiles)
              .where(and(eq(uploadFiles.syncId, sync.id), eq(uploadFiles.syncStatus, 'Finished')))
          ).map((f) => f.key),
        );
        let after: string | null = null;
        for (;;) {
          const page = await deps.lake.list(bucketName, sync.path, after, 1000);
          for (const o of page.objects) {
            after = o.key;
            if (uploaded.has(o.key) || o.key.startsWith(TRASH_PREFIX)) continue;
            if (await deps.lake.move(bucketName, o.key, trashKey(sync.id, o.key))) trashed++;
            await recordRemovedFromLake(db, sync.bucketId, o.key);
          }
          Context.current().heartbeat(after);
          if (!page.more) break;
        }
      }
      await db
        .update(uploadSyncs)
        .set({ syncStatus: 'Finished', endTime: sql`now()`, trashed: sql`${uploadSyncs.trashed} + ${trashed}` })
        .where(and(eq(uploadSyncs.id, sync.id), eq(uploadSyncs.syncStatus, 'Syncing')));
    },

    async failUploadSync(input: { syncId: string; message: string }): Promise<void> {
      await failUnfinishedFiles(input.syncId, `not stored: the sync failed (${input.message})`);
      await db
        .update(uploadSyncs)
        .set({ syncStatus: 'Failed', endTime: sql`now()`, message: input.message })
        .where(and(eq(uploadSyncs.id, input.syncId), eq(uploadSyncs.syncStatus, 'Syncing')));
    },
  };
}
