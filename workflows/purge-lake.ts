import { proxyActivities, sleep } from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import type { PurgeLakeInput, PurgeLakeResult } from '../domain/messages/workflows/v1.js';

const { purgeLakeObjects } = proxyActivities<Activities>({
  startToCloseTimeout: '24 hours',
  heartbeatTimeout: '1 minute',
  retry: { initialInterval: '1 second', maximumInterval: '1 minute' },
});

/**
 * Removes a deleted source's objects from the lake, page by page, however many
 * there are — after `settleSeconds`, so copies of the sync run cancelled with
 * the source have stopped landing first.
 */
export async function purgeLake(input: PurgeLakeInput): Promise<PurgeLakeResult> {
  if (input.settleSeconds) await sleep(input.settleSeconds * 1000);
  return { removed: await purgeLakeObjects({ purgeId: input.purgeId }) };
}
