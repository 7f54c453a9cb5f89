import { eventsPath } from '../domain/notifications.js';
import { assertNever } from '../domain/kinds.js';
import type { buckets, jobs, PipelineRow, rules, ServiceAccountKeyRow, SourceRow } from '../db/schema.js';
import { configJson, kindedConfig } from '../domain/pipeline-kinds.js';
import { connectionJson, kindedConnection } from '../domain/source-kinds.js';
import type { Bucket } from './contract/buckets.js';
import type { Job } from './contract/jobs.js';
import type { ServiceAccountKey } from './contract/keys.js';
import type { Pipeline, Rule } from './contract/pipelines.js';
import type { Source } from './contract/sources.js';
import type { RunningScan } from './running-scans.js';

type JobRow = typeof jobs.$inferSelect;
type BucketRow = typeof buckets.$inferSelect;
type RuleRow = typeof rules.$inferSelect;

const iso = (d: Date | null): string | null => (d ? d.toISOString() : null);
/** K3 renders int64 timestamps and counters as strings of epoch milliseconds / digits. */
export const millis = (d: Date | number | null): string | null => (d === null ? null : String(typeof d === 'number' ? d : d.getTime()));

export const bucketJson = (b: BucketRow): Bucket => ({ bucketId: b.id, name: b.name, createdAt: iso(b.createdAt) });

/** A source as the API shows it: settings and state, never credentials. `scan` is its running scan (api/running-scans.ts), if any. */
/** `issuedToken`: a webhook token this very request issued, shown this once. */
export function sourceJson(s: SourceRow, bucketName: string, scan: RunningScan | null, issuedToken?: string): Source {
  return {
    sourceId: s.id,
    bucket: bucketName,
    name: s.name,
    kind: s.kind,
    ...connectionJson(kindedConnection(s.connection), s.sealedCredentials !== null),
    syncMode: s.syncMode,
    syncIntervalSeconds: s.syncIntervalSeconds,
    batchSize: s.batchSize,
    targetPrefix: s.targetPrefix,
    maxObjectsPerRun: s.maxObjectsPerRun,
    shards: s.shards,
    skipDuplicates: s.skipDuplicates,
    fileFilters: s.filters,
    reconcile: s.reconcile,
    notifications: notificationsJson(s, bucketName, issuedToken),
    status: s.status,
    paused: s.paused,
    pauseReason: s.pauseReason,
    pausedAt: iso(s.pausedAt),
    pausedBy: s.pausedBy,
    createdBy: s.createdBy,
    workflowId: s.workflowId,
    currentJobId: s.currentJobId,
    lastJobId: s.lastJobId,
    lastSyncAt: iso(s.lastSyncAt),
    lastSuccessAt: iso(s.lastSuccessAt),
    nextSyncAt: iso(s.nextSyncAt),
    lastError: s.lastError,
    consecutiveFailures: s.consecutiveFailures,
    suspendAfterFailures: s.suspendAfterFailures,
    totalObjectsDiscovered: s.totalObjectsDiscovered,
    totalObjectsSynced: s.totalObjectsSynced,
    totalObjectsFailed: s.totalObjectsFailed,
    totalBytesSynced: s.totalBytesSynced,
    runCounter: s.runCounter,
    batchesCreated: s.batchesCreated,
    resumeCursor: scan?.cursor ?? null,
    resumeObjectsProcessed: scan?.listed ?? 0,
    createdAt: iso(s.createdAt),
    updatedAt: iso(s.updatedAt),
  };
}

/** A source's notifications as the API shows them: never its webhook token (but the once it is issued) nor its queue's credentials. */
function notificationsJson(s: SourceRow, bucketName: string, issuedToken?: string): Source['notifications'] {
  const n = s.notifications;
  const secretSet = s.sealedNotificationToken !== null;
  switch (n.mode) {
    case 'off':
    case 'watch':
      return { mode: n.mode, tokenSet: false };
    case 'webhook':
      return { mode: n.mode, endpoint: eventsPath(bucketName, s.id), tokenSet: secretSet, ...(issuedToken ? { token: issuedToken } : {}) };
    case 'sqs':
      return { mode: n.mode, queueUrl: n.queueUrl, region: n.region, endpoint: n.endpoint, tokenSet: false, credentialsSet: secretSet };
    default:
      return assertNever(n);
  }
}

export function jobJson(j: JobRow, bucketName: string): Job {
  return {
    jobId: j.id,
    bucket: bucketName,
    sourceId: j.sourceId,
    kind: j.kind,
    trigger: j.trigger,
    status: j.status,
    fullSync: j.fullSync,
    retryFailed: j.retryFailed,
    dryRun: j.dryRun,
    sourceObjectId: j.sourceObjectId,
    ruleId: j.ruleId,
    objectsListed: j.objectsListed,
    pagesListed: j.pagesListed,
    objectsNew: j.objectsNew,
    objectsChanged: j.objectsChanged,
    objectsDeferred: j.objectsDeferred,
    objectsDiscovered: j.objectsDiscovered,
    objectsProcessed: j.objectsProcessed,
    objectsIndexed: j.objectsIndexed,
    objectsFailed: j.objectsFailed,
    objectsSkipped: j.objectsSkipped,
    objectsDeleted: j.objectsDeleted,
    objectsRemoved: j.objectsRemoved,
    bytesTransferred: j.bytesTransferred,
    error: j.error,
    workflowId: j.workflowId,
    runId: j.runId,
    createdAt: iso(j.createdAt),
    startedAt: iso(j.startedAt),
    finishedAt: iso(j.finishedAt),
  };
}

/** A pipeline as the API shows it: its settings, never its signing secret. */
export function pipelineJson(p: PipelineRow, bucketName: string): Pipeline {
  return {
    pipelineId: p.id,
    bucket: bucketName,
    name: p.name,
    kind: p.kind,
    ...configJson(kindedConfig(p.config), p.sealedSecret !== null),
    enabled: p.enabled,
    createdAt: iso(p.createdAt),
    updatedAt: iso(p.updatedAt),
  };
}

export function ruleJson(r: RuleRow, bucketName: string): Rule {
  return {
    ruleId: r.id,
    bucket: bucketName,
    name: r.name,
    pipelineIds: r.pipelineIds,
    match: r.match,
    enabled: r.enabled,
    createdAt: iso(r.createdAt),
    updatedAt: iso(r.updatedAt),
  };
}

/** A service-account key without its secret (the creation answer adds it, once). */
export const serviceAccountKeyJson = (k: ServiceAccountKeyRow): ServiceAccountKey => ({
  accessKeyId: k.id,
  org: k.orgId,
  scopes: k.scopes,
  buckets: k.buckets,
  description: k.description,
  createdAt: iso(k.createdAt),
});
