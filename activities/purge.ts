import { Context } from '@temporalio/activity';
import type { ActivityDeps } from './deps.js';
import { removeFromLake } from './lake-removal.js';

export function purgeActivities(deps: ActivityDeps) {
  const sql = deps.db.$client;
  return {
    /**
     * Works off a purge list: each page is removed from the lake before its
     * rows are deleted, so a retry after a crash only removes again what is
     * already gone (a no-op).
     */
    async purgeLakeObjects(input: { purgeId: string }): Promise<number> {
      let removed = 0;
      for (;;) {
        const page = await sql<{ bucket_name: string; lake_key: string }[]>`
          select bucket_name, lake_key from lake_purges where purge_id = ${input.purgeId} order by lake_key limit 500`;
        if (page.length === 0) return removed;
        for (const bucket of new Set(page.map((p) => p.bucket_name))) await removeFromLake(deps, bucket, page.filter((p) => p.bucket_name === bucket).map((p) => p.lake_key));
        await sql`delete from lake_purges where purge_id = ${input.purgeId} and lake_key = any(${page.map((p) => p.lake_key)})`;
        removed += page.length;
        Context.current().heartbeat(removed);
      }
    },
  };
}
