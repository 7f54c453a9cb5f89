/**
 * Contracts of the workflows, version 1: every workflow input and result and
 * every signal, update and query payload, as they cross the worker boundary.
 * The API, the workers and workflow code all import them from here; types
 * only, so the workflow sandbox may load it.
 *
 * Running workflows hold these shapes in their histories (and controllers
 * carry `ControllerState` across continue-as-new): add optional fields only.
 * A change old histories could not decode is a new version beside this one.
 */

import type { JobOutcome, SourceStatus } from '../../statuses.js';

// ---- source controller ----------------------------------------------------

export interface TriggerRequest {
  fullSync?: boolean;
  retryFailed?: boolean;
}
export interface PauseRequest {
  reason?: string;
  /** The subject of the token that asked (absent from pauses sent before it was added, or by the `temporal` CLI). */
  by?: string | null;
}
export interface DiscoverRequest {
  fullSync?: boolean;
  /** Report what would be added, changed and deleted, touching nothing. */
  dryRun?: boolean;
}
export interface DiscoverAccepted {
  jobId: string;
  accepted: boolean;
  message: string;
}
export interface IngestRequest {
  retryFailed?: boolean;
  sourceObjectId?: string;
  ruleId?: string;
}
export interface IngestAccepted {
  jobId: string | null;
  accepted: boolean;
  message: string;
  dispatched: number;
}

export type ControllerPhase = 'idle' | 'running' | 'paused' | 'suspended' | 'completed' | 'stopping';

export interface ControllerStatus {
  phase: ControllerPhase;
  paused: boolean;
  pauseReason: string | null;
  currentJobId: string | null;
  queuedJobId: string | null;
  nextSyncAt: number | null;
  lastSyncAt: number | null;
  consecutiveFailures: number;
  runs: number;
  /** The source's status as the API shows it; absent from controllers started before it was added. */
  status?: SourceStatus;
}

export type RunKind = 'discovery' | 'ingestion';
export type RunTrigger = 'schedule' | 'api' | 'direct_put' | 'event';

/** A run waiting to start; requests that arrive meanwhile merge into it. */
export interface QueuedRun {
  jobId: string;
  kind: RunKind;
  trigger: RunTrigger;
  fullSync: boolean;
  retryFailed: boolean;
  dryRun: boolean;
  sourceObjectId: string | null;
  /** Re-runs this rule's pipelines; runs for different rules never merge. */
  ruleId?: string | null;
  /** Applies the source's waiting change notifications first (a run merged with an event's). */
  events?: boolean;
  /** Its job row exists: only then may it start. */
  created: boolean;
}

export interface ControllerState {
  paused: boolean;
  pauseReason: string | null;
  /** Who asked for the pause in force; absent from states carried over from before it was added. */
  pausedBy?: string | null;
  suspended: boolean;
  completed: boolean;
  consecutiveFailures: number;
  runs: number;
  lastSyncAt: number | null;
  /** When the next scheduled poll is due (epoch ms). */
  nextSyncAt: number | null;
  queue: QueuedRun[];
}

export interface ControllerInput {
  sourceId: string;
  /** Carried across continue-as-new; absent on a controller's first start. */
  state?: ControllerState;
}

// ---- sync run (one job) ---------------------------------------------------

export interface SyncRunInput {
  jobId: string;
  sourceId: string;
  /** The source's bucket name, for log lines only (runs started before it existed log without it). */
  bucket?: string;
  kind: RunKind;
  fullSync: boolean;
  retryFailed: boolean;
  dryRun?: boolean;
  sourceObjectId?: string | null;
  /** Re-run one rule's pipelines over the stored objects it selects, copying nothing. */
  ruleId?: string | null;
  /** Apply the source's waiting change notifications (HEAD each key, diff it) before dispatching what is owed. */
  events?: boolean;
  batchSize: number;
  batchConcurrency: number;
  paused?: boolean;
  /**
   * The source's organisation as a Temporal fairness key: every activity the run
   * schedules carries it, so one organisation's backlog cannot starve another's.
   * Absent in runs started before it existed: their activities carry none.
   */
  fairnessKey?: string;
  /** Set when continuing as new: the scan is done and dispatch resumes after this key. */
  resume?: {
    afterKey: string | null;
    /** A sharded scan's dispatch: where each shard's batches stand (the shard's lower bound when null). */
    shards?: { shard: number; afterKey: string | null }[];
  };
}

export interface SyncRunResult {
  status: JobOutcome;
  consecutiveFailures: number;
}

// ---- DataInsider upload sync ----------------------------------------------

export interface UploadSyncInput {
  syncId: string;
  ttlSeconds: number;
}
export type UploadSyncPhase = 'Syncing' | 'Finished' | 'Failed';
export interface FilesUploaded {
  count: number;
  failed: number;
}
export interface UploadEnded {
  success: boolean;
}
export interface UploadStatus {
  status: UploadSyncPhase;
  files: number;
  failed: number;
}

// ---- lake purge -----------------------------------------------------------

export interface PurgeLakeInput {
  purgeId: string;
  /** Wait this long first, so copies of the run cancelled with the source have stopped landing. */
  settleSeconds?: number;
}
export interface PurgeLakeResult {
  removed: number;
}
