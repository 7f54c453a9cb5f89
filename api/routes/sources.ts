import type { Router } from 'express';
import { and, eq, ne, sql } from 'drizzle-orm';
import { owePurge } from '../../catalog/index.js';
import { sources } from '../../db/schema.js';
import { newId } from '../../domain/ids.js';
import { createConnection, filtersProblem, type ConnectionChange } from '../../domain/source-kinds.js';
import { configChangedSignal, controllerWorkflowId, purgeWorkflowId, stopSignal, syncRunWorkflowId } from '../../workflows/shared.js';
import { startController, controllerStartOptions, startPurge } from '../controllers.js';
import { callerOf } from '../auth.js';
import type { ApiDeps } from '../deps.js';
import { ApiError } from '../errors.js';
import { PaginationQuery, pageOwnedBy } from '../pagination.js';
import { sourceJson } from '../serialize.js';
import { parseBody, parseQuery } from '../validate.js';
import { findBucket, findSource } from './lookup.js';
import { CreateSource, PauseBody, UpdateSource } from './source-schemas.js';
import { applyUpdate } from './source-update.js';
import { checkNotificationDestinations, notificationsChange } from '../source-notifications.js';
import { z } from 'zod';
import { defineRoutes, routesOf } from '../route.js';
import { Source, SourceList, SourcePurge } from '../contract/sources.js';
import { runningScan, runningScans } from '../running-scans.js';
import { pauseSource, resumeSource } from '../source-pause.js';

/**
 * The kind's checks of settings sent: a literal IP or a name the egress policy refuses is turned away here (names that
 * resolve to refused addresses fail when connecting), as is a directory outside the allowed roots.
 */
async function checkConnection(deps: ApiDeps, check: ConnectionChange['check']): Promise<void> {
  const refused = await check({
    urlProblem: (url) => deps.egress.urlProblem(url),
    sourceDirProblem: async (path) => {
      const checked = await deps.fsAccess.checkSourceDir(path);
      return 'problem' in checked ? checked.problem : null;
    },
  });
  if (refused) throw ApiError.invalid(refused.field, refused.problem);
}

export const DeleteQuery = z.object({ purge: z.enum(['true', 'false']).default('false') });
const ResumeBody = z.object({}).strict();

export const SOURCE_ROUTES = defineRoutes({
  create: {
    method: 'post',
    route: '/:bucket/sources',
    summary: 'Create a source and start its controller workflow',
    scope: 'write',
    body: CreateSource,
    responses: { 201: { body: Source } },
  },
  list: { method: 'get', route: '/:bucket/sources', summary: 'List sources', scope: 'read', query: PaginationQuery, responses: { 200: { body: SourceList } } },
  get: { method: 'get', route: '/:bucket/sources/:sourceId', summary: 'Get a source', scope: 'read', responses: { 200: { body: Source } } },
  update: {
    method: 'patch',
    route: '/:bucket/sources/:sourceId',
    summary: 'Update a source (optional-update semantics)',
    scope: 'write',
    body: UpdateSource,
    responses: { 200: { body: Source } },
  },
  pause: {
    method: 'post',
    route: '/:bucket/sources/:sourceId/pause',
    summary: 'Pause a source; answers the whole source, paused',
    scope: 'write',
    body: PauseBody,
    responses: { 200: { body: Source } },
  },
  resume: {
    method: 'post',
    route: '/:bucket/sources/:sourceId/resume',
    summary: 'Resume a paused or suspended source; answers the whole source, resumed',
    scope: 'write',
    body: ResumeBody,
    responses: { 200: { body: Source } },
  },
  delete: {
    method: 'delete',
    route: '/:bucket/sources/:sourceId',
    summary: 'Stop its workflows and delete a source; purge=true also removes its lake objects (202)',
    scope: 'write',
    query: DeleteQuery,
    responses: {
      202: { description: 'Deleted; its lake objects are being purged', body: SourcePurge },
      204: { description: 'Deleted; its lake objects stay' },
    },
  },
});

