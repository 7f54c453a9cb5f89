/**
 * Upload syncs, shared by lakesync's own routes (api/routes/uploads.ts) and
 * DataInsider's (api/routes/datainsider.ts): both surfaces start, fill and
 * list the same syncs, run by the same workflow.
 */
import type { Request, Response } from 'express';
import { eq, sql } from 'drizzle-orm';
import { escapeControl, textProblem } from '../domain/text.js';
import { uploadFiles, uploadSyncOrgs, uploadSyncs, type buckets } from '../db/schema.js';
import { newId } from '../domain/ids.js';
import { lakeKeyProblem } from '../lake/keys.js';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { endUploadUpdate, uploadSyncWorkflowId } from '../workflows/shared.js';
import type { PutResult } from '../lake/types.js';
import type { ApiDeps } from './deps.js';
import { ApiError } from './errors.js';
import { recordArrival } from './push-source.js';
import { metadataToCatalog } from './object-metadata.js';
import { logFields } from './log-fields.js';
import { ClientGoneError } from './client-gone.js';
import { eachMultipartFile } from './multipart-files.js';
import { countUploadedFiles, discardUploadRequest, type CreatedFile } from './upload-rollback.js';

type Bucket = typeof buckets.$inferSelect;
export type UploadSync = typeof uploadSyncs.$inferSelect;

export interface UploadedFile {
  fileName: string;
  key: string;
  syncStatus: string;
  message: string;
}

/** Uploads to an ended or failed sync are refused, naming the field the caller named the sync with. */
export const syncEnded = (field: string, status: string): ApiError =>
  new ApiError('FAILED_PRECONDITION', `${field}: the sync is ${status}; start a new one`, [{ field, problem: `is ${status}` }]);

/**
 * The organisation's next DataInsider `sync_id` (and its integer `org_id`). One
 * row per organisation, updated in place: concurrent starts queue on its lock,
 * so numbers are never handed out twice.
 */
async function nextSyncNumber(deps: ApiDeps, org: string): Promise<number> {
  const [row] = await deps.db
    .insert(uploadSyncOrgs)
    .values({ orgId: org, lastSyncNumber: 1 })
    .onConflictDoUpdate({ target: uploadSyncOrgs.orgId, set: { lastSyncNumber: sql`${uploadSyncOrgs.lastSyncNumber} + 1` } })
    .returning({ n: uploadSyncOrgs.lastSyncNumber });
  return row!.n;
}

/** DataInsider's integer `org_id` for an organisation (handed out with its first sync; null before). */
export async function orgNumber(deps: ApiDeps, org: string): Promise<number | null> {
  const [row] = await deps.db.select({ number: uploadSyncOrgs.number }).from(uploadSyncOrgs).where(eq(uploadSyncOrgs.orgId, org));
  return row?.number ?? null;
}

/** Starts a sync: its row (with the next `sync_id` of the bucket's organisation), then its workflow (`id` is the workflow's id). */
export async function startUploadSync(
  deps: ApiDeps,
  bucket: Bucket,
  body: { name: string; path: string; syncType: 'FULL' | 'INCREMENTAL'; ttlSeconds: number },
): Promise<{ id: string; syncNumber: number }> {
  const id = newId('sync');
  const path = body.path === '' ? '' : `${body.path}/`;
  const syncNumber = await nextSyncNumber(deps, bucket.orgId);
  await deps.db.insert(uploadSyncs).values({
    id,
    bucketId: bucket.id,
    orgId: bucket.orgId,
    syncNumber,
    name: body.name,
    path,
    syncType: body.syncType,
    ttlSeconds: body.ttlSeconds,
    workflowId: uploadSyncWorkflowId(id),
  });
  try {
    await deps.temporal.workflow.start('uploadSync', {
      workflowId: uploadSyncWorkflowId(id),
      taskQueue: deps.taskQueue,
      args: [{ syncId: id, ttlSeconds: body.ttlSeconds }],
      memo: { bucket: bucket.name, name: body.name },
    });
  } catch (err) {
    // The number stays used: a gap in sync_ids is harmless, a number handed out twice would not be.
    await deps.db.delete(uploadSyncs).where(eq(uploadSyncs.id, id));
    deps.log.error({ err }, 'could not start the upload sync workflow');
    throw ApiError.unavailable('temporal', 'could not start the upload sync');
  }
  return { id, syncNumber };
}

