import type { Router } from 'express';
import { and, eq } from 'drizzle-orm';
import { jobs, rules, sourceObjects } from '../../db/schema.js';
import type { ControllerStatus } from '../../domain/messages/workflows/v1.js';
import { discoverUpdate, ingestUpdate, statusQuery } from '../../workflows/shared.js';
import { isPushed } from '../../domain/kinds.js';
import { SOURCE_STATUS } from '../../domain/statuses.js';
import { withStart } from '../controllers.js';
import { callerOf } from '../auth.js';
import type { ApiDeps } from '../deps.js';
import { logFields } from '../log-fields.js';
import { ApiError } from '../errors.js';
import { millis } from '../serialize.js';
import { parseBody } from '../validate.js';
import { findSource } from './lookup.js';
import { DiscoverBody, IngestBody } from './source-schemas.js';
import { defineRoutes, routesOf } from '../route.js';
import { DiscoverResult, IngestResult, SyncStatus } from '../contract/sources.js';
import type { z } from 'zod';

/** The body may repeat the path's bucket and sourceId (as K3's examples do); they must agree. */
function checkEcho(body: { bucket?: string; sourceId?: string }, bucket: string, sourceId: string): void {
  if (body.bucket !== undefined && body.bucket !== bucket) throw ApiError.invalid('bucket', 'does not match the bucket in the path');
  if (body.sourceId !== undefined && body.sourceId !== sourceId) throw ApiError.invalid('sourceId', 'does not match the source in the path');
}

