import { sql } from 'drizzle-orm';
import { bigint, bigserial, boolean, check, customType, index, integer, jsonb, pgTable, primaryKey, text, timestamp, uniqueIndex } from 'drizzle-orm/pg-core';
import type { FileFilters, ReconcileSettings } from '../domain/source-config.js';
import type { NotificationSettings } from '../domain/notifications.js';
import type { SourceConnection } from '../domain/source-kinds.js';
import type { PipelineConfig } from '../domain/pipeline-kinds.js';
import type { PipelineKind, SourceKind } from '../domain/kinds.js';
import type { RuleMatch } from '../domain/pipelines.js';
import { JOB_STATUS, OBJECT_STATUS, SOURCE_STATUS, type JobStatus, type ObjectStatus, type RunStatus, type SourceStatus } from '../domain/statuses.js';
import type { ObjectMetadata } from '../lake/types.js';
import type { RunTrigger } from '../domain/messages/workflows/v1.js';

/** Keys compare bytewise (UTF-8 code point order), as S3 lists them and as the scan cursor assumes. */
const byteOrderedText = customType<{ data: string }>({ dataType: () => 'text collate "C"' });
const tsvector = customType<{ data: string }>({ dataType: () => 'tsvector' });
const bytea = customType<{ data: Buffer }>({ dataType: () => 'bytea' });

// Millisecond precision, so a timestamp round-trips through JS and keyset cursors exactly.
const createdAt = () => timestamp({ withTimezone: true, precision: 3 }).notNull().defaultNow();
const counter = () => bigint({ mode: 'number' }).notNull().default(0);

export const buckets = pgTable('buckets', {
  id: text().primaryKey(),
  orgId: text().notNull().default('default'),
  name: text().notNull().unique(),
  createdAt: createdAt(),
});

export const sources = pgTable(
  'sources',
  {
    id: text().primaryKey(),
    bucketId: text()
      .notNull()
      .references(() => buckets.id, { onDelete: 'cascade' }),
    name: text().notNull(),
    kind: text().$type<SourceKind>().notNull(),
    /** Connection settings without secrets. */
    connection: jsonb().$type<SourceConnection>().notNull(),
    /** AES-256-GCM sealed credentials; read only inside activities. */
    sealedCredentials: text(),
    syncMode: text().$type<'initial_only' | 'continuous'>().notNull().default('continuous'),
    syncIntervalSeconds: integer().notNull().default(300),
    batchSize: integer().notNull().default(50),
    targetPrefix: text().notNull().default(''),
    maxObjectsPerRun: integer().notNull().default(100000),
    /** Key-range shards a scan splits into; null: automatic (domain/shards.ts autoShardCount). */
    shards: integer(),
    skipDuplicates: boolean().notNull().default(false),
    filters: jsonb().$type<FileFilters>().notNull().default({}),
    reconcile: jsonb().$type<ReconcileSettings>().notNull().default({}),
    /** How the source tells lakesync of changes (domain/notifications.ts); `off`: the schedule alone. */
    notifications: jsonb().$type<NotificationSettings>().notNull().default({ mode: 'off' }),
    /** The notifications' sealed secret (domain/secrets.ts): the token a webhook's events must bear, or an SQS queue's own credentials; null otherwise. */
    sealedNotificationToken: text(),
    status: text().$type<SourceStatus>().notNull().default(SOURCE_STATUS.active),
    paused: boolean().notNull().default(false),
    pauseReason: text(),
    pausedAt: timestamp({ withTimezone: true }),
    /** The token subject that paused it (null when suspended after failures, or the token had no subject). */
    pausedBy: text(),
    /**
     * When the API last wrote a pause or resume into the row: the controller's
     * mirror of a state it took before then (a snapshot from before the
     * signal arrived, landing after the write) leaves the pause columns alone
     * (activities/controller-state.ts).
     */
    pauseChangedAt: timestamp({ withTimezone: true }),
    /** The token subject that created it. */
    createdBy: text(),
    lastSyncAt: timestamp({ withTimezone: true }),
    lastSuccessAt: timestamp({ withTimezone: true }),
    nextSyncAt: timestamp({ withTimezone: true }),
    lastError: text(),
    consecutiveFailures: integer().notNull().default(0),
    /** Failed runs in a row after which the controller suspends the source. */
    suspendAfterFailures: integer().notNull().default(5),
    workflowId: text().notNull(),
    currentJobId: text(),
    lastJobId: text(),
    /** The last scan pass handed out: each scan takes the next number for its missing marks. */
    scanPass: integer().notNull().default(0),
    totalObjectsDiscovered: counter(),
    totalObjectsSynced: counter(),
    totalObjectsFailed: counter(),
    totalBytesSynced: counter(),
    /** Sync executions: jobs started (dry runs aside) and idle polls recorded, each counted once by its job row. */
    runCounter: counter(),
    /** Ingestion batches dispatched, each counted once by its job_batches row. */
    batchesCreated: counter(),
    createdAt: createdAt(),
    updatedAt: createdAt(),
  },
  (t) => [uniqueIndex('sources_bucket_name_idx').on(t.bucketId, t.name)],
);

