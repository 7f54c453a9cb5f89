import type { Router } from 'express';
import { and, asc, count, desc, eq, sql } from 'drizzle-orm';
import { z } from 'zod';
import { text } from '../../domain/text.js';
import { JOB_STATUSES, OBJECT_STATUS, RUN_STATUS } from '../../catalog/index.js';
import { jobs, objectPipelineRuns, pipelines, sourceObjects } from '../../db/schema.js';
import { callerOf } from '../auth.js';
import type { ApiDeps } from '../deps.js';
import { ApiError } from '../errors.js';
import { PaginationQuery, pageSize } from '../pagination.js';
import { defineRoutes, routesOf } from '../route.js';
import { jobJson } from '../serialize.js';
import { JobDetail, JobList } from '../contract/jobs.js';
import { parseQuery } from '../validate.js';
import { findBucket } from './lookup.js';

export const JobsQuery = PaginationQuery.extend({
  source_id: text().max(64).optional(),
  kind: z.enum(['discovery', 'ingestion']).optional(),
  status: z.enum(JOB_STATUSES).optional(),
}).strict();

export const JOB_ROUTES = defineRoutes({
  list: { method: 'get', route: '/:bucket/jobs', summary: 'List jobs, newest first', scope: 'read', query: JobsQuery, responses: { 200: { body: JobList } } },
  get: {
    method: 'get',
    route: '/:bucket/jobs/:jobId',
    summary: 'Get a job with its failed objects',
    scope: 'read',
    responses: { 200: { body: JobDetail } },
  },
});

export function jobRoutes(deps: ApiDeps): Router {
  const r = routesOf(JOB_ROUTES);

  /** K3 ListIngestJobs: newest first. */
  r.on('list', async (req, res) => {
    const q = parseQuery(JobsQuery, req);
    const bucket = await findBucket(deps, req.params.bucket, callerOf(res).org);
    const size = pageSize(q.page_size);
    const scope = `jobs:${bucket.id}:${q.source_id ?? ''}:${q.kind ?? ''}:${q.status ?? ''}`;
    const after = deps.pageTokens.decode(scope, q.page_token);
    const filter = and(
      eq(jobs.bucketId, bucket.id),
      q.source_id ? eq(jobs.sourceId, q.source_id) : undefined,
      q.kind ? eq(jobs.kind, q.kind) : undefined,
      q.status ? eq(jobs.status, q.status) : undefined,
    );
    // Keyset on (createdAt, id): job ids are not time-ordered, creation times are.
    const cursor = after ? (JSON.parse(after) as [string, string]) : null;
    const rows = await deps.db
      .select()
      .from(jobs)
      .where(and(filter, cursor ? sql`(${jobs.createdAt}, ${jobs.id}) < (${cursor[0]}::timestamptz, ${cursor[1]})` : undefined))
      .orderBy(desc(jobs.createdAt), desc(jobs.id))
      .limit(size + 1);
    const [total] = await deps.db.select({ n: count() }).from(jobs).where(filter);
    const page = rows.slice(0, size);
    res.json({
      jobs: page.map((j) => jobJson(j, bucket.name)),
      nextPageToken: rows.length > size ? deps.pageTokens.encode(scope, JSON.stringify([page.at(-1)!.createdAt.toISOString(), page.at(-1)!.id])) : '',
      totalCount: total?.n ?? 0,
    });
  });

  /** K3 GetIngestStatus: counters, timings and the objects that failed. */
  r.on('get', async (req, res) => {
    const bucket = await findBucket(deps, req.params.bucket, callerOf(res).org);
    const [job] = await deps.db
      .select()
      .from(jobs)
      .where(and(eq(jobs.bucketId, bucket.id), eq(jobs.id, req.params.jobId)));
    if (!job) throw ApiError.notFound(`job ${req.params.jobId}`);
    const dead = await deps.db
      .select({
        sourceObjectId: sourceObjects.id,
        key: sourceObjects.key,
        attempts: sourceObjects.attempts,
        error: sourceObjects.lastError,
        status: sourceObjects.status,
      })
      .from(sourceObjects)
      .where(and(eq(sourceObjects.lastJobId, job.id), eq(sourceObjects.status, OBJECT_STATUS.dead)))
      .orderBy(asc(sourceObjects.key))
      .limit(1000);
    // Stored, but a pipeline failed on them: processed, not indexed.
    const unindexed = await deps.db
      .select({
        sourceObjectId: sourceObjects.id,
        key: sourceObjects.key,
        attempts: objectPipelineRuns.attempts,
        error: objectPipelineRuns.error,
        pipelineId: pipelines.id,
        pipelineName: pipelines.name,
      })
      .from(objectPipelineRuns)
      .innerJoin(sourceObjects, eq(sourceObjects.id, objectPipelineRuns.objectId))
      .innerJoin(pipelines, eq(pipelines.id, objectPipelineRuns.pipelineId))
      .where(and(eq(objectPipelineRuns.jobId, job.id), eq(objectPipelineRuns.status, RUN_STATUS.failed)))
      .orderBy(asc(sourceObjects.key), asc(pipelines.name))
      .limit(1000);
    res.json({
      ...jobJson(job, bucket.name),
      failedObjects: [
        ...dead.map((d) => ({ ...d, stage: 'ingest' as const })),
        ...unindexed.map((u) => ({ ...u, status: RUN_STATUS.failed, stage: 'pipeline' as const })),
      ],
    });
  });

  return r.router();
}
