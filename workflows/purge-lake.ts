import { proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';

const { purgeLakeObjects } = proxyActivities<Activities>({
  startToCloseTimeout: '24 hours',
  heartbeatTimeout: '1 minute',
  retry: { initialInterval: '1 second', maximumInterval: '1 minute' },
});

/** Removes a deleted source's objects from the lake, page by page, however many there are. */
export async function purgeLake(input: { purgeId: string }): Promise<{ removed: number }> {
  return { removed: await purgeLakeObjects(input) };
}