/** Ends a sync by its workflow's `end` update (for FULL: trashing what it did not upload); ending a finished sync again is harmless. */
export async function endUploadSync(deps: ApiDeps, sync: UploadSync, field: string): Promise<{ success: boolean }> {
  if (sync.syncStatus === 'Failed') throw syncEnded(field, 'Failed');
  if (sync.syncStatus === 'Finished') return { success: true };
  try {
    return await deps.temporal.workflow.getHandle(sync.workflowId).executeUpdate(endUploadUpdate);
  } catch (err) {
    if (err instanceof WorkflowUpdateFailedError) throw syncEnded(field, 'Failed');
    throw err;
  }
}

/**
 * Multipart, one or many files per call; each file streams to
 * `<sync path><folder/><file name>` (`folder` is already a checked lake path,
 * or ''). A request is kept whole or not at all: one that is refused
 * (malformed, over the file limit) or cut off by the client keeps none of its
 * files. Null when the client left (nobody to answer).
 */
export async function receiveFiles(
  deps: ApiDeps,
  req: Request,
  res: Response,
  bucket: Bucket,
  sync: UploadSync,
  folder: string,
  field: string,
): Promise<UploadedFile[] | null> {
  if (sync.syncStatus !== 'Syncing') throw syncEnded(field, sync.syncStatus);
  if (!req.headers['content-type']?.startsWith('multipart/form-data'))
    throw new ApiError('UNSUPPORTED_MEDIA_TYPE', 'body: must be multipart/form-data', [{ field: 'body', problem: 'must be multipart/form-data' }]);
  const results: UploadedFile[] = [];
  const created: CreatedFile[] = [];
  try {
    await eachMultipartFile(req, deps.uploadLimits, async (file) => {
      // Only the base name of a client's file name counts (busboy drops any path in it).
      const rawName = file.fileName;
      // A name with control characters is refused, and recorded with them written out: no row can hold NUL.
      const nameProblem = textProblem(rawName);
      const fileName = nameProblem ? escapeControl(rawName) : rawName;
      const key = sync.path + (folder ? `${folder}/` : '') + fileName;
      const keyProblem = nameProblem ?? lakeKeyProblem(key);
      const problem = !fileName ? 'the file has no name' : keyProblem ? `file name ${keyProblem}` : null;
      const historyId = newId('file');
      await deps.db.insert(uploadFiles).values({ id: historyId, syncId: sync.id, bucketId: bucket.id, fileName, key: problem ? fileName : key });
      const entry: CreatedFile = { historyId, key, stored: null };
      created.push(entry);
      if (problem) {
        await deps.db
          .update(uploadFiles)
          .set({ syncStatus: 'Failed', endTime: sql`now()`, message: problem })
          .where(eq(uploadFiles.id, historyId));
        results.push({ fileName, key, syncStatus: 'Failed', message: problem });
        return;
      }
      let put: PutResult;
      try {
        put = await deps.lake.put(bucket.name, key, file.body, { contentType: file.mimeType });
      } catch (err) {
        const message = (err as Error).message.slice(0, 500);
        await deps.db
          .update(uploadFiles)
          .set({ syncStatus: 'Failed', endTime: sql`now()`, message })
          .where(eq(uploadFiles.id, historyId));
        results.push({ fileName, key, syncStatus: 'Failed', message });
        return;
      }
      entry.stored = put.writeId ?? put.etag;
      await deps.db
        .update(uploadFiles)
        .set({ syncStatus: 'Finished', endTime: sql`now()`, size: put.size })
        .where(eq(uploadFiles.id, historyId));
      await recordArrival(deps, bucket, key, put, metadataToCatalog(deps, { contentType: file.mimeType }));
      results.push({ fileName, key, syncStatus: 'Finished', message: '' });
    });
  } catch (err) {
    const gone = err instanceof ClientGoneError;
    const reason = gone
      ? 'not kept: the client disconnected before the request ended'
      : err instanceof ApiError
        ? `not kept: the request was refused (${err.message})`
        : 'not kept: the request failed';
    await discardUploadRequest(deps, bucket, sync, created, reason);
    deps.log.warn({ ...logFields(res), files: created.length, reason }, 'an upload request did not complete; none of its files were kept');
    // Nobody is left to answer.
    if (gone) return null;
    if (err instanceof ApiError && created.length > 0)
      throw new ApiError(err.code, `${err.message}; none of the request's ${created.length} files were kept`, err.details);
    throw err;
  }
  if (results.length === 0) throw ApiError.invalid('file', 'no file was sent');
  await countUploadedFiles(deps, sync, results.length, results.filter((f) => f.syncStatus === 'Failed').length);
  return results;
}
