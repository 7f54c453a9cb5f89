import { sql } from 'drizzle-orm';
import type { Db } from './client.js';

/** A lake object is gone (deleted, trashed): whichever source brought it, its catalog row no longer points at the lake. */
export async function markRemovedFromLake(db: Db, bucketId: string, key: string): Promise<void> {
  // What pipelines made of it goes with it.
  await db.execute(sql`
    with removed as (
      update source_objects so set status = 'deleted', lake_key = null, pending_job_id = null, process_job_id = null, updated_at = now()
      from sources s where s.id = so.source_id and s.bucket_id = ${bucketId} and so.lake_key = ${key}
      returning so.id
    )
    delete from object_pipeline_runs where object_id in (select id from removed)`);
  await db.execute(sql`delete from fulltext_documents where bucket_id = ${bucketId} and lake_key = ${key}`);
}
