/** How each API resource reads in a terminal. `--json` bypasses all of this. */
import type { Bucket, DeadLetter, Job, Page, ServiceAccountKey, Source, SyncStatus } from './api-types.js';
import { assertNever } from '../domain/kinds.js';
import { formatBytes, fromMillis, inert, orDash, renderFields, renderTable } from './output.js';

const shortStatus = (s: string): string => s.replace(/^(JOB|SOURCE)_STATUS_/, '');

export function pageFooter(page: Page, shown: number): string {
  const more = page.nextPageToken ? `; next page: --page-token ${inert(page.nextPageToken)}` : '';
  return `${shown} of ${page.totalCount}${more}\n`;
}

export const bucketTable = (rows: Bucket[]): string =>
  renderTable(rows, [
    { header: 'name', value: (b) => b.name },
    { header: 'id', value: (b) => b.bucketId },
    { header: 'created', value: (b) => orDash(b.createdAt) },
  ]);

export const bucketFields = (b: Bucket): string =>
  renderFields([
    ['name', b.name],
    ['id', b.bucketId],
    ['created', orDash(b.createdAt)],
  ]);

const keyBuckets = (k: ServiceAccountKey): string => (k.buckets ? k.buckets.join(', ') : 'all');

export const keyTable = (rows: ServiceAccountKey[]): string =>
  renderTable(rows, [
    { header: 'access key id', value: (k) => k.accessKeyId },
    { header: 'scopes', value: (k) => k.scopes.join(',') },
    { header: 'buckets', value: keyBuckets, max: 40 },
    { header: 'created', value: (k) => orDash(k.createdAt) },
    { header: 'description', value: (k) => orDash(k.description), max: 40 },
  ]);

/** With the secret only when the answer carries it: a key's creation. */
export const keyFields = (k: ServiceAccountKey & { secretAccessKey?: string }): string =>
  renderFields([
    ['access key id', k.accessKeyId],
    ['org', k.org],
    ['scopes', k.scopes.join(', ')],
    ['buckets', keyBuckets(k)],
    ['description', k.description ?? undefined],
    ['created', orDash(k.createdAt)],
    ['secret access key', k.secretAccessKey],
  ]);

/** Where a source reads from, per kind (the compiler lists a new kind here). */
function where(s: Source): string {
  const kind = s.kind;
  switch (kind) {
    case 'filesystem':
      return s.filesystem?.path ?? '-';
    case 's3':
      return s.s3 ? `s3://${s.s3.bucket}/${s.s3.prefix ?? ''}${s.s3.endpoint ? ` (${s.s3.endpoint})` : ''}` : '-';
    case 'azure':
      return s.azure ? `azure://${s.azure.account}/${s.azure.container}/${s.azure.prefix ?? ''}${s.azure.endpoint ? ` (${s.azure.endpoint})` : ''}` : '-';
    case 'gcs':
      return s.gcs ? `gs://${s.gcs.bucket}/${s.gcs.prefix ?? ''}${s.gcs.endpoint ? ` (${s.gcs.endpoint})` : ''}` : '-';
    case 'postgres':
      return s.postgres
        ? `postgres://${s.postgres.user}@${s.postgres.host}:${s.postgres.port}/${s.postgres.database} ${s.postgres.schema}.${s.postgres.table}`
        : '-';
    case 'sftp':
      return s.sftp ? `sftp://${s.sftp.username}@${s.sftp.host.includes(':') ? `[${s.sftp.host}]` : s.sftp.host}:${s.sftp.port}${s.sftp.path}` : '-';
    case 'upload':
      return '-';
    default:
      return assertNever(kind);
  }
}

function credentials(s: Source): string | undefined {
  const part = s.s3 ?? s.azure ?? s.gcs ?? s.postgres ?? s.sftp;
  return part ? (part.credentialsSet ? 'set' : 'not set') : undefined;
}

export const sourceTable = (rows: Source[]): string =>
  renderTable(rows, [
    { header: 'id', value: (s) => s.sourceId },
    { header: 'name', value: (s) => s.name, max: 30 },
    { header: 'kind', value: (s) => s.kind },
    { header: 'status', value: (s) => shortStatus(s.status) + (s.paused ? ' (paused)' : '') },
    { header: 'every', value: (s) => `${s.syncIntervalSeconds}s` },
    { header: 'last sync', value: (s) => orDash(s.lastSyncAt) },
    { header: 'location', value: where, max: 60 },
  ]);

