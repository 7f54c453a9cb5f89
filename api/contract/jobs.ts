import { z } from 'zod';
import { JOB_STATUSES, OBJECT_STATUSES, RUN_STATUSES } from '../../domain/statuses.js';
import { Instant, PageFields } from './common.js';

/** A discovery or ingestion run with its counters (K3 IngestJob). */
export const Job = z
  .object({
    jobId: z.string(),
    bucket: z.string(),
    sourceId: z.string(),
    kind: z.enum(['discovery', 'ingestion']),
    trigger: z.enum(['schedule', 'api', 'direct_put', 'event']),
    status: z.enum(JOB_STATUSES),
    fullSync: z.boolean(),
    retryFailed: z.boolean(),
    dryRun: z.boolean(),
    sourceObjectId: z.string().nullable(),
    ruleId: z.string().nullable(),
    objectsListed: z.number().int(),
    pagesListed: z.number().int(),
    objectsNew: z.number().int(),
    objectsChanged: z.number().int(),
    objectsDeferred: z.number().int(),
    objectsDiscovered: z.number().int(),
    objectsProcessed: z.number().int(),
    objectsIndexed: z.number().int(),
    objectsFailed: z.number().int(),
    objectsSkipped: z.number().int(),
    objectsDeleted: z.number().int(),
    objectsRemoved: z.number().int(),
    bytesTransferred: z.number().int(),
    error: z.string().nullable(),
    workflowId: z.string().nullable(),
    runId: z.string().nullable(),
    createdAt: Instant,
    startedAt: Instant,
    finishedAt: Instant,
  })
  .meta({ id: 'Job' });
export type Job = z.infer<typeof Job>;

export const JobList = z.object({ jobs: z.array(Job), ...PageFields });

const failed = { sourceObjectId: z.string(), key: z.string(), attempts: z.number().int(), error: z.string().nullable() };

/** K3 GetIngestStatus: the job and the objects that failed in it, dead-lettered or failed in a pipeline. */
export const JobDetail = Job.extend({
  failedObjects: z.array(
    z.union([
      z.object({ ...failed, status: z.enum(OBJECT_STATUSES), stage: z.literal('ingest') }),
      z.object({ ...failed, status: z.enum(RUN_STATUSES), pipelineId: z.string(), pipelineName: z.string(), stage: z.literal('pipeline') }),
    ]),
  ),
}).meta({ id: 'JobDetail' });
export type JobDetail = z.infer<typeof JobDetail>;
