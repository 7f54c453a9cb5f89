/**
 * DataInsider's file-upload API, as its clients call it (start → upload files
 * → end; list; history): a second surface over lakesync's upload syncs. Same
 * rows, same workflows; snake_case, integer ids, `{ code, msg }` errors, and
 * an `api_key` (api/api-key.ts) instead of a bearer token.
 */
import type { Request, Response, Router } from 'express';
import { and, asc, eq, isNotNull } from 'drizzle-orm';
import { z } from 'zod';
import { text } from '../../domain/text.js';
import { uploadFiles, uploadSyncs } from '../../db/schema.js';
import { lakeKeyProblem } from '../../lake/keys.js';
import { TRASH_PREFIX } from '../../lake/trash.js';
import { apiKeyCaller } from '../api-key.js';
import type { Scope } from '../auth.js';
import type { ApiDeps } from '../deps.js';
import { ApiError } from '../errors.js';
import { logFields } from '../log-fields.js';
import { endUploadSync, orgNumber, receiveFiles, startUploadSync } from '../upload-syncs.js';
import { parseBody, parseQuery } from '../validate.js';
import { defineRoutes, routesOf } from '../route.js';
import { DataInsiderEnded, DataInsiderHistory, DataInsiderStarted, DataInsiderSyncList, DataInsiderUploaded } from '../contract/datainsider.js';
import { ListQuery, StartBody } from './uploads.js';

/** Postgres `integer`: the sequence's range. */
const MAX_SYNC_ID = 2_147_483_647;
const SyncId = z.number().int().min(1).max(MAX_SYNC_ID);
/** In a query string: digits only (no sign, exponent, blank or fraction that Number() would take). */
const SyncIdParam = text()
  .regex(/^[0-9]{1,10}$/, 'must be a positive integer')
  .transform(Number)
  .pipe(SyncId);
/** Checked by api/api-key.ts before the body is; declared so a strict body may carry it. */
const ApiKeyField = text().max(256).optional();

const StartDi = z
  .object({
    name: StartBody.shape.name,
    path: StartBody.shape.path,
    api_key: ApiKeyField,
    sync_type: z.enum(['FullSync', 'IncrementalSync'], { message: 'must be FullSync or IncrementalSync' }),
  })
  .strict();

const EndDi = z.object({ sync_id: SyncId, api_key: ApiKeyField }).strict();

/** `path` names a folder under the sync's path, checked like a lake key (no `.`, `..`, empty segments or controls). */
const UploadQuery = z
  .object({
    sync_id: SyncIdParam,
    path: text()
      .max(512)
      .transform((p) => p.replace(/^\/+/, '').replace(/\/+$/, ''))
      .refine((p) => p === '' || (lakeKeyProblem(p) === null && !p.startsWith(TRASH_PREFIX.slice(0, -1))), 'must be a lake path without . or .. segments')
      .default(''),
  })
  .strict();

const SYNC_TYPE = { FULL: 'FullSync', INCREMENTAL: 'IncrementalSync' } as const;
const FROM_SYNC_TYPE = { FullSync: 'FULL', IncrementalSync: 'INCREMENTAL' } as const;
const ms = (d: Date | null) => (d ? d.getTime() : 0);

export const DATAINSIDER_ROUTES = defineRoutes({
  start: {
    method: 'post',
    route: '/api/ingestion/file/sync/start',
    summary: 'DataInsider: start a FullSync or IncrementalSync → { sync_id }',
    scope: null,
    apiKey: 'write',
    body: StartDi,
    responses: { 200: { body: DataInsiderStarted } },
  },
  upload: {
    method: 'post',
    route: '/api/lake/file/upload',
    summary: 'DataInsider: upload files (multipart/form-data, field file) into a sync (?sync_id=, ?path= a folder under its path)',
    scope: null,
    apiKey: 'write',
    query: UploadQuery,
    responses: { 200: { body: DataInsiderUploaded } },
  },
  end: {
    method: 'post',
    route: '/api/ingestion/file/sync/end',
    summary: 'DataInsider: end a sync',
    scope: null,
    apiKey: 'write',
    body: EndDi,
    responses: { 200: { body: DataInsiderEnded } },
  },
  list: {
    method: 'get',
    route: '/api/ingestion/file/sync/list',
    summary: 'DataInsider: syncs of the api_key’s bucket, by sync_id (from, size)',
    scope: null,
    apiKey: 'read',
    query: ListQuery,
    responses: { 200: { body: DataInsiderSyncList } },
  },
  history: {
    method: 'get',
    route: '/api/ingestion/file/sync/history',
    summary: 'DataInsider: uploaded files of the api_key’s bucket, oldest first (from, size)',
    scope: null,
    apiKey: 'read',
    query: ListQuery,
    responses: { 200: { body: DataInsiderHistory } },
  },
});

