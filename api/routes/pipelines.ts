import { Router } from 'express';
import { and, asc, count, eq, gt, ne, sql } from 'drizzle-orm';
import { pipelines, rules } from '../../db/schema.js';
import { newId } from '../../domain/ids.js';
import { createPipelineConfig, patchPipelineConfig, type PipelineConfigChange } from '../../domain/pipeline-kinds.js';
import { callerOf } from '../auth.js';
import { backfillRule } from '../backfill.js';
import type { ApiDeps } from '../deps.js';
import { ApiError } from '../errors.js';
import { PaginationQuery, pageById } from '../pagination.js';
import { pipelineJson } from '../serialize.js';
import { parseBody, parseQuery } from '../validate.js';
import { findBucket } from './lookup.js';
import { CreatePipeline, UpdatePipeline } from './pipeline-schemas.js';

const nameTaken = (name: string, bucket: string) =>
  new ApiError('ALREADY_EXISTS', `name: a pipeline named ${name} already exists in bucket ${bucket}`, [
    { field: 'name', problem: 'is already taken in this bucket' },
  ]);

/** The kind's checks of settings sent: a literal IP or a name the egress policy refuses is turned away here; names that resolve to refused addresses fail when delivering. */
function checkConfig(deps: ApiDeps, change: PipelineConfigChange): void {
  const refused = change.check(deps.egress);
  if (refused) throw ApiError.invalid(refused.field, refused.problem);
}

export async function findPipeline(deps: ApiDeps, bucketId: string, pipelineId: string) {
  const [row] = await deps.db
    .select()
    .from(pipelines)
    .where(and(eq(pipelines.bucketId, bucketId), eq(pipelines.id, pipelineId)));
  if (!row) throw ApiError.notFound(`pipeline ${pipelineId}`);
  return row;
}

export function pipelineRoutes(deps: ApiDeps): Router {
  const r = Router();

  r.post('/:bucket/pipelines', async (req, res) => {
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
    if (!row) throw nameTaken(body.name, bucket.name);
    res.status(201).json(pipelineJson(row, bucket.name));
  });

  r.get('/:bucket/pipelines', async (req, res) => {
    const q = parseQuery(PaginationQuery, req);
    const bucket = await findBucket(deps, req.params.bucket, callerOf(res).org);
    const { page, ...rest } = await pageById(
      deps.pageTokens,
      `pipelines:${bucket.id}`,
      q,
      (after, limit) =>
        deps.db
          .select()
          .from(pipelines)
          .where(and(eq(pipelines.bucketId, bucket.id), after ? gt(pipelines.id, after) : undefined))
          .orderBy(asc(pipelines.id))
          .limit(limit),
      async () => (await deps.db.select({ n: count() }).from(pipelines).where(eq(pipelines.bucketId, bucket.id)))[0]?.n ?? 0,
    );
    res.json({ pipelines: page.map((p) => pipelineJson(p, bucket.name)), ...rest });
  });

  r.get('/:bucket/pipelines/:pipelineId', async (req, res) => {
    const bucket = await findBucket(deps, req.params.bucket, callerOf(res).org);
    res.json(pipelineJson(await findPipeline(deps, bucket.id, req.params.pipelineId), bucket.name));
  });

  r.patch('/:bucket/pipelines/:pipelineId', async (req, res) => {
    const body = parseBody(UpdatePipeline, req);
    const bucket = await findBucket(deps, req.params.bucket, callerOf(res).org);
    const current = await findPipeline(deps, bucket.id, req.params.pipelineId);
    const set: Partial<typeof pipelines.$inferInsert> = {};
    if (body.name !== undefined) {
      const [clash] = await deps.db
        .select({ id: pipelines.id })
        .from(pipelines)
        .where(and(eq(pipelines.bucketId, bucket.id), eq(pipelines.name, body.name), ne(pipelines.id, current.id)));
      if (clash) throw nameTaken(body.name, bucket.name);
      set.name = body.name;
    }
    if (body.enabled !== undefined) set.enabled = body.enabled;
    const change = patchPipelineConfig(current.config, body);
    if (change && 'wrongKind' in change) throw ApiError.invalid(change.wrongKind, `does not apply to a ${current.kind} pipeline`);
    if (change) {
      checkConfig(deps, change);
      set.config = change.config;
      if (change.secret) set.sealedSecret = deps.secrets.seal(change.secret);
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

  r.delete('/:bucket/pipelines/:pipelineId', async (req, res) => {
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

  return r;
}