export const sourceFields = (s: Source): string =>
  renderFields([
    ['id', s.sourceId],
    ['bucket', s.bucket],
    ['name', s.name],
    ['kind', s.kind],
    ['location', where(s)],
    ['credentials', credentials(s)],
    ['status', shortStatus(s.status)],
    ['paused', s.paused ? `yes${s.pauseReason ? ` (${s.pauseReason})` : ''}` : 'no'],
    ['paused at', s.pausedAt ?? undefined],
    ['paused by', s.pausedBy ?? undefined],
    ['created by', s.createdBy ?? undefined],
    ['sync mode', s.syncMode],
    ['interval', `${s.syncIntervalSeconds}s`],
    ['batch size', String(s.batchSize)],
    ['target prefix', orDash(s.targetPrefix)],
    ['workflow', s.workflowId],
    ['current job', orDash(s.currentJobId)],
    ['last job', orDash(s.lastJobId)],
    ['last sync', orDash(s.lastSyncAt)],
    ['last success', orDash(s.lastSuccessAt)],
    ['next sync', orDash(s.nextSyncAt)],
    ['failures in a row', String(s.consecutiveFailures)],
    ['last error', s.lastError ?? undefined],
    ['objects discovered', String(s.totalObjectsDiscovered)],
    ['objects synced', String(s.totalObjectsSynced)],
    ['objects failed', String(s.totalObjectsFailed)],
    ['bytes synced', formatBytes(s.totalBytesSynced)],
    ['sync runs', String(s.runCounter)],
    ['batches', String(s.batchesCreated)],
    ['scan cursor', s.resumeCursor === null ? undefined : `${s.resumeCursor} (${s.resumeObjectsProcessed} listed)`],
  ]);

export const syncStatusFields = (s: SyncStatus): string =>
  renderFields([
    ['source', `${s.bucket}/${s.sourceId}`],
    ['status', shortStatus(s.status) + (s.live ? '' : ' (from the database: the controller did not answer)')],
    ['paused', s.paused ? `yes${s.pauseReason ? ` (${s.pauseReason})` : ''}` : 'no'],
    ['last sync', fromMillis(s.lastSyncAt)],
    ['last success', fromMillis(s.lastSuccessAt)],
    ['next sync', fromMillis(s.nextSyncAt)],
    ['discovered', s.objectsDiscovered],
    ['processed', s.objectsProcessed],
    ['indexed', s.objectsIndexed],
    ['failed', s.objectsFailed],
    ['current job', orDash(s.currentJobId)],
    ['last job', orDash(s.lastJobId)],
    ['queued job', s.queuedJobId],
    ['failures in a row', String(s.consecutiveFailures)],
    ['last error', s.lastError],
  ]);

export const jobTable = (rows: Job[]): string =>
  renderTable(rows, [
    { header: 'job', value: (j) => j.jobId },
    { header: 'source', value: (j) => j.sourceId },
    { header: 'kind', value: (j) => j.kind + (j.dryRun ? ' (dry run)' : j.fullSync ? ' (full)' : '') },
    { header: 'trigger', value: (j) => j.trigger },
    { header: 'status', value: (j) => shortStatus(j.status) },
    { header: 'discovered', value: (j) => String(j.objectsDiscovered) },
    { header: 'processed', value: (j) => String(j.objectsProcessed) },
    { header: 'failed', value: (j) => String(j.objectsFailed) },
    { header: 'created', value: (j) => orDash(j.createdAt) },
  ]);

function duration(j: Job): string | undefined {
  if (!j.startedAt || !j.finishedAt) return undefined;
  return `${((Date.parse(j.finishedAt) - Date.parse(j.startedAt)) / 1000).toFixed(1)}s`;
}

export function jobFields(j: Job): string {
  const fields = renderFields([
    ['job', j.jobId],
    ['source', j.sourceId],
    ['kind', j.kind + (j.dryRun ? ' (dry run)' : j.fullSync ? ' (full sync)' : '')],
    ['trigger', j.trigger],
    ['status', shortStatus(j.status)],
    ['listed', String(j.objectsListed)],
    ['new', String(j.objectsNew)],
    ['changed', String(j.objectsChanged)],
    ['discovered', String(j.objectsDiscovered)],
    ['deferred', j.objectsDeferred ? String(j.objectsDeferred) : undefined],
    ['processed', String(j.objectsProcessed)],
    ['indexed', String(j.objectsIndexed)],
    ['skipped', String(j.objectsSkipped)],
    ['failed', String(j.objectsFailed)],
    ['deleted at source', String(j.objectsDeleted)],
    ['removed from lake', String(j.objectsRemoved)],
    ['transferred', formatBytes(j.bytesTransferred)],
    ['created', orDash(j.createdAt)],
    ['started', orDash(j.startedAt)],
    ['finished', orDash(j.finishedAt)],
    ['took', duration(j)],
    ['error', j.error ?? undefined],
  ]);
  const failed = j.failedObjects ?? [];
  if (failed.length === 0) return fields;
  return (
    fields +
    '\nfailed objects:\n' +
    renderTable(failed, [
      { header: 'key', value: (o) => o.key, max: 60 },
      { header: 'attempts', value: (o) => String(o.attempts) },
      { header: 'error', value: (o) => orDash(o.error), max: 80 },
    ])
  );
}

export const deadLetterTable = (rows: DeadLetter[]): string =>
  renderTable(rows, [
    { header: 'object id', value: (d) => d.sourceObjectId },
    { header: 'key', value: (d) => d.key, max: 60 },
    { header: 'attempts', value: (d) => String(d.attempts) },
    { header: 'failed at', value: (d) => d.failedAt },
    { header: 'last error', value: (d) => orDash(d.lastError), max: 80 },
  ]);
