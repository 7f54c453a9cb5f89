/**
 * Mixpeek's sync configuration (../shared/seeds, "Resume Sync Configuration"):
 * lakesync's source in Mixpeek's snake_case, every field of Mixpeek's example
 * present. api/mixpeek-sync.ts says what each holds on lakesync.
 */
import { z } from 'zod';
import { METADATA_OPERATORS } from '../../domain/metadata-filters.js';

/** Mixpeek's status enum; lakesync answers with ACTIVE, SUSPENDED and COMPLETED (api/mixpeek-sync.ts). */
export const MIXPEEK_STATUSES = [
  'PENDING',
  'QUEUED',
  'IN_PROGRESS',
  'PROCESSING',
  'COMPLETED',
  'COMPLETED_WITH_ERRORS',
  'FAILED',
  'CANCELED',
  'INTERRUPTED',
  'UNKNOWN',
  'SKIPPED',
  'DRAFT',
  'ACTIVE',
  'ARCHIVED',
  'SUSPENDED',
] as const;
export type MixpeekStatus = (typeof MIXPEEK_STATUSES)[number];

const Instant = z.string();
const Bag = z.record(z.string(), z.unknown());

export const MixpeekSync = z
  .object({
    bucket_id: z.string(),
    connection_id: z.string(),
    internal_id: z.string(),
    namespace_id: z.string(),
    source_path: z.string(),
    created_by_user_id: z.string(),
    locked: z.boolean(),
    sync_config_id: z.string(),
    file_filters: z
      .object({
        include_patterns: z.array(z.string()),
        exclude_patterns: z.array(z.string()),
        min_size_bytes: z.number().int().nullable(),
        max_size_bytes: z.number().int().nullable(),
        modified_after: Instant.nullable(),
        modified_before: Instant.nullable(),
        mime_types: z.array(z.string()),
        metadata_filters: z.array(
          z.object({ field: z.string(), operator: z.enum(METADATA_OPERATORS), value: z.union([z.string(), z.number(), z.boolean()]).nullable() }),
        ),
      })
      .nullable(),
    schema_mapping: Bag.nullable(),
    sync_mode: z.enum(['initial_only', 'continuous']),
    polling_interval_seconds: z.number().int(),
    batch_size: z.number().int(),
    create_object_on_confirm: z.boolean(),
    skip_duplicates: z.boolean(),
    skip_batch_submission: z.boolean(),
    reconcile: z.object({
      on_delete: z.boolean(),
      on_update: z.boolean(),
      on_filter_drift: z.boolean(),
      re_extract_on_update: z.boolean(),
      re_extract_fields: z.array(z.string()),
    }),
    status: z.enum(MIXPEEK_STATUSES),
    is_active: z.boolean(),
    total_files_discovered: z.number().int(),
    total_files_synced: z.number().int(),
    total_files_failed: z.number().int(),
    total_bytes_synced: z.number().int(),
    created_at: Instant,
    updated_at: Instant,
    last_sync_at: Instant.nullable(),
    per_shard_last_sync_at: Bag,
    next_sync_at: Instant.nullable(),
    last_error: z.string().nullable(),
    consecutive_failures: z.number().int(),
    provider_filters: Bag,
    source_type: z.string().nullable(),
    metadata: Bag,
    locked_by_worker_id: z.string().nullable(),
    locked_at: Instant.nullable(),
    lock_expires_at: Instant.nullable(),
    pending_full_sync: z.boolean(),
    paused: z.boolean(),
    pause_reason: z.string().nullable(),
    paused_at: Instant.nullable(),
    paused_by_user_id: z.string().nullable(),
    max_objects_per_run: z.number().int(),
    max_batch_chunk_size: z.number().int(),
    batch_chunk_size: z.number().int(),
    current_sync_run_id: z.string().nullable(),
    sync_run_counter: z.number().int(),
    batch_ids: z.array(z.string()),
    task_ids: z.array(z.string()),
    batches_created: z.number().int(),
    resume_enabled: z.boolean(),
    resume_cursor: z.string().nullable(),
    resume_last_primary_key: z.string().nullable(),
    resume_objects_processed: z.number().int(),
    resume_checkpoint_frequency: z.number().int(),
    current_cursor: z.string().nullable(),
    sync_checkpoints: Bag,
    schedule: z
      .object({
        mode: z.enum(['initial_only', 'continuous']),
        interval_seconds: z.number().int(),
        next_run_at: Instant.nullable(),
        last_success_at: Instant.nullable(),
      })
      .nullable(),
    sync_progress: Bag,
  })
  .meta({ id: 'MixpeekSync' });
export type MixpeekSync = z.infer<typeof MixpeekSync>;

export const MixpeekSyncList = z.object({ syncs: z.array(MixpeekSync), total_count: z.number().int() });

/** Mixpeek's error envelope: `error.details.fields` names each field refused. */
export const MixpeekError = z
  .object({
    success: z.literal(false),
    status: z.number().int(),
    error: z.object({
      message: z.string(),
      type: z.string(),
      details: z.object({ fields: z.array(z.object({ field: z.string(), problem: z.string() })) }),
    }),
  })
  .meta({ id: 'MixpeekError' });
