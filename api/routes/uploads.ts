import type { Request, Router } from 'express';
import { and, asc, desc, eq, sql } from 'drizzle-orm';
import { z } from 'zod';
import { escapeControl, text, textProblem } from '../../domain/text.js';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { uploadFiles, uploadSyncs } from '../../db/schema.js';
import { newId } from '../../domain/ids.js';
import { lakeKeyProblem } from '../../lake/keys.js';
import { TRASH_PREFIX, trashKey } from '../../lake/trash.js';
import { endUploadUpdate, uploadSyncWorkflowId } from '../../workflows/shared.js';
import type { PutResult } from '../../lake/types.js';
import { callerOf } from '../auth.js';
import type { ApiDeps } from '../deps.js';
import { ApiError } from '../errors.js';
import { recordArrival } from '../push-source.js';
import { metadataToCatalog } from '../object-metadata.js';
import { logFields } from '../log-fields.js';
import { ClientGoneError } from '../client-gone.js';
import { eachMultipartFile } from '../multipart-files.js';
import { countUploadedFiles, discardUploadRequest, type CreatedFile } from '../upload-rollback.js';
import { parseBody, parseQuery } from '../validate.js';
import { findBucket } from './lookup.js';
import { defineRoutes, routesOf } from '../route.js';
import { UploadEnded, UploadFilesResult, UploadHistory, UploadRestored, UploadStarted, UploadSyncList } from '../contract/uploads.js';

const SyncType = z.preprocess(
  (v) => (v === 'FullSync' ? 'FULL' : v === 'IncrementalSync' ? 'INCREMENTAL' : v),
  z.enum(['FULL', 'INCREMENTAL'], { message: 'must be FULL or INCREMENTAL' }),
);

