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
}

/** The controller's state as mirrored into the database, which answers when Temporal can't. */
export interface ControllerSnapshot {
  status: SourceStatus;
  paused: boolean;
  pauseReason: string | null;
  nextSyncAt: number | null;
  consecutiveFailures?: number;
  lastError?: string | null;
}