export type SourceRow = typeof sources.$inferSelect;

/** One row per object seen at a source: this table is the etag checkpoint. */
export const sourceObjects = pgTable(
  'source_objects',
  {
    id: text().primaryKey(),
    sourceId: text()
      .notNull()
      .references(() => sources.id, { onDelete: 'cascade' }),
    key: byteOrderedText().notNull(),
    etag: text().notNull(),
    size: bigint({ mode: 'number' }).notNull(),
    lastModified: timestamp({ withTimezone: true }),
    contentHash: text(),
    /** pending: owed a copy; ingested; dead: dead-lettered; deleted: gone at the source; filtered: outside the filters. */
    status: text().$type<ObjectStatus>().notNull().default(OBJECT_STATUS.pending),
    attempts: integer().notNull().default(0),
    lastError: text(),
    /** The pass that last wrote this row (new, changed or filtered objects; unchanged ones are not rewritten). */
    seenPass: integer().notNull().default(0),
    /** The scan pass that found this object missing from the source; swept once that pass completes. */
    missingPass: integer(),
    /** The job that must ingest this object next; null once nothing is owed. */
    pendingJobId: text(),
    /** The job that must run this stored object through its pipelines next; null once processed. */
    processJobId: text(),
    lastJobId: text(),
    lakeKey: text(),
    /** The headers stored with the lake object, where the lake cannot keep them itself (a directory lake); null: none given. */
    metadata: jsonb().$type<ObjectMetadata>(),
    ingestedEtag: text(),
    ingestedAt: timestamp({ withTimezone: true }),
    createdAt: createdAt(),
    updatedAt: createdAt(),
  },
  (t) => [
    uniqueIndex('source_objects_source_key_idx').on(t.sourceId, t.key),
    index('source_objects_pending_idx')
      .on(t.pendingJobId, t.key)
      .where(sql`${t.pendingJobId} is not null`),
    // With the key: a source's objects of one status list in key order, a page at a time (GET …/objects, dead letters).
    index('source_objects_status_key_idx').on(t.sourceId, t.status, t.key),
    index('source_objects_process_idx')
      .on(t.processJobId, t.key)
      .where(sql`${t.processJobId} is not null`),
    index('source_objects_lake_key_idx').on(t.lakeKey),
    // The sweep's marks, in key order per pass: a sweep reads these few rows, not every object of the source.
    index('source_objects_missing_idx')
      .on(t.sourceId, t.missingPass, t.key)
      .where(sql.raw(`missing_pass is not null and status <> '${OBJECT_STATUS.deleted}'`)),
  ],
);