export const StartBody = z
  .object({
    name: text().trim().min(1).max(200),
    path: text()
      .max(512)
      .transform((p) => p.replace(/^\/+/, '').replace(/\/*$/, ''))
      .refine((p) => p === '' || (lakeKeyProblem(p) === null && !p.startsWith(TRASH_PREFIX.slice(0, -1))), 'must be a lake path without . or .. segments'),
    syncType: SyncType,
    ttlSeconds: z
      .number()
      .int()
      .min(5)
      .max(7 * 86_400)
      .default(86_400),
  })
  .strict();

export const ListQuery = z.object({ from: z.coerce.number().int().min(0).default(0), size: z.coerce.number().int().min(1).max(1000).default(10) }).strict();
export const HistoryQuery = ListQuery.extend({ syncId: text().max(64).optional() }).strict();

const ms = (d: Date | null) => (d ? d.getTime() : 0);

/** Ending takes any JSON object (DataInsider's clients send their own fields); restoring takes none. */
const EndBody = z.object({}).passthrough();
const RestoreBody = z.object({}).strict();

export const UPLOAD_ROUTES = defineRoutes({
  start: {
    method: 'post',
    route: '/:bucket/uploads',
    summary: 'Start an upload sync (FULL or INCREMENTAL)',
    scope: 'write',
    body: StartBody,
    responses: { 201: { body: UploadStarted } },
  },
  files: {
    method: 'post',
    route: '/:bucket/uploads/:syncId/files',
    summary: 'Upload files (multipart/form-data, one or many)',
    scope: 'write',
    responses: { 200: { body: UploadFilesResult } },
  },
  end: {
    method: 'post',
    route: '/:bucket/uploads/:syncId/end',
    summary: 'End an upload sync',
    scope: 'write',
    body: EndBody,
    responses: { 200: { body: UploadEnded } },
  },
  restore: {
    method: 'post',
    route: '/:bucket/uploads/:syncId/restore',
    summary: 'Restore what ending a FULL sync moved to trash',
    scope: 'write',
    body: RestoreBody,
    responses: { 200: { body: UploadRestored } },
  },
  list: {
    method: 'get',
    route: '/:bucket/uploads',
    summary: 'List upload syncs (from, size)',
    scope: 'read',
    query: ListQuery,
    responses: { 200: { body: UploadSyncList } },
  },
  history: {
    method: 'get',
    route: '/:bucket/uploads/history',
    summary: 'Uploaded-file history (from, size, syncId)',
    scope: 'read',
    query: HistoryQuery,
    responses: { 200: { body: UploadHistory } },
  },
});

/** DataInsider's file-upload syncs: start → upload files (many calls) → end; FULL replaces, INCREMENTAL adds. */
export function uploadRoutes(deps: ApiDeps): Router {
  const r = routesOf(UPLOAD_ROUTES);

  const findSync = async (req: Request, org: string) => {
    const bucket = await findBucket(deps, req.params.bucket as string, org);
    const [sync] = await deps.db
      .select()
      .from(uploadSyncs)
      .where(and(eq(uploadSyncs.bucketId, bucket.id), eq(uploadSyncs.id, req.params.syncId as string)));
    if (!sync) throw ApiError.notFound(`sync ${String(req.params.syncId)}`);
    return { bucket, sync };
  };
  const ended = (status: string) =>
    new ApiError('FAILED_PRECONDITION', `syncId: the sync is ${status}; start a new one`, [{ field: 'syncId', problem: `is ${status}` }]);

  r.on('start', async (req, res) => {
    const body = parseBody(StartBody, req);
    const bucket = await findBucket(deps, req.params.bucket, callerOf(res).org);
    const id = newId('sync');
    const path = body.path === '' ? '' : `${body.path}/`;
    await deps.db
      .insert(uploadSyncs)
      .values({ id, bucketId: bucket.id, name: body.name, path, syncType: body.syncType, ttlSeconds: body.ttlSeconds, workflowId: uploadSyncWorkflowId(id) });
    try {
      await deps.temporal.workflow.start('uploadSync', {
        workflowId: uploadSyncWorkflowId(id),
        taskQueue: deps.taskQueue,
        args: [{ syncId: id, ttlSeconds: body.ttlSeconds }],
        memo: { bucket: bucket.name, name: body.name },
      });
    } catch (err) {
      await deps.db.delete(uploadSyncs).where(eq(uploadSyncs.id, id));
      deps.log.error({ err }, 'could not start the upload sync workflow');
      throw ApiError.unavailable('temporal', 'could not start the upload sync');
    }
    res.status(201).json({ syncId: id });
  });

  /**
   * Multipart, one or many files per call; each file streams to `<path><file name>`.
   * A request is kept whole or not at all: one that is refused (malformed, over
   * the file limit) or cut off by the client keeps none of its files.
   */
  r.on('files', async (req, res) => {
    const { bucket, sync } = await findSync(req, callerOf(res).org);
    if (sync.syncStatus !== 'Syncing') throw ended(sync.syncStatus);
    if (!req.headers['content-type']?.startsWith('multipart/form-data'))
      throw new ApiError('UNSUPPORTED_MEDIA_TYPE', 'body: must be multipart/form-data', [{ field: 'body', problem: 'must be multipart/form-data' }]);
    const results: { fileName: string; key: string; syncStatus: string; message: string }[] = [];
    const created: CreatedFile[] = [];
    try {
      await eachMultipartFile(req, deps.uploadLimits, async (file) => {
        // Only the base name of a client's file name counts (busboy drops any path in it).
        const rawName = file.fileName;
        // A name with control characters is refused, and recorded with them written out: no row can hold NUL.
        const nameProblem = textProblem(rawName);
        const fileName = nameProblem ? escapeControl(rawName) : rawName;
        const key = sync.path + fileName;
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
      if (gone) return;
      if (err instanceof ApiError && created.length > 0)
        throw new ApiError(err.code, `${err.message}; none of the request's ${created.length} files were kept`, err.details);
      throw err;
    }
    if (results.length === 0) throw ApiError.invalid('file', 'no file was sent');
    await countUploadedFiles(deps, sync, results.length, results.filter((f) => f.syncStatus === 'Failed').length);
    res.json({ code: 0, msg: null, files: results });
  });

  r.on('end', async (req, res) => {
    parseBody(EndBody, req);
    const { sync } = await findSync(req, callerOf(res).org);
    if (sync.syncStatus === 'Failed') throw ended('Failed');
    // Ending again is harmless: the sync (and its workflow) already finished.
    if (sync.syncStatus === 'Finished') return void res.json({ success: true });
    try {
      const result = await deps.temporal.workflow.getHandle(sync.workflowId).executeUpdate(endUploadUpdate);
      res.json(result);
    } catch (err) {
      if (err instanceof WorkflowUpdateFailedError) throw ended('Failed');
      throw err;
    }
  });

  /** Brings back what ending a FULL sync moved to trash. */
  r.on('restore', async (req, res) => {
    parseBody(RestoreBody, req);
    const { bucket, sync } = await findSync(req, callerOf(res).org);
    const prefix = trashKey(sync.id, '');
    let restored = 0;
    for (;;) {
      const page = await deps.lake.list(bucket.name, prefix, null, 1000);
      for (const o of page.objects) {
        const original = o.key.slice(prefix.length);
        if (await deps.lake.move(bucket.name, o.key, original)) {
          restored++;
          const head = await deps.lake.head(bucket.name, original);
          if (head) await recordArrival(deps, bucket, original, { etag: head.etag, size: head.size, contentHash: null });
        }
      }
      if (!page.more || page.objects.length === 0) break;
    }
    res.json({ success: true, restored });
  });

  r.on('list', async (req, res) => {
    const q = parseQuery(ListQuery, req);
    const bucket = await findBucket(deps, req.params.bucket, callerOf(res).org);
    const rows = await deps.db
      .select()
      .from(uploadSyncs)
      .where(eq(uploadSyncs.bucketId, bucket.id))
      .orderBy(desc(uploadSyncs.startTime), desc(uploadSyncs.id))
      .offset(q.from)
      .limit(q.size);
    res.json(
      rows.map((s) => ({
        syncId: s.id,
        name: s.name,
        path: s.path,
        syncType: s.syncType,
        syncStatus: s.syncStatus,
        startTime: ms(s.startTime),
        endTime: ms(s.endTime),
        totalFiles: s.totalFiles,
        numFailed: s.numFailed,
        trashed: s.trashed,
        ttlSeconds: s.ttlSeconds,
        message: s.message ?? '',
      })),
    );
  });

  r.on('history', async (req, res) => {
    const q = parseQuery(HistoryQuery, req);
    const bucket = await findBucket(deps, req.params.bucket, callerOf(res).org);
    const rows = await deps.db
      .select()
      .from(uploadFiles)
      .where(and(eq(uploadFiles.bucketId, bucket.id), q.syncId ? eq(uploadFiles.syncId, q.syncId) : undefined))
      .orderBy(asc(uploadFiles.startTime), asc(uploadFiles.id))
      .offset(q.from)
      .limit(q.size);
    res.json(
      rows.map((f) => ({
        historyId: f.id,
        syncId: f.syncId,
        fileName: f.fileName,
        key: f.key,
        size: f.size,
        startTime: ms(f.startTime),
        endTime: ms(f.endTime),
        syncStatus: f.syncStatus,
        message: f.message,
      })),
    );
  });

  return r.router();
}
