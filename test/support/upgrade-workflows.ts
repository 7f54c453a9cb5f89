/**
 * Build B of the rolling-upgrade test (test/e2e/rolling-upgrade.test.ts):
 * lakesync's workflows with `syncRun` changed the way a real deploy changes a
 * workflow, behind `patched()`. A run that build A started and build B
 * finishes records the marker and a memo, so its history shows B's work.
 * Bundled from this file by the test; production code never sees it.
 */
import { patched, upsertMemo } from '@temporalio/workflow';
import type { SyncRunInput, SyncRunResult } from '../../domain/messages/workflows/v1.js';
import { syncRun as released } from '../../workflows/sync-run.js';

export { sourceController, uploadSync, purgeLake } from '../../workflows/index.js';

export const ROLLING_UPGRADE_PATCH = 'test-rolling-upgrade';

/** The released syncRun, then one more command on build B: a memo naming the build that finished the run. */
export async function syncRun(input: SyncRunInput): Promise<SyncRunResult> {
  const result = await released(input);
  if (patched(ROLLING_UPGRADE_PATCH)) upsertMemo({ finishedOnBuild: 'B' });
  return result;
}
