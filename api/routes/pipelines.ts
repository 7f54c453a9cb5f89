import type { Router } from 'express';
import { z } from 'zod';
import { and, eq, ne, sql } from 'drizzle-orm';
import { pipelines, rules } from '../../db/schema.js';
import { newId } from '../../domain/ids.js';
import { createPipelineConfig, patchPipelineConfig, type PipelineConfig, type PipelineConfigChange } from '../../domain/pipeline-kinds.js';
import type { PipelineKind } from '../../domain/kinds.js';
import { callerOf } from '../auth.js';
import { backfillRule } from '../backfill.js';
import type { ApiDeps } from '../deps.js';
import { ApiError, fromZod } from '../errors.js';
import { PaginationQuery, pageOwnedBy } from '../pagination.js';
import { pipelineJson } from '../serialize.js';
import { parseBody, parseQuery } from '../validate.js';
import { findBucket } from './lookup.js';
import { CreatePipeline, UpdatePipeline } from './pipeline-schemas.js';
import { defineRoutes, routesOf } from '../route.js';
import { Empty } from '../contract/common.js';
import { Pipeline, PipelineList, PipelineWithBackfill } from '../contract/pipelines.js';

/** The kind's checks of settings sent: a literal IP or a name the egress policy refuses is turned away here; names that resolve to refused addresses fail when delivering. */
function checkConfig(deps: ApiDeps, change: PipelineConfigChange): void {
  const refused = change.check(deps.egress);
  if (refused) throw ApiError.invalid(refused.field, refused.problem);
}

/** The PATCH's settings merged into the current ones; merged settings a kind refuses are a 400 naming the field under the kind. */
function patchedConfig(current: PipelineConfig, kind: PipelineKind, body: Parameters<typeof patchPipelineConfig>[1]): ReturnType<typeof patchPipelineConfig> {
  try {
    return patchPipelineConfig(current, body);
  } catch (err) {
    if (err instanceof z.ZodError) throw fromZod(err, kind);
    throw err;
  }
}

export async function findPipeline(deps: ApiDeps, bucketId: string, pipelineId: string) {
  const [row] = await deps.db
    .select()
    .from(pipelines)
    .where(and(eq(pipelines.bucketId, bucketId), eq(pipelines.id, pipelineId)));
  if (!row) throw ApiError.notFound(`pipeline ${pipelineId}`);
  return row;
}

export const PIPELINE_ROUTES = defineRoutes({
  create: {
    method: 'post',
    route: '/:bucket/pipelines',
    summary: 'Create a pipeline (fulltext, webhook or embedding)',
    scope: 'write',
    body: CreatePipeline,
    responses: { 201: { body: Pipeline } },
  },
  list: {
    method: 'get',
    route: '/:bucket/pipelines',
    summary: 'List pipelines',
    scope: 'read',
    query: PaginationQuery,
    responses: { 200: { body: PipelineList } },
  },
  get: {
    method: 'get',
    route: '/:bucket/pipelines/:pipelineId',
    summary: 'Get a pipeline (never its secret)',
    scope: 'read',
    responses: { 200: { body: Pipeline } },
  },
  update: {
    method: 'patch',
    route: '/:bucket/pipelines/:pipelineId',
    summary: 'Update a pipeline; re-enabling or changing fulltext or embedding settings back-fills',
    scope: 'write',
    body: UpdatePipeline,
    responses: { 200: { body: PipelineWithBackfill } },
  },
  delete: {
    method: 'delete',
    route: '/:bucket/pipelines/:pipelineId',
    summary: 'Delete a pipeline no rule uses, with what it indexed',
    scope: 'write',
    responses: { 200: { body: Empty } },
  },
});

