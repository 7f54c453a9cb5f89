import type { ServerResponse } from 'node:http';
import type { Response, Router } from 'express';
import { controllerWorkflowId, syncRunWorkflowId, uploadSyncWorkflowId } from '../workflows/shared.js';

/** The correlation fields workflows and activities log too, under the same names. */
export interface LogFields {
  bucket?: string;
  sourceId?: string;
  jobId?: string;
  syncId?: string;
  workflowId?: string;
}

/** This request's fields, added to its request log line (pino-http customProps). */
export function logFields(res: ServerResponse): LogFields {
  return (((res as Response).locals as { logFields?: LogFields }).logFields ??= {});
}

/** The workflow a route parameter names: its controller, its sync run, its upload sync. */
const WORKFLOW_OF: Partial<Record<keyof LogFields, (id: string) => string>> = {
  sourceId: controllerWorkflowId,
  jobId: syncRunWorkflowId,
  syncId: uploadSyncWorkflowId,
};

/** Route parameters and the field each is logged as (Mixpeek's routes name the bucket and source their way). */
const PARAMS: [string, keyof Omit<LogFields, 'workflowId'>][] = [
  ['bucket', 'bucket'],
  ['sourceId', 'sourceId'],
  ['jobId', 'jobId'],
  ['syncId', 'syncId'],
  ['bucket_id', 'bucket'],
  ['sync_config_id', 'sourceId'],
];

/**
 * Route parameters are known only inside the router that matched them, and
 * express puts the outer ones back when a handler passes an error on: record
 * them as they are matched instead.
 */
export function withLogFields(router: Router): Router {
  for (const [param, name] of PARAMS) {
    router.param(param, (_req, res, next, value: unknown) => {
      const fields = logFields(res);
      fields[name] = String(value);
      const workflowOf = WORKFLOW_OF[name];
      if (workflowOf) fields.workflowId = workflowOf(String(value));
      next();
    });
  }
  return router;
}
