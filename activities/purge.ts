import { Context } from '@temporalio/activity';
import { clearPurged, heldLakeKeys, purgePage } from '../catalog/index.js';
import type { ActivityDeps } from './deps.js';
import { removeFromLake } from './lake-removal.js';
import { lakeKeyProblem } from '../lake/keys.js';

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
        const page = await purgePage(sql, input.purgeId);
        if (page.length === 0) return removed;
        // A key some live source of the bucket holds now (re-created on the same prefix, pushed again) stays.
        const held = new Set(
          (
            await heldLakeKeys(
              sql,
              page.map((p) => p.lake_key),
            )
          ).map((h) => `${h.bucket_name}\n${h.lake_key}`),
        );
        // Keys the lake could never have stored (too long, odd segments) are simply dropped from the list.
        const doomed = page.filter((p) => !held.has(`${p.bucket_name}\n${p.lake_key}`) && lakeKeyProblem(p.lake_key) === null);
        for (const bucket of new Set(doomed.map((p) => p.bucket_name)))
          await removeFromLake(
            deps,
            bucket,
            doomed.filter((p) => p.bucket_name === bucket).map((p) => p.lake_key),
          );
        await clearPurged(
          sql,
          input.purgeId,
          page.map((p) => p.lake_key),
        );
        removed += doomed.length;
        Context.current().heartbeat(removed);
      }
    },
  };
}
