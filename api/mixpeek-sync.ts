/**
 * A source as Mixpeek's sync configuration, beside api/serialize.ts's
 * sourceJson and from the same row. Where lakesync has no such notion the
 * field holds Mixpeek's documented default, or null where it may be null.
 */
import type { SourceRow } from '../db/schema.js';
import { reconcileWithDefaults } from '../domain/source-config.js';
import { kindedConnection, sourcePathOf } from '../domain/source-kinds.js';
import { SOURCE_STATUS, type SourceStatus } from '../domain/statuses.js';
import type { MixpeekStatus, MixpeekSync } from './contract/mixpeek.js';
import type { RunningScan } from './running-scans.js';

/** Mixpeek's status for each of lakesync's: a paused source is SUSPENDED ("temporarily paused"), as is one suspended after failures. */
const STATUS: Record<SourceStatus, MixpeekStatus> = {
  [SOURCE_STATUS.active]: 'ACTIVE',
  [SOURCE_STATUS.paused]: 'SUSPENDED',
  [SOURCE_STATUS.suspended]: 'SUSPENDED',
  [SOURCE_STATUS.completed]: 'COMPLETED',
};

/** Mixpeek's defaults for what lakesync does not keep. */
const MAX_BATCH_CHUNK_SIZE = 1000;
const RESUME_CHECKPOINT_FREQUENCY = 1000;

const iso = (d: Date | null): string | null => (d ? d.toISOString() : null);

/**
 * `bucket` is the bucket's name (every lakesync route takes it, so Mixpeek's
 * `bucket_id` in a path is the name too); `org` is the caller's organisation,
 * which owns the bucket: both `internal_id` and `namespace_id`.
 */
export function mixpeekSyncJson(s: SourceRow, bucket: string, org: string, scan: RunningScan | null): MixpeekSync {
  const f = s.filters;
  const r = reconcileWithDefaults(s.reconcile);
  const cursor = scan?.cursor ?? null;
  return {
    bucket_id: bucket,
    // A lakesync source holds its own connection: there is no separate connection to name.
    connection_id: s.id,
    internal_id: org,
    namespace_id: org,
    source_path: sourcePathOf(kindedConnection(s.connection)),
    created_by_user_id: s.createdBy ?? '',
    // A run holds the source until it ends (the controller starts one at a time).
    locked: s.currentJobId !== null,
    sync_config_id: s.id,
    file_filters: {
      include_patterns: f.includePatterns ?? [],
      exclude_patterns: f.excludePatterns ?? [],
      min_size_bytes: f.minSizeBytes ?? null,
      max_size_bytes: f.maxSizeBytes ?? null,
      modified_after: f.modifiedAfter ?? null,
      modified_before: f.modifiedBefore ?? null,
      mime_types: f.mimeTypes ?? [],
      metadata_filters: (f.metadataFilters ?? []).map((m) => ({ field: m.field, operator: m.operator, value: m.value ?? null })),
    },
    schema_mapping: null,
    sync_mode: s.syncMode,
    polling_interval_seconds: s.syncIntervalSeconds,
    batch_size: s.batchSize,
    create_object_on_confirm: true,
    skip_duplicates: s.skipDuplicates,
    skip_batch_submission: false,
    reconcile: {
      on_delete: r.onDelete,
      on_update: r.onUpdate,
      on_filter_drift: r.onFilterDrift,
      // A changed object goes through the bucket's rules again, whole.
      re_extract_on_update: r.onUpdate,
      re_extract_fields: [],
    },
    status: STATUS[s.status],
    is_active: !s.paused && s.status !== SOURCE_STATUS.suspended,
    total_files_discovered: s.totalObjectsDiscovered,
    total_files_synced: s.totalObjectsSynced,
    total_files_failed: s.totalObjectsFailed,
    total_bytes_synced: s.totalBytesSynced,
    created_at: s.createdAt.toISOString(),
    updated_at: s.updatedAt.toISOString(),
    last_sync_at: iso(s.lastSuccessAt),
    per_shard_last_sync_at: {},
    next_sync_at: iso(s.nextSyncAt),
    last_error: s.lastError,
    consecutive_failures: s.consecutiveFailures,
    provider_filters: {},
    source_type: s.kind,
    metadata: {},
    locked_by_worker_id: null,
    locked_at: null,
    lock_expires_at: null,
    pending_full_sync: false,
    paused: s.paused,
    pause_reason: s.pauseReason,
    paused_at: iso(s.pausedAt),
    paused_by_user_id: s.pausedBy,
    max_objects_per_run: s.maxObjectsPerRun,
    max_batch_chunk_size: MAX_BATCH_CHUNK_SIZE,
    batch_chunk_size: s.batchSize,
    current_sync_run_id: s.currentJobId ?? s.lastJobId,
    sync_run_counter: s.runCounter,
    batch_ids: [],
    task_ids: [],
    batches_created: s.batchesCreated,
    // A scan always goes on from its last committed key.
    resume_enabled: true,
    resume_cursor: cursor,
    resume_last_primary_key: null,
    resume_objects_processed: scan?.listed ?? 0,
    resume_checkpoint_frequency: RESUME_CHECKPOINT_FREQUENCY,
    current_cursor: cursor,
    sync_checkpoints: {},
    schedule: { mode: s.syncMode, interval_seconds: s.syncIntervalSeconds, next_run_at: iso(s.nextSyncAt), last_success_at: iso(s.lastSuccessAt) },
    sync_progress: {},
  };
}