export const jobs = pgTable(
  'jobs',
  {
    id: text().primaryKey(),
    bucketId: text()
      .notNull()
      .references(() => buckets.id, { onDelete: 'cascade' }),
    sourceId: text()
      .notNull()
      .references(() => sources.id, { onDelete: 'cascade' }),
    kind: text().$type<'discovery' | 'ingestion'>().notNull(),
    trigger: text().$type<RunTrigger>().notNull(),
    status: text().$type<JobStatus>().notNull().default(JOB_STATUS.pending),
    fullSync: boolean().notNull().default(false),
    retryFailed: boolean().notNull().default(false),
    /** Report what a discovery would change, touching nothing. */
    dryRun: boolean().notNull().default(false),
    sourceObjectId: text(),
    ruleId: text(),
    objectsListed: counter(),
    /** The scan's durable checkpoint, written with every page: its pass and the last key listed. */
    scanPass: integer(),
    scanCursor: text(),
    /** When the scan listed its last page and swept: from then on its cursor is no running scan's. */
    scanFinishedAt: timestamp({ withTimezone: true }),
    /** The shard that sweeps a sharded scan: the first to find every shard finished listing claims it (catalog/shards.ts claimSweep). */
    sweepShard: integer(),
    /** Listing pages fetched, retries included: shows whether a resumed scan re-listed. */
    pagesListed: counter(),
    objectsNew: counter(),
    objectsChanged: counter(),
    /** Owed to this run but left for the next one by maxObjectsPerRun. */
    objectsDeferred: counter(),
    objectsDiscovered: counter(),
    objectsProcessed: counter(),
    objectsIndexed: counter(),
    objectsFailed: counter(),
    objectsSkipped: counter(),
    objectsDeleted: counter(),
    /** Lake objects removed by reconcile (deleted at the source, or drifted out of the filters). */
    objectsRemoved: counter(),
    bytesTransferred: counter(),
    error: text(),
    workflowId: text(),
    runId: text(),
    createdAt: createdAt(),
    startedAt: timestamp({ withTimezone: true }),
    finishedAt: timestamp({ withTimezone: true }),
  },
  (t) => [
    index('jobs_source_created_idx').on(t.sourceId, t.createdAt),
    index('jobs_bucket_created_idx').on(t.bucketId, t.createdAt),
    // The heal pass looks for running jobs whose workflow has closed: few rows, found without scanning every job.
    index('jobs_running_idx')
      .on(t.status)
      .where(sql.raw(`status = '${JOB_STATUS.running}'`)),
  ],
);

/**
 * The ingestion batches a running job has dispatched, by the last key of each
 * (a job's batch ranges never overlap): a retried batch finds its row and
 * counts nothing twice. A job's rows are dropped when it ends.
 */
export const jobBatches = pgTable(
  'job_batches',
  {
    jobId: text()
      .notNull()
      .references(() => jobs.id, { onDelete: 'cascade' }),
    lastKey: byteOrderedText().notNull(),
  },
  (t) => [primaryKey({ columns: [t.jobId, t.lastKey] })],
);

/**
 * A sharded scan's key ranges, one row per shard of a job: each lists the keys
 * in (after_key, up_to] (null: unbounded) with its own checkpoint, `cursor`
 * (the last key it committed), so a shard lost with its worker resumes there.
 * All shards of a job mark missing objects with the job's one scan pass.
 */
export const scanShards = pgTable(
  'scan_shards',
  {
    jobId: text()
      .notNull()
      .references(() => jobs.id, { onDelete: 'cascade' }),
    shard: integer().notNull(),
    afterKey: byteOrderedText(),
    upTo: byteOrderedText(),
    cursor: byteOrderedText(),
    listed: counter(),
    pages: counter(),
    finishedAt: timestamp({ withTimezone: true }),
  },
  (t) => [primaryKey({ columns: [t.jobId, t.shard] })],
);

/** DataInsider upload syncs: start, upload files into, end (FULL replaces what it did not upload). */
export const uploadSyncs = pgTable(
  'upload_syncs',
  {
    id: text().primaryKey(),
    bucketId: text()
      .notNull()
      .references(() => buckets.id, { onDelete: 'cascade' }),
    name: text().notNull(),
    /** Lake key prefix the files land under, ending in '/' (or '' for the bucket root). */
    path: text().notNull(),
    syncType: text().$type<'FULL' | 'INCREMENTAL'>().notNull(),
    syncStatus: text().$type<'Syncing' | 'Finished' | 'Failed'>().notNull().default('Syncing'),
    ttlSeconds: integer().notNull(),
    totalFiles: integer().notNull().default(0),
    numFailed: integer().notNull().default(0),
    trashed: integer().notNull().default(0),
    message: text(),
    workflowId: text().notNull(),
    startTime: createdAt(),
    endTime: timestamp({ withTimezone: true, precision: 3 }),
    /** The bucket's organisation, so DataInsider's integer `sync_id` is looked up per organisation. */
    orgId: text(),
    /** DataInsider's `sync_id`: 1, 2, 3 … per organisation (upload_sync_orgs hands them out); `id` stays the workflow's id. */
    syncNumber: integer(),
  },
  (t) => [index('upload_syncs_bucket_idx').on(t.bucketId, t.startTime), uniqueIndex('upload_syncs_org_number_idx').on(t.orgId, t.syncNumber)],
);

