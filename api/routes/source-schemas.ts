import { z } from 'zod';
import { text } from '../../domain/text.js';
import { BATCH_SIZE, FileFiltersSchema, ReconcileSchema, SYNC_INTERVAL } from '../../domain/source-config.js';
import { ShardsSetting } from '../../domain/shards.js';
import { SOURCE_KINDS } from '../../domain/source-kinds.js';
import { lakePrefixProblem } from '../../lake/keys.js';
import { NotificationsInput } from '../../domain/notifications.js';

const TargetPrefix = text()
  .max(512)
  .superRefine((p, ctx) => {
    const problem = lakePrefixProblem(p);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  });

const common = {
  name: text().trim().min(1, 'must not be empty').max(200),
  syncMode: z.enum(['initial_only', 'continuous']).default('continuous'),
  syncIntervalSeconds: z.number().int().min(SYNC_INTERVAL.min).max(SYNC_INTERVAL.max).default(300),
  batchSize: z.number().int().min(BATCH_SIZE.min).max(BATCH_SIZE.max).default(50),
  targetPrefix: TargetPrefix.default(''),
  maxObjectsPerRun: z.number().int().min(1).max(10_000_000).default(100_000),
  /** Key-range shards a scan splits into (domain/shards.ts); absent: automatic. */
  shards: ShardsSetting.optional(),
  skipDuplicates: z.boolean().default(false),
  fileFilters: FileFiltersSchema.default({}),
  reconcile: ReconcileSchema.default({}),
  suspendAfterFailures: z.number().int().min(1).max(100).default(5),
  notifications: NotificationsInput.optional(),
};

export const CreateSource = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('s3'), s3: SOURCE_KINDS.s3.create.input, ...common }).strict(),
  z.object({ kind: z.literal('filesystem'), filesystem: SOURCE_KINDS.filesystem.create.input, ...common }).strict(),
  z.object({ kind: z.literal('azure'), azure: SOURCE_KINDS.azure.create.input, ...common }).strict(),
  z.object({ kind: z.literal('gcs'), gcs: SOURCE_KINDS.gcs.create.input, ...common }).strict(),
  z.object({ kind: z.literal('postgres'), postgres: SOURCE_KINDS.postgres.create.input, ...common }).strict(),
  z.object({ kind: z.literal('sftp'), sftp: SOURCE_KINDS.sftp.create.input, ...common }).strict(),
]);

export const DiscoverBody = z
  .object({ bucket: text().optional(), sourceId: text().optional(), fullSync: z.boolean().default(false), dryRun: z.boolean().default(false) })
  .strict();

export const IngestBody = z
  .object({
    bucket: text().optional(),
    sourceId: text().optional(),
    retryFailed: z.boolean().default(false),
    sourceObjectId: text().min(1).max(64).optional(),
    ruleId: text().min(1).max(64).optional(),
  })
  .strict();

export const PauseBody = z.object({ reason: text('multiline').max(1000).optional() }).strict();

/**
 * PATCH body, K3 optional-update semantics: an absent field is left alone; a
 * present scalar (even "" or 0) is set; a present list replaces the old one,
 * and an empty list clears it. `null` clears an optional filter bound.
 */
export const UpdateSource = z
  .object({
    name: common.name.optional(),
    syncMode: z.enum(['initial_only', 'continuous']).optional(),
    syncIntervalSeconds: z.number().int().min(SYNC_INTERVAL.min).max(SYNC_INTERVAL.max).optional(),
    batchSize: z.number().int().min(BATCH_SIZE.min).max(BATCH_SIZE.max).optional(),
    targetPrefix: TargetPrefix.optional(),
    maxObjectsPerRun: z.number().int().min(1).max(10_000_000).optional(),
    // null: back to the automatic count.
    shards: ShardsSetting.nullable().optional(),
    skipDuplicates: z.boolean().optional(),
    suspendAfterFailures: z.number().int().min(1).max(100).optional(),
    fileFilters: z
      .object({
        includePatterns: FileFiltersSchema.shape.includePatterns,
        excludePatterns: FileFiltersSchema.shape.excludePatterns,
        mimeTypes: FileFiltersSchema.shape.mimeTypes,
        metadataFilters: FileFiltersSchema.shape.metadataFilters,
        minSizeBytes: z.number().int().min(0).nullable().optional(),
        maxSizeBytes: z.number().int().min(0).nullable().optional(),
        modifiedAfter: text().datetime({ offset: true }).nullable().optional(),
        modifiedBefore: text().datetime({ offset: true }).nullable().optional(),
      })
      .strict()
      .optional(),
    reconcile: ReconcileSchema.optional(),
    notifications: NotificationsInput.optional(),
    s3: SOURCE_KINDS.s3.patch.input.optional(),
    filesystem: SOURCE_KINDS.filesystem.patch.input.optional(),
    azure: SOURCE_KINDS.azure.patch.input.optional(),
    gcs: SOURCE_KINDS.gcs.patch.input.optional(),
    postgres: SOURCE_KINDS.postgres.patch.input.optional(),
    sftp: SOURCE_KINDS.sftp.patch.input.optional(),
    kind: z.never({ message: 'cannot be changed' }).optional(),
  })
  .strict();
export type UpdateSourceInput = z.infer<typeof UpdateSource>;