async function queryWithin<T>(promise: Promise<T>, ms: number): Promise<T | null> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), ms)));
  try {
    return await Promise.race([promise.catch(() => null), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export const SYNC_ROUTES = defineRoutes({
  discover: {
    method: 'post',
    route: '/:bucket/sources/:sourceId/discover',
    summary: 'TriggerDiscovery: delta or full scan, or a dry run',
    scope: 'write',
    body: DiscoverBody,
    responses: { 200: { body: DiscoverResult } },
  },
  ingest: {
    method: 'post',
    route: '/:bucket/sources/:sourceId/ingest',
    summary: 'TriggerIngestion: owed, failed or one object',
    scope: 'write',
    body: IngestBody,
    responses: { 200: { body: IngestResult } },
  },
  status: { method: 'get', route: '/:bucket/sources/:sourceId/sync', summary: 'GetSyncStatus', scope: 'read', responses: { 200: { body: SyncStatus } } },
});

/** What a trigger's request says beyond the source it names (the HTTP body; the gRPC request's other fields). */
type DiscoverOptions = Pick<z.infer<typeof DiscoverBody>, 'fullSync' | 'dryRun'>;
type IngestOptions = Pick<z.infer<typeof IngestBody>, 'retryFailed' | 'sourceObjectId' | 'ruleId'>;

/**
 * K3 TriggerDiscovery, as HTTP and gRPC serve it (api/grpc/ingest-service.ts):
 * each surface authenticates and validates its request, then calls this.
 */
export async function triggerDiscovery(
  deps: ApiDeps,
  org: string,
  bucketName: string,
  sourceId: string,
  o: DiscoverOptions,
): Promise<z.infer<typeof DiscoverResult>> {
  const { bucket, source } = await findSource(deps, bucketName, sourceId, org);
  if (isPushed(source.kind))
    throw new ApiError('FAILED_PRECONDITION', `sourceId: ${source.kind} sources are push-only; their objects are ingested as they arrive`, [
      { field: 'sourceId', problem: `is a push-only ${source.kind} source` },
    ]);
  return deps.temporal.workflow.executeUpdateWithStart(discoverUpdate, {
    args: [{ fullSync: o.fullSync, dryRun: o.dryRun }],
    startWorkflowOperation: withStart(deps, source, bucket.name),
  });
}

/** K3 TriggerIngestion, as HTTP and gRPC serve it. */
export async function triggerIngestion(
  deps: ApiDeps,
  org: string,
  bucketName: string,
  sourceId: string,
  o: IngestOptions,
): Promise<z.infer<typeof IngestResult>> {
  const { bucket, source } = await findSource(deps, bucketName, sourceId, org);
  if (o.ruleId) {
    const [rule] = await deps.db
      .select({ id: rules.id })
      .from(rules)
      .where(and(eq(rules.bucketId, bucket.id), eq(rules.id, o.ruleId)));
    if (!rule) throw ApiError.invalid('ruleId', `rule ${o.ruleId} does not exist in bucket ${bucket.name}`);
    if (o.retryFailed || o.sourceObjectId) throw ApiError.invalid('ruleId', 'cannot be combined with retryFailed or sourceObjectId');
  }
  if (o.sourceObjectId) {
    // An object of another source (or none) would dispatch nothing: say so, as a ruleId that is not there is refused.
    const [object] = await deps.db
      .select({ id: sourceObjects.id })
      .from(sourceObjects)
      .where(and(eq(sourceObjects.sourceId, source.id), eq(sourceObjects.id, o.sourceObjectId)));
    if (!object) throw ApiError.notFound(`source object ${o.sourceObjectId}`);
  }
  return deps.temporal.workflow.executeUpdateWithStart(ingestUpdate, {
    args: [{ retryFailed: o.retryFailed, sourceObjectId: o.sourceObjectId, ruleId: o.ruleId }],
    startWorkflowOperation: withStart(deps, source, bucket.name),
  });
}

/** K3 GetSyncStatus, as HTTP and gRPC serve it: live from the controller, falling back to the database when it can't answer. */
export async function syncStatus(deps: ApiDeps, org: string, bucketName: string, sourceId: string): Promise<SyncStatus> {
  const { bucket, source } = await findSource(deps, bucketName, sourceId, org);
  const live = await queryWithin<ControllerStatus>(deps.temporal.workflow.getHandle(source.workflowId).query(statusQuery), 3000);
  const currentJobId = live ? live.currentJobId : source.currentJobId;
  const jobId = currentJobId ?? source.lastJobId;
  const [job] = jobId ? await deps.db.select().from(jobs).where(eq(jobs.id, jobId)) : [];
  // The controller names the status itself (workflows/controller/logic.ts sourceStatus); controllers started before it did are mapped from their phase.
  const status = live
    ? (live.status ??
      (live.phase === 'suspended'
        ? SOURCE_STATUS.suspended
        : live.paused
          ? SOURCE_STATUS.paused
          : live.phase === 'completed'
            ? SOURCE_STATUS.completed
            : SOURCE_STATUS.active))
    : source.status;
  return {
    bucket: bucket.name,
    sourceId: source.id,
    status,
    lastSyncAt: millis(source.lastSyncAt),
    lastSuccessAt: millis(source.lastSuccessAt),
    nextSyncAt: live ? millis(live.nextSyncAt) : millis(source.nextSyncAt),
    objectsDiscovered: String(job?.objectsDiscovered ?? 0),
    objectsProcessed: String(job?.objectsProcessed ?? 0),
    objectsIndexed: String(job?.objectsIndexed ?? 0),
    objectsFailed: String(job?.objectsFailed ?? 0),
    currentJobId: currentJobId ?? undefined,
    lastJobId: source.lastJobId ?? undefined,
    queuedJobId: live?.queuedJobId ?? undefined,
    paused: live ? live.paused : source.paused,
    pauseReason: (live ? live.pauseReason : source.pauseReason) ?? undefined,
    consecutiveFailures: live ? live.consecutiveFailures : source.consecutiveFailures,
    lastError: source.lastError ?? undefined,
    live: live !== null,
  };
}

export function syncRoutes(deps: ApiDeps): Router {
  const r = routesOf(SYNC_ROUTES);

  r.on('discover', async (req, res) => {
    const body = parseBody(DiscoverBody, req);
    checkEcho(body, req.params.bucket, req.params.sourceId);
    const result = await triggerDiscovery(deps, callerOf(res).org, req.params.bucket, req.params.sourceId, body);
    logFields(res).jobId = result.jobId;
    res.json(result);
  });

  r.on('ingest', async (req, res) => {
    const body = parseBody(IngestBody, req);
    checkEcho(body, req.params.bucket, req.params.sourceId);
    const result = await triggerIngestion(deps, callerOf(res).org, req.params.bucket, req.params.sourceId, body);
    if (result.jobId) logFields(res).jobId = result.jobId;
    res.json(result);
  });

  r.on('status', async (req, res) => {
    res.json(await syncStatus(deps, callerOf(res).org, req.params.bucket, req.params.sourceId));
  });

  return r.router();
}
