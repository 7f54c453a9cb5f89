import { allHandlersFinished, condition, log, patched, proxyActivities, setHandler } from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import type { UploadSyncInput, UploadSyncPhase } from '../domain/messages/workflows/v1.js';
import { endUploadUpdate, filesUploadedSignal, uploadStatusQuery } from './shared.js';

const acts = proxyActivities<Activities>({
  startToCloseTimeout: '1 hour',
  heartbeatTimeout: '1 minute',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds' },
});

/**
 * Syncs ended before this patch finished inside the `end` update's handler;
 * their histories replay on that path. New ones record the marker when `end`
 * arrives: the handler only sets state and the workflow finishes the sync.
 */
export const END_HANDLER_SETS_STATE_ONLY = 'upload-end-handler-sets-state-only';

/**
 * One DataInsider upload sync: open until `end` arrives or its TTL runs out on
 * a durable timer. Ending a FULL sync moves what it did not upload under its
 * path into a restorable trash; an abandoned sync fails.
 */
export async function uploadSync(input: UploadSyncInput): Promise<void> {
  let status: UploadSyncPhase = 'Syncing';
  let ending = false;
  /** Whether the workflow (not the handler) finishes the sync: decided once, when `end` first arrives. */
  let finishHere = false;
  const finish = async () => {
    await acts.finishUploadSync({ syncId: input.syncId });
    status = 'Finished';
    log.info('upload sync finished', { syncId: input.syncId, files, failed });
  };
  let files = 0;
  let failed = 0;
  setHandler(filesUploadedSignal, (n) => {
    files += n.count;
    failed += n.failed;
  });
  setHandler(uploadStatusQuery, () => ({ status, files, failed }));
  setHandler(
    endUploadUpdate,
    async () => {
      if (!ending) {
        ending = true;
        finishHere = patched(END_HANDLER_SETS_STATE_ONLY);
        if (!finishHere) await finish();
      }
      await condition(() => status === 'Finished');
      return { success: true };
    },
    {
      validator: () => {
        if (status === 'Failed') throw new Error('the sync has failed: it was not ended within its TTL');
      },
    },
  );

  const ended = await condition(() => ending, input.ttlSeconds * 1000, { summary: `wait for end (TTL ${input.ttlSeconds} s)` });
  if (!ended) {
    status = 'Failed';
    log.warn('upload sync failed: not ended within its TTL', { syncId: input.syncId, ttlSeconds: input.ttlSeconds, files });
    await acts.failUploadSync({ syncId: input.syncId, message: `not ended within its TTL of ${input.ttlSeconds} s` });
  } else if (finishHere) {
    await finish();
  }
  await condition(allHandlersFinished);
}