export function pipelineRoutes(deps: ApiDeps): Router {
  const r = routesOf(PIPELINE_ROUTES);

  r.on('create', async (req, res) => {
    const body = parseBody(CreatePipeline, req);
    const bucket = await findBucket(deps, req.params.bucket, callerOf(res).org);
    const change = createPipelineConfig(body.kind, body);
    checkConfig(deps, change);
    const { config } = change;
    const sealedSecret = change.secret === null ? null : deps.secrets.seal(change.secret);
    const [row] = await deps.db
      .insert(pipelines)
      .values({ id: newId('pipe'), bucketId: bucket.id, name: body.name, kind: body.kind, config, sealedSecret, enabled: body.enabled })
      .onConflictDoNothing()
      .returning();
    if (!row) throw ApiError.nameTaken('pipeline', body.name, bucket.name);
    res.status(201).json(pipelineJson(row, bucket.name));
  });

  r.on('list', async (req, res) => {
    const q = parseQuery(PaginationQuery, req);
    const bucket = await findBucket(deps, req.params.bucket, callerOf(res).org);
    const { page, ...rest } = await pageOwnedBy(deps, pipelines, pipelines.bucketId, bucket.id, 'pipelines', q);
    res.json({ pipelines: page.map((p) => pipelineJson(p, bucket.name)), ...rest });
  });

  r.on('get', async (req, res) => {
    const bucket = await findBucket(deps, req.params.bucket, callerOf(res).org);
    res.json(pipelineJson(await findPipeline(deps, bucket.id, req.params.pipelineId), bucket.name));
  });

  r.on('update', async (req, res) => {
    const body = parseBody(UpdatePipeline, req);
    const bucket = await findBucket(deps, req.params.bucket, callerOf(res).org);
    const current = await findPipeline(deps, bucket.id, req.params.pipelineId);
    const set: Partial<typeof pipelines.$inferInsert> = {};
    if (body.name !== undefined) {
      const [clash] = await deps.db
        .select({ id: pipelines.id })
        .from(pipelines)
        .where(and(eq(pipelines.bucketId, bucket.id), eq(pipelines.name, body.name), ne(pipelines.id, current.id)));
      if (clash) throw ApiError.nameTaken('pipeline', body.name, bucket.name);
      set.name = body.name;
    }
    if (body.enabled !== undefined) set.enabled = body.enabled;
    const change = patchedConfig(current.config, current.kind, body);
    if (change && 'wrongKind' in change) throw ApiError.invalid(change.wrongKind, `does not apply to a ${current.kind} pipeline`);
    if (change) {
      checkConfig(deps, change);
      set.config = change.config;
      if (change.secret) set.sealedSecret = deps.secrets.seal(change.secret);
      else if (change.dropSecret) set.sealedSecret = null;
    }
    const [row] = await deps.db
      .update(pipelines)
      .set({ ...set, updatedAt: sql`now()` })
      .where(eq(pipelines.id, current.id))
      .returning();
    // Switched back on, or a setting its results depend on changed (fulltext's extraction): the objects its rules select run through it again.
    const rerun = (body.enabled === true && !current.enabled) || (change?.reruns ?? false);
    const backfill = [];
    if (rerun && row!.enabled) {
      const using = (
        await deps.db
          .select()
          .from(rules)
          .where(and(eq(rules.bucketId, bucket.id), eq(rules.enabled, true)))
      ).filter((rule) => rule.pipelineIds.includes(current.id));
      for (const rule of using) backfill.push(...(await backfillRule(deps, bucket, rule)));
    }
    res.json({ ...pipelineJson(row!, bucket.name), ...(rerun ? { backfill } : {}) });
  });

  r.on('delete', async (req, res) => {
    const bucket = await findBucket(deps, req.params.bucket, callerOf(res).org);
    const current = await findPipeline(deps, bucket.id, req.params.pipelineId);
    const users = (await deps.db.select({ id: rules.id, ids: rules.pipelineIds }).from(rules).where(eq(rules.bucketId, bucket.id))).filter((rule) =>
      rule.ids.includes(current.id),
    );
    if (users.length > 0) {
      throw new ApiError(
        'FAILED_PRECONDITION',
        `pipelineId: pipeline ${current.id} is used by rule(s) ${users.map((u) => u.id).join(', ')}; remove it from them first`,
        [{ field: 'pipelineId', problem: 'is used by rules' }],
      );
    }
    // Its per-object state and indexed text go with it (foreign keys cascade).
    await deps.db.delete(pipelines).where(eq(pipelines.id, current.id));
    res.json({});
  });

  return r.router();
}
