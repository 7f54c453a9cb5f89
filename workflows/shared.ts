/**
 * The one module both sides share: task queues, search attributes, and every
 * signal, query and update (their payload types are the contracts in
 * domain/messages/workflows/v1.ts). It imports nothing but the sandbox-safe
 * SDK packages, so the API, the worker and workflow code can all load it.
 */
import { defineSearchAttributeKey } from '@temporalio/common';
import { defineQuery, defineSignal, defineUpdate, proxySinks, type Sinks } from '@temporalio/workflow';
import type {
  ControllerStatus,
  DiscoverAccepted,
  DiscoverRequest,
  FilesUploaded,
  IngestAccepted,
  IngestRequest,
  PauseRequest,
  TriggerRequest,
  UploadEnded,
  UploadStatus,
} from '../domain/messages/workflows/v1.js';

export const searchAttributes = {
  bucket: defineSearchAttributeKey('LakesyncBucket', 'KEYWORD'),
  sourceId: defineSearchAttributeKey('LakesyncSourceId', 'KEYWORD'),
  sourceKind: defineSearchAttributeKey('LakesyncSourceKind', 'KEYWORD'),
} as const;

/** Dev-server `--search-attribute` spelling of each type. */
export const searchAttributeCliTypes: Record<string, string> = { KEYWORD: 'Keyword', TEXT: 'Text', INT: 'Int' };

export const controllerWorkflowId = (sourceId: string): string => `lakesync-source-${sourceId}`;
export const uploadSyncWorkflowId = (syncId: string): string => `lakesync-upload-${syncId}`;
export const syncRunWorkflowId = (jobId: string): string => `lakesync-job-${jobId}`;
export const purgeWorkflowId = (purgeId: string): string => `lakesync-purge-${purgeId}`;

/** Operators send these by name from the `temporal` CLI: keep the names stable. */
export const pauseSignal = defineSignal<[PauseRequest?]>('pause');
export const resumeSignal = defineSignal<[]>('resume');
export const triggerSignal = defineSignal<[TriggerRequest?]>('trigger');
export const configChangedSignal = defineSignal<[]>('configChanged');
export const stopSignal = defineSignal<[]>('stop');
/** Objects were pushed into the lake (direct PUTs, uploads): ingest them. */
export const objectsArrivedSignal = defineSignal<[]>('objectsArrived');
/** Change notifications for the source wait in `source_events`: apply them in a targeted run. */
export const objectsChangedSignal = defineSignal<[]>('objectsChanged');
export const statusQuery = defineQuery<ControllerStatus>('status');
export const discoverUpdate = defineUpdate<DiscoverAccepted, [DiscoverRequest]>('discover');
export const ingestUpdate = defineUpdate<IngestAccepted, [IngestRequest]>('ingest');

/** Sync runs check this between batches so a pause stops dispatch within seconds. */
export const runPausedQuery = defineQuery<boolean>('paused');
export const runPauseSignal = defineSignal<[boolean]>('setPaused');

/** DataInsider upload syncs: files are reported as they land; `end` answers when the sync is finished. */
export const filesUploadedSignal = defineSignal<[FilesUploaded]>('filesUploaded');
export const endUploadUpdate = defineUpdate<UploadEnded, []>('end');
export const uploadStatusQuery = defineQuery<UploadStatus>('uploadStatus');

/**
 * Workflows tell the worker an organisation has a sync under way (workers/
 * tenant-presence.ts): its controller as it starts a run, the run at each
 * step. A sink, not an activity: it leaves no trace in the history, and the
 * worker holds a large organisation back from the run's first step on, not
 * only while one of its activities runs.
 */
export interface TenantSinks extends Sinks {
  tenants: { present(org: string): void };
}

/** Marks `org` present on this worker; nothing for runs without a fairness key. */
export function tenantPresent(org: string | undefined): void {
  if (org) proxySinks<TenantSinks>().tenants.present(org);
}
