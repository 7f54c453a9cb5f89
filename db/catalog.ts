import { sql } from 'drizzle-orm';
import type { Db } from './client.js';

/** A lake object is gone (deleted, trashed): whichever source brought it, its catalog row no longer points at the lake. */
export async function markRemovedFromLake(db: Db, bucketId: string, key: string): Promise<void> {
  await db.execute(sql`
    update source_objects so set status = 'deleted', lake_key = null, pending_job_id = null, updated_at = now()
    from sources s where s.id = so.source_id and s.bucket_id = ${bucketId} and so.lake_key = ${key}`);
  // What pipelines indexed of it goes with it.
  await db.execute(sql`delete from fulltext_documents where bucket_id = ${bucketId} and lake_key = ${key}`);
}
