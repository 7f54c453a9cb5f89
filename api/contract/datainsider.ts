/**
 * DataInsider's answers (its file-upload API, ../shared/seeds): snake_case,
 * integer ids, epoch-millisecond times (0: not yet).
 */
import { z } from 'zod';

const SyncStatus = z.enum(['Syncing', 'Finished', 'Failed']);

/** Its envelope: `code` 0 and `msg` null on success; an error's `code` is its HTTP status and `msg` names the field. */
export const DataInsiderError = z.object({ code: z.number().int(), msg: z.string() }).meta({ id: 'DataInsiderError' });

export const DataInsiderStarted = z.object({ sync_id: z.number().int() });

/** `msg` says how many files failed (each is in the history with why); null when none did. */
export const DataInsiderUploaded = z.object({ code: z.literal(0), msg: z.string().nullable() });

export const DataInsiderEnded = z.object({ success: z.boolean() });

export const DataInsiderSyncList = z.array(
  z.object({
    org_id: z.number().int(),
    sync_id: z.number().int(),
    name: z.string(),
    path: z.string(),
    sync_type: z.enum(['FullSync', 'IncrementalSync']),
    sync_status: SyncStatus,
    start_time: z.number().int(),
    end_time: z.number().int(),
    total_files: z.number().int(),
    num_failed: z.number().int(),
  }),
);

export const DataInsiderHistory = z.array(
  z.object({
    org_id: z.number().int(),
    history_id: z.number().int(),
    sync_id: z.number().int(),
    file_name: z.string(),
    start_time: z.number().int(),
    end_time: z.number().int(),
    sync_status: SyncStatus,
    message: z.string(),
  }),
);