export function sourceRoutes(deps: ApiDeps): Router {
  const r = routesOf(SOURCE_ROUTES);

  r.on('create', async (req, res) => {
    const body = parseBody(CreateSource, req);
    const bucket = await findBucket(deps, req.params.bucket, callerOf(res).org);
    const refused = filtersProblem(body.kind, body.fileFilters);
    if (refused) throw ApiError.invalid(refused.field, refused.problem);
    const { connection, credentials, check } = createConnection(body.kind, body);
    const notifications = body.notifications ? notificationsChange({ kind: body.kind }, body.notifications, deps.secrets) : null;
    await checkConnection(deps, check);
    if (notifications) checkNotificationDestinations(deps.egress, notifications.destinations);
    const id = newId('src');
    const [row] = await deps.db
      .insert(sources)
      .values({
        id,
        bucketId: bucket.id,
        name: body.name,
        kind: body.kind,
        connection,
        sealedCredentials: credentials ? deps.secrets.seal(credentials) : null,
        syncMode: body.syncMode,
        syncIntervalSeconds: body.syncIntervalSeconds,
        batchSize: body.batchSize,
        targetPrefix: body.targetPrefix,
        maxObjectsPerRun: body.maxObjectsPerRun,
        shards: body.shards ?? null,
        skipDuplicates: body.skipDuplicates,
        filters: body.fileFilters,
        reconcile: body.reconcile,
        ...notifications?.set,
        suspendAfterFailures: body.suspendAfterFailures,
        createdBy: callerOf(res).subject,
        workflowId: controllerWorkflowId(id),
      })
      .onConflictDoNothing()
      .returning();
    if (!row) throw ApiError.nameTaken('source', body.name, bucket.name);
    try {
      await startController(deps, row, bucket.name);
    } catch (err) {
      // Nothing half-created: a source without its controller is rolled back.
      await deps.db.delete(sources).where(eq(sources.id, id));
      deps.log.error({ err, sourceId: id }, 'could not start source controller');
      throw ApiError.unavailable('temporal', 'could not start the source workflow');
    }
    res.status(201).json(sourceJson(row, bucket.name, null, notifications?.token));
  });

  r.on('list', async (req, res) => {
    const q = parseQuery(PaginationQuery, req);
    const bucket = await findBucket(deps, req.params.bucket, callerOf(res).org);
    const { page, ...rest } = await pageOwnedBy(deps, sources, sources.bucketId, bucket.id, 'sources', q);
    const scans = await runningScans(deps.db, page);
    res.json({ sources: page.map((s) => sourceJson(s, bucket.name, scans.get(s.id) ?? null)), ...rest });
  });

  r.on('get', async (req, res) => {
    const { bucket, source } = await findSource(deps, req.params.bucket, req.params.sourceId, callerOf(res).org);
    res.json(sourceJson(source, bucket.name, await runningScan(deps.db, source)));
  });

  r.on('update', async (req, res) => {
    const body = parseBody(UpdateSource, req);
    const { bucket, source } = await findSource(deps, req.params.bucket, req.params.sourceId, callerOf(res).org);
    const { set, connection, issuedToken, notificationDestinations } = applyUpdate(source, body, deps.secrets);
    if (connection) await checkConnection(deps, connection.check);
    checkNotificationDestinations(deps.egress, notificationDestinations);
    if (set.name !== undefined) {
      const [clash] = await deps.db
        .select({ id: sources.id })
        .from(sources)
        .where(and(eq(sources.bucketId, bucket.id), eq(sources.name, set.name), ne(sources.id, source.id)));
      if (clash) throw ApiError.nameTaken('source', set.name, bucket.name);
    }
    // Only onto the row this PATCH was checked against: a PATCH in between (new credentials for a new host, say) must not be half undone.
    const [row] = await deps.db
      .update(sources)
      .set({ ...set, updatedAt: sql`now()` })
      .where(and(eq(sources.id, source.id), eq(sources.updatedAt, source.updatedAt)))
      .returning();
    if (!row) throw new ApiError('FAILED_PRECONDITION', 'the source was changed by another request meanwhile; read it and send the PATCH again');
    // The controller re-reads settings on its next cycle; this wakes it to re-arm its timer now.
    await deps.temporal.workflow
      .signalWithStart('sourceController', { ...controllerStartOptions(deps, row, bucket.name), signal: configChangedSignal, signalArgs: [] })
      .catch((err) => deps.log.warn({ err, sourceId: source.id }, 'could not signal the controller; it will pick the change up on its next cycle'));
    res.json(sourceJson(row, bucket.name, await runningScan(deps.db, row), issuedToken));
  });

  // The controller mirrors its state into the row when it takes the signal; api/source-pause.ts writes the row too, so the answer shows the change.
  r.on('pause', async (req, res) => {
    const body = parseBody(PauseBody, req);
    const caller = callerOf(res);
    const { bucket, source } = await findSource(deps, req.params.bucket, req.params.sourceId, caller.org);
    const row = await pauseSource(deps, source, bucket.name, body.reason, caller.subject);
    res.json(sourceJson(row, bucket.name, await runningScan(deps.db, row)));
  });

  r.on('resume', async (req, res) => {
    parseBody(ResumeBody, req);
    const { bucket, source } = await findSource(deps, req.params.bucket, req.params.sourceId, callerOf(res).org);
    const row = await resumeSource(deps, source, bucket.name);
    res.json(sourceJson(row, bucket.name, await runningScan(deps.db, row)));
  });

  /** Deletes a source; its lake objects stay unless `purge=true`, which removes them durably in a workflow. */
  r.on('delete', async (req, res) => {
    const purge = parseQuery(DeleteQuery, req).purge === 'true';
    const { bucket, source } = await findSource(deps, req.params.bucket, req.params.sourceId, callerOf(res).org);
    const controller = deps.temporal.workflow.getHandle(source.workflowId);
    await controller.signal(stopSignal).catch(() => undefined);
    if (source.currentJobId)
      await deps.temporal.workflow
        .getHandle(syncRunWorkflowId(source.currentJobId))
        .cancel()
        .catch(() => undefined);
    // The purge list and the deletion are one transaction: either the source stays, or it is gone with its objects owed removal.
    const owed = await deps.db.transaction(async (tx) => {
      let n = 0;
      if (purge) {
        const prefix = source.targetPrefix === '' || source.targetPrefix.endsWith('/') ? source.targetPrefix : `${source.targetPrefix}/`;
        n = await owePurge(tx, { id: source.id, kind: source.kind, bucketId: bucket.id, bucketName: bucket.name, prefix });
      }
      await tx.delete(sources).where(eq(sources.id, source.id));
      return n;
    });
    if (!purge) return void res.status(204).end();
    // Should Temporal be unreachable now, the periodic controller check starts the purge later.
    // A sync run was cancelled with the source: give its in-flight copies time to stop (twice its heartbeat timeout).
    const workflowId = await startPurge(deps, source.id, source.currentJobId ? 40 : 0).catch((err) => {
      deps.log.warn({ err, sourceId: source.id }, 'lake purge not started yet');
      return purgeWorkflowId(source.id);
    });
    res.status(202).json({ sourceId: source.id, purge: { workflowId, objects: owed } });
  });

  return r.router();
}
