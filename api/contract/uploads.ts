import { z } from 'zod';

const SyncState = z.enum(['Syncing', 'Finished', 'Failed']);

export const UploadStarted = z.object({ syncId: z.string() });

/** DataInsider's answer to an upload call: one entry per file, `Failed` ones with why. */
export const UploadFilesResult = z.object({
  code: z.literal(0),
  msg: z.null(),
  files: z.array(z.object({ fileName: z.string(), key: z.string(), syncStatus: z.string(), message: z.string() })),
});

export const UploadEnded = z.object({ success: z.boolean() });
export const UploadRestored = z.object({ success: z.boolean(), restored: z.number().int() });

/** Times are epoch milliseconds, 0 when not yet. */
export const UploadSyncList = z.array(
  z.object({
    syncId: z.string(),
    /** DataInsider's integer `sync_id` of the same sync (per organisation); null only for a sync started before it existed. */
    syncNumber: z.number().int().nullable(),
    name: z.string(),
    path: z.string(),
    syncType: z.enum(['FULL', 'INCREMENTAL']),
    syncStatus: SyncState,
    startTime: z.number().int(),
    endTime: z.number().int(),
    totalFiles: z.number().int(),
    numFailed: z.number().int(),
    trashed: z.number().int(),
    ttlSeconds: z.number().int(),
    message: z.string(),
  }),
);

export const UploadHistory = z.array(
  z.object({
    historyId: z.string(),
    syncId: z.string(),
    fileName: z.string(),
    key: z.string(),
    size: z.number().int().nullable(),
    startTime: z.number().int(),
    endTime: z.number().int(),
    syncStatus: SyncState,
    message: z.string(),
  }),
);
