import { z } from 'zod';
import { BATCH_SIZE, FileFiltersSchema, FilesystemConnectionSchema, ReconcileSchema, S3ConnectionSchema, SYNC_INTERVAL } from '../../domain/source-config.js';
import { lakeKeyProblem } from '../../activities/storage/keys.js';

const TargetPrefix = z
  .string()
  .max(512)
  .refine((p) => p === '' || lakeKeyProblem(p) === null, 'must be a relative key prefix without . or .. segments');

const common = {
  name: z.string().trim().min(1, 'must not be empty').max(200),
  syncMode: z.enum(['initial_only', 'continuous']).default('continuous'),
  syncIntervalSeconds: z.number().int().min(SYNC_INTERVAL.min).max(SYNC_INTERVAL.max).default(300),
  batchSize: z.number().int().min(BATCH_SIZE.min).max(BATCH_SIZE.max).default(50),
  targetPrefix: TargetPrefix.default(''),
  maxObjectsPerRun: z.number().int().min(1).max(10_000_000).default(100_000),
  skipDuplicates: z.boolean().default(false),
  fileFilters: FileFiltersSchema.default({}),
  reconcile: ReconcileSchema.default({}),
};

const S3Input = S3ConnectionSchema.extend({
  accessKeyId: z.string().min(1).max(256),
  secretAccessKey: z.string().min(1).max(512),
}).strict();

export const CreateSource = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('s3'), s3: S3Input, ...common }).strict(),
  z.object({ kind: z.literal('filesystem'), filesystem: FilesystemConnectionSchema, ...common }).strict(),
]);
export type CreateSourceInput = z.infer<typeof CreateSource>;

export const DiscoverBody = z
  .object({ bucket: z.string().optional(), sourceId: z.string().optional(), fullSync: z.boolean().default(false) })
  .strict();

export const IngestBody = z
  .object({
    bucket: z.string().optional(),
    sourceId: z.string().optional(),
    retryFailed: z.boolean().default(false),
    sourceObjectId: z.string().min(1).max(64).optional(),
    ruleId: z.string().min(1).max(64).optional(),
  })
  .strict();

export const PauseBody = z.object({ reason: z.string().max(1000).optional() }).strict();
