import { z } from 'zod';
import { FileFiltersSchema, FilesystemConnectionSchema, ReconcileSchema, S3ConnectionSchema } from '../../domain/source-config.js';
import { AzureConnectionSchema } from '../../domain/azure-config.js';
import { PostgresTableConnectionSchema } from '../../domain/postgres-table-config.js';
import { SftpConnectionSchema } from '../../domain/sftp-config.js';
import { SOURCE_KIND_NAMES } from '../../domain/kinds.js';
import { GcsConnectionSchema } from '../../domain/gcs-source.js';
import { SOURCE_OBJECT_STATUSES, SOURCE_STATUSES } from '../../domain/statuses.js';
import { Instant, Millis, PageFields } from './common.js';
import { NOTIFICATION_MODES } from '../../domain/notifications.js';

/** A source as the API shows it: settings and state, never credentials. */
export const Source = z
  .object({
    sourceId: z.string(),
    bucket: z.string(),
    name: z.string(),
    kind: z.enum(SOURCE_KIND_NAMES),
    s3: S3ConnectionSchema.extend({ credentialsSet: z.boolean() }).optional(),
    filesystem: FilesystemConnectionSchema.optional(),
    azure: AzureConnectionSchema.extend({ credentialsSet: z.boolean() }).optional(),
    gcs: GcsConnectionSchema.extend({ credentialsSet: z.boolean() }).optional(),
    postgres: PostgresTableConnectionSchema.extend({ credentialsSet: z.boolean() }).optional(),
    sftp: SftpConnectionSchema.extend({ credentialsSet: z.boolean() }).optional(),
    syncMode: z.enum(['initial_only', 'continuous']),
    syncIntervalSeconds: z.number().int(),
    batchSize: z.number().int(),
    targetPrefix: z.string(),
    maxObjectsPerRun: z.number().int(),
    /** Key-range shards a scan splits into; null: automatic (one per 10,000 keys the last scan listed, 1 to 8). */
    shards: z.number().int().nullable(),
    skipDuplicates: z.boolean(),
    fileFilters: FileFiltersSchema,
    reconcile: ReconcileSchema,
    /** Change notifications (README "Change notifications"): the token only in the answer that issued it. */
    notifications: z.object({
      mode: z.enum(NOTIFICATION_MODES),
      /** A webhook's route: where the S3 event notifications go, with `Authorization: Bearer <token>`; for `sqs`, the SQS API endpoint if one was given. */
      endpoint: z.string().optional(),
      /** `sqs`: the queue the bucket's event notifications go to, and the region requests to it are signed for if one was given. */
      queueUrl: z.string().optional(),
      region: z.string().optional(),
      /** `sqs`: whether the queue has credentials of its own (else the source's S3 credentials read it); never shown. */
      credentialsSet: z.boolean().optional(),
      tokenSet: z.boolean(),
      /** Shown once, when issued (enabling the webhook, or rotateToken); sealed at rest, never shown again. */
      token: z.string().optional(),
    }),
    status: z.enum(SOURCE_STATUSES),
    paused: z.boolean(),
    pauseReason: z.string().nullable(),
    /** When the source was paused or suspended (null while it runs). */
    pausedAt: Instant,
    /** The subject of the token that asked for the pause in force; null when suspended after failures or unknown. */
    pausedBy: z.string().nullable(),
    /** The subject of the token that created the source (null for tokens without one, and sources from before it was kept). */
    createdBy: z.string().nullable(),
    workflowId: z.string(),
    currentJobId: z.string().nullable(),
    lastJobId: z.string().nullable(),
    lastSyncAt: Instant,
    lastSuccessAt: Instant,
    nextSyncAt: Instant,
    lastError: z.string().nullable(),
    consecutiveFailures: z.number().int(),
    suspendAfterFailures: z.number().int(),
    totalObjectsDiscovered: z.number().int(),
    totalObjectsSynced: z.number().int(),
    totalObjectsFailed: z.number().int(),
    totalBytesSynced: z.number().int(),
    /** Sync executions: every job started (dry runs aside) and every idle scheduled poll. */
    runCounter: z.number().int(),
    /** Ingestion batches dispatched, across all runs. */
    batchesCreated: z.number().int(),
    /** The running scan's cursor (the last key it committed); null when no scan runs or it has not listed a page. */
    resumeCursor: z.string().nullable(),
    /** Objects the running scan has listed so far; 0 when no scan runs. */
    resumeObjectsProcessed: z.number().int(),
    createdAt: Instant,
    updatedAt: Instant,
  })
  .meta({ id: 'Source' });
export type Source = z.infer<typeof Source>;

export const SourceList = z.object({ sources: z.array(Source), ...PageFields });

/** DELETE with purge=true: the workflow that removes the source's lake objects, and how many it owes. */
export const SourcePurge = z.object({ sourceId: z.string(), purge: z.object({ workflowId: z.string(), objects: z.number().int() }) });

/** K3 GetSyncStatus: live from the controller, or from the database when it cannot answer (`live: false`). */
export const SyncStatus = z.object({
  bucket: z.string(),
  sourceId: z.string(),
  status: z.enum(SOURCE_STATUSES),
  lastSyncAt: Millis,
  lastSuccessAt: Millis,
  nextSyncAt: Millis,
  objectsDiscovered: z.string(),
  objectsProcessed: z.string(),
  objectsIndexed: z.string(),
  objectsFailed: z.string(),
  currentJobId: z.string().optional(),
  lastJobId: z.string().optional(),
  queuedJobId: z.string().optional(),
  paused: z.boolean(),
  pauseReason: z.string().optional(),
  consecutiveFailures: z.number().int(),
  lastError: z.string().optional(),
  live: z.boolean(),
});
export type SyncStatus = z.infer<typeof SyncStatus>;

/** What a trigger (discover, ingest) answers: the job it started or queued, if any. */
export const TriggerResult = z.object({ jobId: z.string().nullable(), accepted: z.boolean(), message: z.string() });
export type TriggerResult = z.infer<typeof TriggerResult>;
export const DiscoverResult = TriggerResult.extend({ jobId: z.string() });
export const IngestResult = TriggerResult.extend({ dispatched: z.number().int() });

/** An object that failed every attempt, with its last error. */
export const DeadLetter = z.object({
  sourceObjectId: z.string(),
  key: z.string(),
  etag: z.string(),
  size: z.number().int(),
  attempts: z.number().int(),
  lastError: z.string().nullable(),
  lastJobId: z.string().nullable(),
  failedAt: z.string(),
});
export type DeadLetter = z.infer<typeof DeadLetter>;
export const DeadLetterList = z.object({ deadLetters: z.array(DeadLetter), ...PageFields });

/** One object a source holds, as the catalog knows it: what `ingest` with `sourceObjectId` names. */
export const SourceObject = z.object({
  sourceObjectId: z.string(),
  key: z.string(),
  etag: z.string(),
  size: z.number().int(),
  status: z.enum(SOURCE_OBJECT_STATUSES),
  attempts: z.number().int(),
  lastError: z.string().nullable(),
  /** Where it is (or was last) stored in the bucket; null until it has been. */
  lakeKey: z.string().nullable(),
  lastJobId: z.string().nullable(),
  updatedAt: z.string(),
});
export type SourceObject = z.infer<typeof SourceObject>;
/** `totalCount` is -1 (K3: too costly to count) past 10,000 matching objects. */
export const SourceObjectList = z.object({ objects: z.array(SourceObject), ...PageFields });
