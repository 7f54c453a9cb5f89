import pLimit from 'p-limit';
import type { ActivityDeps } from './deps.js';

/**
 * Deletes lake objects (idempotent: deleting what is gone is a no-op). Callers
 * remove from the lake first and record it after, so a crash in between only
 * repeats this.
 */
export async function removeFromLake(deps: ActivityDeps, bucketName: string, lakeKeys: string[]): Promise<void> {
  const limit = pLimit(deps.objectConcurrency);
  await Promise.all(lakeKeys.map((key) => limit(() => deps.lake.delete(bucketName, key))));
}