export function dataInsiderRoutes(deps: ApiDeps): Router {
  const r = routesOf(DATAINSIDER_ROUTES);
  const S = DATAINSIDER_ROUTES;

  /** The api_key's organisation and bucket; the request's log line names the bucket, as on lakesync's own routes. */
  const caller = async (req: Request, res: Response, scope: Scope) => {
    const found = await apiKeyCaller(deps, req, scope);
    logFields(res).bucket = found.bucket.name;
    return found;
  };

  /** Another organisation's or bucket's sync_id is not found, exactly like one never handed out. */
  const findSync = async (res: Response, org: string, bucketId: string, syncNumber: number) => {
    const [sync] = await deps.db
      .select()
      .from(uploadSyncs)
      .where(and(eq(uploadSyncs.orgId, org), eq(uploadSyncs.syncNumber, syncNumber), eq(uploadSyncs.bucketId, bucketId)));
    if (!sync) throw new ApiError('NOT_FOUND', `sync_id: sync ${syncNumber} not found`, [{ field: 'sync_id', problem: 'not found' }]);
    Object.assign(logFields(res), { syncId: sync.id, workflowId: sync.workflowId });
    return sync;
  };

  // Each handler authenticates first: nothing else about the request is looked at for a caller without a good key.
  r.on('start', async (req, res) => {
    const { bucket } = await caller(req, res, S.start.apiKey);
    const body = parseBody(StartDi, req);
    const { syncNumber } = await startUploadSync(deps, bucket, { ...body, syncType: FROM_SYNC_TYPE[body.sync_type], ttlSeconds: 86_400 });
    res.json({ sync_id: syncNumber });
  });

  r.on('upload', async (req, res) => {
    const { org, bucket } = await caller(req, res, S.upload.apiKey);
    const q = parseQuery(UploadQuery, req);
    const sync = await findSync(res, org, bucket.id, q.sync_id);
    const files = await receiveFiles(deps, req, res, bucket, sync, q.path, 'sync_id');
    if (!files) return;
    const failed = files.filter((f) => f.syncStatus === 'Failed').length;
    res.json({ code: 0, msg: failed ? `${failed} of ${files.length} files were not stored; the history says why` : null });
  });

  r.on('end', async (req, res) => {
    const { org, bucket } = await caller(req, res, S.end.apiKey);
    const body = parseBody(EndDi, req);
    res.json(await endUploadSync(deps, await findSync(res, org, bucket.id, body.sync_id), 'sync_id'));
  });

  r.on('list', async (req, res) => {
    const { org, bucket } = await caller(req, res, S.list.apiKey);
    const q = parseQuery(ListQuery, req);
    const orgId = (await orgNumber(deps, org)) ?? 0;
    const rows = await deps.db
      .select()
      .from(uploadSyncs)
      .where(and(eq(uploadSyncs.bucketId, bucket.id), isNotNull(uploadSyncs.syncNumber)))
      .orderBy(asc(uploadSyncs.syncNumber))
      .offset(q.from)
      .limit(q.size);
    res.json(
      rows.map((s) => ({
        org_id: orgId,
        sync_id: s.syncNumber!,
        name: s.name,
        // DataInsider writes paths as it was given them: from the root, without a trailing slash.
        path: `/${s.path.replace(/\/$/, '')}`,
        sync_type: SYNC_TYPE[s.syncType],
        sync_status: s.syncStatus,
        start_time: ms(s.startTime),
        end_time: ms(s.endTime),
        total_files: s.totalFiles,
        num_failed: s.numFailed,
      })),
    );
  });

  r.on('history', async (req, res) => {
    const { org, bucket } = await caller(req, res, S.history.apiKey);
    const q = parseQuery(ListQuery, req);
    const orgId = (await orgNumber(deps, org)) ?? 0;
    const rows = await deps.db
      .select({ file: uploadFiles, syncNumber: uploadSyncs.syncNumber })
      .from(uploadFiles)
      .innerJoin(uploadSyncs, eq(uploadSyncs.id, uploadFiles.syncId))
      .where(and(eq(uploadFiles.bucketId, bucket.id), isNotNull(uploadSyncs.syncNumber)))
      .orderBy(asc(uploadFiles.historyNumber))
      .offset(q.from)
      .limit(q.size);
    res.json(
      rows.map(({ file: f, syncNumber }) => ({
        org_id: orgId,
        history_id: f.historyNumber,
        sync_id: syncNumber!,
        file_name: f.fileName,
        start_time: ms(f.startTime),
        end_time: ms(f.endTime),
        sync_status: f.syncStatus,
        message: f.message,
      })),
    );
  });

  return r.router();
}
