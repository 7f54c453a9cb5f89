import { WithStartWorkflowOperation, WorkflowNotFoundError, type WorkflowStartOptions } from '@temporalio/client';
import { TypedSearchAttributes } from '@temporalio/common';
import { and, eq, inArray, isNull } from 'drizzle-orm';
import { OBJECT_STATUS, finishAbandonedJob, runningJobs, sourcesWithEvents } from '../catalog/index.js';
import { buckets, lakePurges, sourceObjects, sources, type SourceRow } from '../db/schema.js';
import { PUSHED_SOURCE_KINDS } from '../domain/kinds.js';
import { controllerWorkflowId, objectsArrivedSignal, objectsChangedSignal, purgeWorkflowId, searchAttributes, syncRunWorkflowId } from '../workflows/shared.js';
import type { sourceController } from '../workflows/source-controller.js';
import type { ApiDeps } from './deps.js';

/**
 * How a source's controller is started. Every call that talks to a controller
 * uses these options with "use existing", so a missing or terminated
 * controller is started again instead of failing (self-healing).
 */
export function controllerStartOptions(deps: Pick<ApiDeps, 'taskQueue'>, source: SourceRow, bucketName: string): WorkflowStartOptions<typeof sourceController> {
  return {
    workflowId: controllerWorkflowId(source.id),
    taskQueue: deps.taskQueue,
    args: [{ sourceId: source.id }],
    workflowIdConflictPolicy: 'USE_EXISTING',
    workflowIdReusePolicy: 'ALLOW_DUPLICATE',
    memo: { sourceName: source.name, bucket: bucketName },
    typedSearchAttributes: new TypedSearchAttributes([
      { key: searchAttributes.bucket, value: bucketName },
      { key: searchAttributes.sourceId, value: source.id },
      { key: searchAttributes.sourceKind, value: source.kind },
    ]),
    staticSummary: `source ${source.name} (${source.kind}) in bucket ${bucketName}`,
  };
}

export async function startController(deps: Pick<ApiDeps, 'taskQueue' | 'temporal'>, source: SourceRow, bucketName: string): Promise<void> {
  await deps.temporal.workflow.start('sourceController', controllerStartOptions(deps, source, bucketName));
}

export function withStart(deps: ApiDeps, source: SourceRow, bucketName: string) {
  return new WithStartWorkflowOperation(
    'sourceController',
    controllerStartOptions(deps, source, bucketName) as WorkflowStartOptions & { workflowIdConflictPolicy: 'USE_EXISTING' },
  );
}

/**
 * Self-healing: starts the controller of every source whose controller is not
 * running (failed, terminated by hand, lost). A running one is left alone.
 */
export async function healControllers(deps: Pick<ApiDeps, 'taskQueue' | 'temporal' | 'db' | 'log'>): Promise<void> {
  // First, so a controller started again below finds its source's last job ended.
  await finishClosedJobs(deps).catch((err) => deps.log.warn({ err }, 'could not check running jobs'));
  const rows = await deps.db.select({ source: sources, bucketName: buckets.name }).from(sources).innerJoin(buckets, eq(buckets.id, sources.bucketId));
  const owed = new Set(
    (
      await deps.db
        .selectDistinct({ id: sourceObjects.sourceId })
        .from(sourceObjects)
        .innerJoin(sources, eq(sources.id, sourceObjects.sourceId))
        .where(and(inArray(sources.kind, PUSHED_SOURCE_KINDS), eq(sourceObjects.status, OBJECT_STATUS.pending), isNull(sourceObjects.pendingJobId)))
    ).map((r) => r.id),
  );
  const withEvents = new Set(await sourcesWithEvents(deps.db.$client));
  for (const { source, bucketName } of rows) {
    try {
      // Change notifications still waiting (their wake-up was lost): a targeted run applies them.
      if (withEvents.has(source.id))
        await deps.temporal.workflow.signalWithStart('sourceController', {
          ...controllerStartOptions(deps, source, bucketName),
          signal: objectsChangedSignal,
          signalArgs: [],
        });
      // Pushed objects still waiting (their arrival signal was lost): wake the controller for them.
      if (owed.has(source.id))
        await deps.temporal.workflow.signalWithStart('sourceController', {
          ...controllerStartOptions(deps, source, bucketName),
          signal: objectsArrivedSignal,
          signalArgs: [],
        });
      await deps.temporal.workflow.start('sourceController', controllerStartOptions(deps, source, bucketName));
    } catch (err) {
      deps.log.warn({ err, sourceId: source.id }, 'could not ensure the source controller');
    }
  }
  // A purge whose workflow never started (or was lost) is started again; a running one is left alone.
  const purges = await deps.db.selectDistinct({ id: lakePurges.purgeId }).from(lakePurges);
  for (const { id } of purges) await startPurge(deps, id).catch((err) => deps.log.warn({ err, purgeId: id }, 'could not ensure the lake purge'));
}

/** How a job's workflow may have ended; running and paused ones are left alone. */
const CLOSED = new Set<string>(['COMPLETED', 'FAILED', 'CANCELLED', 'TERMINATED', 'CONTINUED_AS_NEW', 'TIMED_OUT', 'NOT_FOUND']);

/**
 * Clean job state: a job marked RUNNING whose workflow has closed is finished
 * as its controller would have finished it (`finishAbandonedJob`), with how
 * the workflow ended as the reason. Its controller does this itself when it
 * sees the end; this finds the jobs no controller saw end (terminated together
 * with their controller, or ended under a controller from before it did).
 */
export async function finishClosedJobs(deps: Pick<ApiDeps, 'temporal' | 'db' | 'log'>): Promise<void> {
  for (const job of await runningJobs(deps.db)) {
    try {
      const workflowId = job.workflowId ?? syncRunWorkflowId(job.jobId);
      // The latest run of the job's workflow: one that continued as new is still running.
      const state = await deps.temporal.workflow
        .getHandle(workflowId)
        .describe()
        .then(
          (d) => d.status.name,
          (err: unknown) => {
            if (err instanceof WorkflowNotFoundError) return 'NOT_FOUND' as const;
            throw err;
          },
        );
      if (!CLOSED.has(state)) continue;
      const reason = state === 'NOT_FOUND' ? 'job workflow not found' : `job workflow ${state.toLowerCase().replace(/_/g, ' ')} before it finished`;
      const ended = await finishAbandonedJob(deps.db, { jobId: job.jobId, sourceId: job.sourceId, reason, canceled: state === 'CANCELLED' });
      deps.log.warn(
        { jobId: job.jobId, sourceId: job.sourceId, workflowId, workflowStatus: state, status: ended.status },
        'finished a job whose workflow had closed',
      );
    } catch (err) {
      deps.log.warn({ err, jobId: job.jobId }, 'could not check a running job');
    }
  }
}

/** Starts (or finds running) the workflow that removes a deleted source's objects from the lake. */
export async function startPurge(deps: Pick<ApiDeps, 'taskQueue' | 'temporal'>, purgeId: string, settleSeconds = 0): Promise<string> {
  const workflowId = purgeWorkflowId(purgeId);
  await deps.temporal.workflow.start('purgeLake', {
    workflowId,
    taskQueue: deps.taskQueue,
    args: [{ purgeId, settleSeconds }],
    workflowIdConflictPolicy: 'USE_EXISTING',
    workflowIdReusePolicy: 'ALLOW_DUPLICATE',
    staticSummary: `remove the objects of deleted source ${purgeId} from the lake`,
  });
  return workflowId;
}
