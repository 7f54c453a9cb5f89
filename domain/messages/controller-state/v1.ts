/**
 * Contracts of the controller-state activities (activities/controller-state.ts),
 * version 1: what crosses the worker boundary between the source controller
 * and them. Types only, so the workflow sandbox may load it.
 */
import type { SourceKind } from '../../kinds.js';
import type { SourceStatus } from '../../statuses.js';

/** A source's settings as the controller reads them every cycle. */
export interface SourceSettings {
  name: string;
  kind: SourceKind;
  bucketName: string;
  suspendAfterFailures: number;
  syncMode: 'initial_only' | 'continuous';
  syncIntervalSeconds: number;
  batchSize: number;
  batchConcurrency: number;
  lastSuccessAt: number | null;
  /** The source's organisation as a Temporal fairness key; absent in results recorded before it existed. */
  fairnessKey?: string;
}

/** The controller's state as mirrored into the database, which answers when Temporal can't. */
export interface ControllerSnapshot {
  status: SourceStatus;
  paused: boolean;
  pauseReason: string | null;
  /** Who asked for the pause; undefined when the controller does not know (a pause from before it was recorded). */
  pausedBy?: string | null;
  nextSyncAt: number | null;
  /** Workflow time (epoch ms) of the task that took this snapshot; absent, the pause columns are written unconditionally. */
  takenAt?: number;
  consecutiveFailures?: number;
  lastError?: string | null;
}

/** A scheduled poll's cheap path: the job id its row takes if it finds nothing owed. */
export interface PollInput {
  sourceId: string;
  jobId: string;
}

/**
 * What the poll found: the source is gone; something is owed (new, changed or
 * deleted objects, objects or processing left owed, or a listing that failed),
 * so the controller runs a job as for any poll; or nothing, and the poll is
 * recorded at `at` (epoch ms) as a finished job, with the settings it read.
 */
export type PollResult = { outcome: 'gone' } | { outcome: 'work'; reason: string } | { outcome: 'idle'; at: number; settings: SourceSettings };
