/**
 * The shapes the CLI reads from API responses. Only what it shows or acts on
 * is named here; `--json` prints responses whole, whatever else they carry.
 */
import { z } from 'zod';

export interface Page {
  nextPageToken: string;
  totalCount: number;
}

export interface Bucket {
  bucketId: string;
  name: string;
  createdAt: string | null;
}

export interface Source {
  sourceId: string;
  bucket: string;
  name: string;
  kind: string;
  s3?: { endpoint?: string; bucket: string; prefix?: string; credentialsSet?: boolean };
  filesystem?: { path: string };
  syncMode: string;
  syncIntervalSeconds: number;
  batchSize: number;
  targetPrefix: string;
  status: string;
  paused: boolean;
  pauseReason: string | null;
  workflowId: string;
  currentJobId: string | null;
  lastJobId: string | null;
  lastSyncAt: string | null;
  lastSuccessAt: string | null;
  nextSyncAt: string | null;
  lastError: string | null;
  consecutiveFailures: number;
  totalObjectsDiscovered: number;
  totalObjectsSynced: number;
  totalObjectsFailed: number;
  totalBytesSynced: number;
}

export interface SyncStatus {
  bucket: string;
  sourceId: string;
  status: string;
  lastSyncAt: string | null;
  lastSuccessAt: string | null;
  nextSyncAt: string | null;
  objectsDiscovered: string;
  objectsProcessed: string;
  objectsIndexed: string;
  objectsFailed: string;
  currentJobId?: string;
  lastJobId?: string;
  queuedJobId?: string;
  paused: boolean;
  pauseReason?: string;
  consecutiveFailures: number;
  lastError?: string;
  live: boolean;
}

export const TERMINAL_JOB_STATUSES = ['JOB_STATUS_SUCCEEDED', 'JOB_STATUS_PARTIAL', 'JOB_STATUS_FAILED', 'JOB_STATUS_CANCELED'] as const;

/** A job is what `sync` and `retry` poll and decide their exit code on, so its core is checked. */
export const JobSchema = z
  .object({
    jobId: z.string(),
    sourceId: z.string(),
    kind: z.string(),
    trigger: z.string(),
    status: z.string(),
    fullSync: z.boolean(),
    dryRun: z.boolean(),
    objectsListed: z.number(),
    objectsNew: z.number(),
    objectsChanged: z.number(),
    objectsDeferred: z.number(),
    objectsDiscovered: z.number(),
    objectsProcessed: z.number(),
    objectsIndexed: z.number(),
    objectsFailed: z.number(),
    objectsSkipped: z.number(),
    objectsDeleted: z.number(),
    objectsRemoved: z.number(),
    bytesTransferred: z.number(),
    error: z.string().nullable(),
    createdAt: z.string().nullable(),
    startedAt: z.string().nullable(),
    finishedAt: z.string().nullable(),
    failedObjects: z.array(z.object({ sourceObjectId: z.string(), key: z.string(), attempts: z.number(), error: z.string().nullable() })).optional(),
  })
  .loose();
export type Job = z.infer<typeof JobSchema>;

export const TriggerResultSchema = z.object({ jobId: z.string().nullable(), accepted: z.boolean(), message: z.string() }).loose();

export interface DeadLetter {
  sourceObjectId: string;
  key: string;
  size: number;
  attempts: number;
  lastError: string | null;
  lastJobId: string | null;
  failedAt: string;
}
