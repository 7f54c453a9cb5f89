import { Router } from 'express';
import { and, asc, count, eq, gt, ne, sql } from 'drizzle-orm';
import { sources } from '../../db/schema.js';
import { newId } from '../../domain/ids.js';
import { isPushed } from '../../domain/kinds.js';
import { createConnection, type ConnectionChange } from '../../domain/source-kinds.js';
import {
  configChangedSignal,
  controllerWorkflowId,
  pauseSignal,
  purgeWorkflowId,
  resumeSignal,
  stopSignal,
  syncRunWorkflowId,
} from '../../workflows/shared.js';
import { startController, controllerStartOptions, startPurge } from '../controllers.js';
import { callerOf } from '../auth.js';
import type { ApiDeps } from '../deps.js';
import { ApiError } from '../errors.js';
import { PaginationQuery, pageById } from '../pagination.js';
import { sourceJson } from '../serialize.js';
import { parseBody, parseQuery } from '../validate.js';
import { findBucket, findSource } from './lookup.js';
import { CreateSource, PauseBody, UpdateSource } from './source-schemas.js';
import { applyUpdate } from './source-update.js';
import { z } from 'zod';

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

export function sourceRoutes(deps: ApiDeps): Router {
  const r = Router();

  r.post('/:bucket/sources', async (req, res) => {
    const body = parseBody(CreateSource, req);
    const bucket = await findBucket(deps, req.params.bucket, callerOf(res).org);
    const { connection, credentials, check } = createConnection(body.kind, body);
    await checkConnection(deps, check);
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
        skipDuplicates: body.skipDuplicates,
        filters: body.fileFilters,
        reconcile: body.reconcile,
        suspendAfterFailures: body.suspendAfterFailures,
        workflowId: controllerWorkflowId(id),
      })
      .onConflictDoNothing()
      .returning();
    if (!row)
      throw new ApiError('ALREADY_EXISTS', `name: a source named ${body.name} already exists in bucket ${bucket.name}`, [
        { field: 'name', problem: 'is already taken in this bucket' },
      ]);
    try {
      await startController(deps, row, bucket.name);
    } catch (err) {
      // Nothing half-created: a source without its controller is rolled back.
      await deps.db.delete(sources).where(eq(sources.id, id));
      deps.log.error({ err, sourceId: id }, 'could not start source controller');
      throw new ApiError('UNAVAILABLE', 'could not start the source workflow; Temporal is unavailable');
    }
    res.status(201).json(sourceJson(row, bucket.name));
  });

  r.get('/:bucket/sources', async (req, res) => {
    const q = parseQuery(PaginationQuery, req);
    const bucket = await findBucket(deps, req.params.bucket, callerOf(res).org);
    const { page, ...rest } = await pageById(
      deps.pageTokens,
      `sources:${bucket.id}`,
      q,
      (after, limit) =>
        deps.db
          .select()
          .from(sources)
          .where(and(eq(sources.bucketId, bucket.id), after ? gt(sources.id, after) : undefined))
          .orderBy(asc(sources.id))
          .limit(limit),
      async () => (await deps.db.select({ n: count() }).from(sources).where(eq(sources.bucketId, bucket.id)))[0]?.n ?? 0,
    );
    res.json({ sources: page.map((s) => sourceJson(s, bucket.name)), ...rest });
  });

  r.get('/:bucket/sources/:sourceId', async (req, res) => {
    const { bucket, source } = await findSource(deps, req.params.bucket, req.params.sourceId, callerOf(res).org);
    res.json(sourceJson(source, bucket.name));
  });

  r.patch('/:bucket/sources/:sourceId', async (req, res) => {
    const body = parseBody(UpdateSource, req);
    const { bucket, source } = await findSource(deps, req.params.bucket, req.params.sourceId, callerOf(res).org);
    const { set, connection } = applyUpdate(source, body, deps.secrets);
    if (connection) await checkConnection(deps, connection.check);
    if (set.name !== undefined) {
      const [clash] = await deps.db
        .select({ id: sources.id })
        .from(sources)
        .where(and(eq(sources.bucketId, bucket.id), eq(sources.name, set.name), ne(sources.id, source.id)));
      if (clash)
        throw new ApiError('ALREADY_EXISTS', `name: a source named ${set.name} already exists in bucket ${bucket.name}`, [
          { field: 'name', problem: 'is already taken in this bucket' },
        ]);
    }
    const [row] = await deps.db
      .update(sources)
      .set({ ...set, updatedAt: sql`now()` })
      .where(eq(sources.id, source.id))
      .returning();
    // The controller re-reads settings on its next cycle; this wakes it to re-arm its timer now.
    await deps.temporal.workflow
      .signalWithStart('sourceController', { ...controllerStartOptions(deps, row!, bucket.name), signal: configChangedSignal, signalArgs: [] })
      .catch((err) => deps.log.warn({ err, sourceId: source.id }, 'could not signal the controller; it will pick the change up on its next cycle'));
    res.json(sourceJson(row!, bucket.name));
  });

  r.post('/:bucket/sources/:sourceId/pause', async (req, res) => {
    const body = parseBody(PauseBody, req);
    const { bucket, source } = await findSource(deps, req.params.bucket, req.params.sourceId, callerOf(res).org);
    await deps.temporal.workflow.signalWithStart('sourceController', {
      ...controllerStartOptions(deps, source, bucket.name),
      signal: pauseSignal,
      signalArgs: [{ reason: body.reason }],
    });
    res.json({ sourceId: source.id, paused: true, status: 'SOURCE_STATUS_PAUSED' });
  });

  r.post('/:bucket/sources/:sourceId/resume', async (req, res) => {
    parseBody(z.object({}).strict(), req);
    const { bucket, source } = await findSource(deps, req.params.bucket, req.params.sourceId, callerOf(res).org);
    await deps.temporal.workflow.signalWithStart('sourceController', {
      ...controllerStartOptions(deps, source, bucket.name),
      signal: resumeSignal,
      signalArgs: [],
    });
    res.json({ sourceId: source.id, paused: false, status: 'SOURCE_STATUS_ACTIVE' });
  });

  /** Deletes a source; its lake objects stay unless `purge=true`, which removes them durably in a workflow. */
  r.delete('/:bucket/sources/:sourceId', async (req, res) => {
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
        // A key another source of the bucket also holds (skipDuplicates, or the same prefix) stays.
        // Objects still owed a copy are purged by the key they would land at: a batch cancelled with the
        // source may still be writing them.
        const prefix = source.targetPrefix === '' || source.targetPrefix.endsWith('/') ? source.targetPrefix : `${source.targetPrefix}/`;
        const rows = await tx.execute(sql`
          insert into lake_purges (purge_id, bucket_name, lake_key)
          select ${source.id}, ${bucket.name}, k.lake_key from (
            select coalesce(so.lake_key, ${prefix} || so.key) as lake_key from source_objects so
            where so.source_id = ${source.id} and (so.lake_key is not null or (so.status = 'pending' and ${!isPushed(source.kind)}::boolean))
          ) k
          where not exists (
            select 1 from source_objects o2 join sources s2 on s2.id = o2.source_id
            where s2.bucket_id = ${bucket.id} and o2.source_id <> ${source.id} and o2.lake_key = k.lake_key and o2.status <> 'deleted')
          on conflict do nothing`);
        n = rows.count;
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

  return r;
}