/** Per organisation: its DataInsider `org_id` (an integer, as DataInsider shows it) and the last `sync_id` handed out. */
export const uploadSyncOrgs = pgTable('upload_sync_orgs', {
  orgId: text().primaryKey(),
  number: integer().generatedAlwaysAsIdentity().notNull().unique(),
  lastSyncNumber: integer().notNull().default(0),
});

export const uploadFiles = pgTable(
  'upload_files',
  {
    id: text().primaryKey(),
    syncId: text()
      .notNull()
      .references(() => uploadSyncs.id, { onDelete: 'cascade' }),
    bucketId: text().notNull(),
    fileName: text().notNull(),
    key: byteOrderedText().notNull(),
    size: bigint({ mode: 'number' }),
    syncStatus: text().$type<'Syncing' | 'Finished' | 'Failed'>().notNull().default('Syncing'),
    message: text().notNull().default(''),
    startTime: createdAt(),
    endTime: timestamp({ withTimezone: true, precision: 3 }),
    /** DataInsider's integer `history_id` (one sequence for all organisations); `id` stays lakesync's. */
    historyNumber: bigint({ mode: 'number' }).generatedAlwaysAsIdentity().notNull(),
  },
  (t) => [index('upload_files_sync_idx').on(t.syncId, t.startTime), index('upload_files_bucket_idx').on(t.bucketId, t.startTime)],
);

/** A bucket's processing pipeline: what happens to objects once they are stored. */
export const pipelines = pgTable(
  'pipelines',
  {
    id: text().primaryKey(),
    bucketId: text()
      .notNull()
      .references(() => buckets.id, { onDelete: 'cascade' }),
    name: text().notNull(),
    kind: text().$type<PipelineKind>().notNull(),
    /** Kind-specific settings without secrets. */
    config: jsonb().$type<PipelineConfig>().notNull(),
    /** AES-256-GCM sealed webhook signing secret or embedding API key; opened only inside activities and to embed a search query. */
    sealedSecret: text(),
    enabled: boolean().notNull().default(true),
    createdAt: createdAt(),
    updatedAt: createdAt(),
  },
  (t) => [uniqueIndex('pipelines_bucket_name_idx').on(t.bucketId, t.name)],
);

export type PipelineRow = typeof pipelines.$inferSelect;

/** Routes a bucket's objects (by source, key globs, MIME types) to pipelines. */
export const rules = pgTable(
  'rules',
  {
    id: text().primaryKey(),
    bucketId: text()
      .notNull()
      .references(() => buckets.id, { onDelete: 'cascade' }),
    name: text().notNull(),
    pipelineIds: jsonb().$type<string[]>().notNull(),
    match: jsonb().$type<RuleMatch>().notNull().default({}),
    enabled: boolean().notNull().default(true),
    createdAt: createdAt(),
    updatedAt: createdAt(),
  },
  (t) => [uniqueIndex('rules_bucket_name_idx').on(t.bucketId, t.name)],
);

/** One stored object's state in one pipeline. */
export const objectPipelineRuns = pgTable(
  'object_pipeline_runs',
  {
    objectId: text()
      .notNull()
      .references(() => sourceObjects.id, { onDelete: 'cascade' }),
    pipelineId: text()
      .notNull()
      .references(() => pipelines.id, { onDelete: 'cascade' }),
    status: text().$type<RunStatus>().notNull(),
    /** The source etag this state is for: a changed object is processed again. */
    etag: text().notNull(),
    attempts: integer().notNull().default(0),
    detail: text(),
    error: text(),
    jobId: text(),
    updatedAt: createdAt(),
  },
  (t) => [primaryKey({ columns: [t.objectId, t.pipelineId] }), index('object_pipeline_runs_job_idx').on(t.jobId, t.status)],
);

