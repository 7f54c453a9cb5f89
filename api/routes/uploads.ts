import type { Request, Router } from 'express';
import { and, asc, desc, eq } from 'drizzle-orm';
import { z } from 'zod';
import { text } from '../../domain/text.js';
import { uploadFiles, uploadSyncs } from '../../db/schema.js';
import { lakeKeyProblem } from '../../lake/keys.js';
import { TRASH_PREFIX, trashKey } from '../../lake/trash.js';
import { callerOf } from '../auth.js';
import type { ApiDeps } from '../deps.js';
import { ApiError } from '../errors.js';
import { recordArrival } from '../push-source.js';
import { endUploadSync, receiveFiles, startUploadSync } from '../upload-syncs.js';
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

  r.on('start', async (req, res) => {
    const body = parseBody(StartBody, req);
    const bucket = await findBucket(deps, req.params.bucket, callerOf(res).org);
    const { id } = await startUploadSync(deps, bucket, body);
    res.status(201).json({ syncId: id });
  });

  /**
   * Multipart, one or many files per call; each file streams to `<path><file name>`.
   * A request is kept whole or not at all: one that is refused (malformed, over
   * the file limit) or cut off by the client keeps none of its files.
   */
  r.on('files', async (req, res) => {
    const { bucket, sync } = await findSync(req, callerOf(res).org);
    const files = await receiveFiles(deps, req, res, bucket, sync, '', 'syncId');
    if (files) res.json({ code: 0, msg: null, files });
  });

  r.on('end', async (req, res) => {
    parseBody(EndBody, req);
    const { sync } = await findSync(req, callerOf(res).org);
    res.json(await endUploadSync(deps, sync, 'syncId'));
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
        syncNumber: s.syncNumber,
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
