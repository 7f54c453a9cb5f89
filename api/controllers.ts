import { WithStartWorkflowOperation, type WorkflowStartOptions } from '@temporalio/client';
import { TypedSearchAttributes } from '@temporalio/common';
import { and, eq, inArray, isNull } from 'drizzle-orm';
import { OBJECT_STATUS } from '../catalog/index.js';
import { buckets, lakePurges, sourceObjects, sources, type SourceRow } from '../db/schema.js';
import { PUSHED_SOURCE_KINDS } from '../domain/kinds.js';
import { controllerWorkflowId, objectsArrivedSignal, purgeWorkflowId, searchAttributes } from '../workflows/shared.js';
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
  for (const { source, bucketName } of rows) {
    try {
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