/** Text a fulltext pipeline extracted from one object, searchable with Postgres full-text search. */
export const fulltextDocuments = pgTable(
  'fulltext_documents',
  {
    objectId: text()
      .notNull()
      .references(() => sourceObjects.id, { onDelete: 'cascade' }),
    pipelineId: text()
      .notNull()
      .references(() => pipelines.id, { onDelete: 'cascade' }),
    bucketId: text().notNull(),
    lakeKey: byteOrderedText().notNull(),
    etag: text().notNull(),
    body: text().notNull(),
    tsv: tsvector().notNull(),
    updatedAt: createdAt(),
  },
  (t) => [
    primaryKey({ columns: [t.objectId, t.pipelineId] }),
    index('fulltext_documents_tsv_idx').using('gin', t.tsv),
    index('fulltext_documents_bucket_key_idx').on(t.bucketId, t.lakeKey),
  ],
);

/**
 * The chunks an embedding pipeline cut from one object's text and their
 * vectors: unit-length float32s, little-endian (the exact-scan index scores
 * them by dot product). `signature` is the pipeline settings they were made
 * under (domain/embeddings/config.ts); an object's chunks are replaced whole.
 */
export const embeddingChunks = pgTable(
  'embedding_chunks',
  {
    objectId: text()
      .notNull()
      .references(() => sourceObjects.id, { onDelete: 'cascade' }),
    pipelineId: text()
      .notNull()
      .references(() => pipelines.id, { onDelete: 'cascade' }),
    seq: integer().notNull(),
    bucketId: text().notNull(),
    lakeKey: byteOrderedText().notNull(),
    etag: text().notNull(),
    signature: text().notNull(),
    startOffset: integer().notNull(),
    endOffset: integer().notNull(),
    body: text().notNull(),
    embedding: bytea().notNull(),
    updatedAt: createdAt(),
  },
  (t) => [primaryKey({ columns: [t.objectId, t.pipelineId, t.seq] }), index('embedding_chunks_bucket_key_idx').on(t.bucketId, t.lakeKey)],
);

/** Lake objects owed removal after their source was deleted with `purge=true`; a purge workflow works the list off. */
export const lakePurges = pgTable(
  'lake_purges',
  {
    purgeId: text().notNull(),
    bucketName: text().notNull(),
    lakeKey: byteOrderedText().notNull(),
    createdAt: createdAt(),
  },
  (t) => [primaryKey({ columns: [t.purgeId, t.lakeKey] })],
);

/**
 * Service-account keys: an access key id and secret an S3 client signs
 * requests with (SigV4), for one organisation. The secret is sealed like
 * source credentials (the verifier needs it back to recompute signatures).
 * Revoking keeps the row, without its secret, so the id is never issued again.
 */
export const serviceAccountKeys = pgTable(
  'service_account_keys',
  {
    /** The access key id, `LKSA` and 16 uppercase letters or digits. */
    id: text().primaryKey(),
    orgId: text().notNull(),
    /** AES-256-GCM sealed `{ id, secret }`; null once revoked. */
    sealedSecret: text(),
    scopes: text().array().$type<('read' | 'write' | 'admin')[]>().notNull(),
    /** Bucket names the key is limited to; null for every bucket of its organisation. */
    buckets: text().array(),
    description: text(),
    createdAt: createdAt(),
    revokedAt: timestamp({ withTimezone: true, precision: 3 }),
  },
  (t) => [index('service_account_keys_org_idx').on(t.orgId, t.id)],
);

export type ServiceAccountKeyRow = typeof serviceAccountKeys.$inferSelect;

/**
 * S3 multipart uploads: in progress (`open`), being joined (`completing`),
 * or `completed` and kept until the clean-up so a retried Complete gets the
 * same answer. Parts live in the lake as they arrive; `lakeHandle` is the
 * lake's own name for the upload.
 */
export const multipartUploads = pgTable(
  'multipart_uploads',
  {
    /** Random and URL-safe: knowing an upload id is what lets a caller add parts to it. */
    id: text().primaryKey(),
    bucketId: text()
      .notNull()
      .references(() => buckets.id, { onDelete: 'cascade' }),
    key: byteOrderedText().notNull(),
    orgId: text().notNull(),
    /** The service-account key that started it; null for a bearer caller. */
    accessKeyId: text(),
    /** What Create was given: the object's metadata once complete. */
    metadata: jsonb().$type<ObjectMetadata>().notNull(),
    lakeHandle: text().notNull(),
    state: text().$type<'open' | 'completing' | 'completed'>().notNull().default('open'),
    /** The S3 ETag the complete answered (`md5-of-md5s-N`). */
    completedEtag: text(),
    /**
     * When the running Complete claimed (or last renewed its claim on) a `completing` upload: a claim older
     * than the lease (api/s3/multipart-state.ts) is a Complete that died, and the upload may be claimed again.
     */
    claimedAt: timestamp({ withTimezone: true, precision: 3 }),
    createdAt: createdAt(),
    /** Creation order, without the ties two uploads started in one millisecond would have: ListMultipartUploads lists a key's oldest first. */
    seq: bigserial({ mode: 'number' }).notNull(),
  },
  (t) => [index('multipart_uploads_bucket_key_idx').on(t.bucketId, t.key, t.seq), index('multipart_uploads_created_idx').on(t.createdAt)],
);

export type MultipartUploadRow = typeof multipartUploads.$inferSelect;

/** The parts stored for an upload; a part uploaded again under its number replaces the row. */
export const multipartParts = pgTable(
  'multipart_parts',
  {
    uploadId: text()
      .notNull()
      .references(() => multipartUploads.id, { onDelete: 'cascade' }),
    partNumber: integer().notNull(),
    /** The part's MD5 (hex), its S3 ETag. */
    etag: text().notNull(),
    size: bigint({ mode: 'number' }).notNull(),
    /** The lake's handle for the stored part (`StoredPart.lakePart`). */
    lakePart: text().notNull(),
    uploadedAt: createdAt(),
  },
  (t) => [primaryKey({ columns: [t.uploadId, t.partNumber] }), check('multipart_parts_number_check', sql`${t.partNumber} between 1 and 10000`)],
);

/**
 * Change notifications not yet applied (S3 events, a watcher's changes): one
 * row per source and key, whatever the event said, since the run that takes it
 * HEADs the key and diffs it against the checkpoint. `rev` grows with every
 * event that lands on a waiting row, so a run removes only the rows it read.
 */
export const sourceEvents = pgTable(
  'source_events',
  {
    sourceId: text()
      .notNull()
      .references(() => sources.id, { onDelete: 'cascade' }),
    /** Relative to the source's prefix or root, as its listing names it. */
    key: byteOrderedText().notNull(),
    /** The newest S3 sequencer seen for the key (hex, compared by length then value); null for a watcher's. */
    sequencer: text(),
    rev: integer().notNull().default(0),
    receivedAt: createdAt(),
  },
  (t) => [primaryKey({ columns: [t.sourceId, t.key] })],
);

/** Which worker follows a source's notifications (watches its directory, polls its SQS queue): one lease per source, renewed while it follows. */
export const sourceWatchLeases = pgTable('source_watch_leases', {
  sourceId: text()
    .primaryKey()
    .references(() => sources.id, { onDelete: 'cascade' }),
  owner: text().notNull(),
  expiresAt: timestamp({ withTimezone: true }).notNull(),
});

/**
 * An embedding pipeline's next free turn at its server under its
 * `requestsPerMinute`: every worker and API process takes turns from this one
 * row (catalog/rate-turns.ts), so the limit holds for the whole deployment.
 */
export const pipelineRateTurns = pgTable('pipeline_rate_turns', {
  pipelineId: text()
    .primaryKey()
    .references(() => pipelines.id, { onDelete: 'cascade' }),
  nextAt: timestamp({ withTimezone: true }).notNull(),
});
