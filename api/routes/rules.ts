import { isDeepStrictEqual } from 'node:util';
import type { Router } from 'express';
import { and, eq, inArray, ne, sql } from 'drizzle-orm';
import { pipelines, rules, sources } from '../../db/schema.js';
import { newId } from '../../domain/ids.js';
import type { RuleMatch } from '../../domain/pipelines.js';
import { callerOf } from '../auth.js';
import { backfillRule, purgeUnrouted } from '../backfill.js';
import type { ApiDeps } from '../deps.js';
import { ApiError } from '../errors.js';
import { PaginationQuery, pageOwnedBy } from '../pagination.js';
import { ruleJson } from '../serialize.js';
import { parseBody, parseQuery } from '../validate.js';
import { findBucket } from './lookup.js';
import { CreateRule, UpdateRule } from './pipeline-schemas.js';
import { defineRoutes, routesOf } from '../route.js';
import { Empty } from '../contract/common.js';
import { Rule, RuleList, RuleWithBackfill } from '../contract/pipelines.js';

/** Every pipeline and source a rule names must be this bucket's: a 400 naming the first that is not. */
async function checkReferences(deps: ApiDeps, bucketId: string, pipelineIds: string[] | undefined, match: RuleMatch | undefined): Promise<void> {
  if (pipelineIds) {
    const known = new Set(
      (
        await deps.db
          .select({ id: pipelines.id })
          .from(pipelines)
          .where(and(eq(pipelines.bucketId, bucketId), inArray(pipelines.id, pipelineIds)))
      ).map((p) => p.id),
    );
    const i = pipelineIds.findIndex((p) => !known.has(p));
    if (i >= 0) throw ApiError.invalid(`pipelineIds.${i}`, `pipeline ${pipelineIds[i]} does not exist in this bucket`);
  }
  const sourceIds = match?.sourceIds;
  if (sourceIds?.length) {
    const known = new Set(
      (
        await deps.db
          .select({ id: sources.id })
          .from(sources)
          .where(and(eq(sources.bucketId, bucketId), inArray(sources.id, sourceIds)))
      ).map((s) => s.id),
    );
    const i = sourceIds.findIndex((s) => !known.has(s));
    if (i >= 0) throw ApiError.invalid(`match.sourceIds.${i}`, `source ${sourceIds[i]} does not exist in this bucket`);
  }
}

async function findRule(deps: ApiDeps, bucketId: string, ruleId: string) {
  const [row] = await deps.db
    .select()
    .from(rules)
    .where(and(eq(rules.bucketId, bucketId), eq(rules.id, ruleId)));
  if (!row) throw ApiError.notFound(`rule ${ruleId}`);
  return row;
}

export const RULE_ROUTES = defineRoutes({
  create: {
    method: 'post',
    route: '/:bucket/rules',
    summary: 'Create a rule; back-fills the stored objects it selects',
    scope: 'write',
    body: CreateRule,
    responses: { 201: { body: RuleWithBackfill } },
  },
  list: { method: 'get', route: '/:bucket/rules', summary: 'List rules', scope: 'read', query: PaginationQuery, responses: { 200: { body: RuleList } } },
  get: { method: 'get', route: '/:bucket/rules/:ruleId', summary: 'Get a rule', scope: 'read', responses: { 200: { body: Rule } } },
  update: {
    method: 'patch',
    route: '/:bucket/rules/:ruleId',
    summary: 'Update a rule; a changed selection is purged and back-filled',
    scope: 'write',
    body: UpdateRule,
    responses: { 200: { body: RuleWithBackfill } },
  },
  delete: {
    method: 'delete',
    route: '/:bucket/rules/:ruleId',
    summary: 'Delete a rule and what only its pipelines held',
    scope: 'write',
    responses: { 200: { body: Empty } },
  },
});

export function ruleRoutes(deps: ApiDeps): Router {
  const r = routesOf(RULE_ROUTES);

  /** Creating a rule back-fills: the bucket's stored objects it selects run through its pipelines. */
  r.on('create', async (req, res) => {
    const body = parseBody(CreateRule, req);
    const bucket = await findBucket(deps, req.params.bucket, callerOf(res).org);
    const pipelineIds = [...new Set(body.pipelineIds)];
    await checkReferences(deps, bucket.id, pipelineIds, body.match);
    const [row] = await deps.db
      .insert(rules)
      .values({ id: newId('rule'), bucketId: bucket.id, name: body.name, pipelineIds, match: body.match, enabled: body.enabled })
      .onConflictDoNothing()
      .returning();
    if (!row) throw ApiError.nameTaken('rule', body.name, bucket.name);
    const backfill = await backfillRule(deps, bucket, row);
    res.status(201).json({ ...ruleJson(row, bucket.name), backfill });
  });

  r.on('list', async (req, res) => {
    const q = parseQuery(PaginationQuery, req);
    const bucket = await findBucket(deps, req.params.bucket, callerOf(res).org);
    const { page, ...rest } = await pageOwnedBy(deps, rules, rules.bucketId, bucket.id, 'rules', q);
    res.json({ rules: page.map((x) => ruleJson(x, bucket.name)), ...rest });
  });

  r.on('get', async (req, res) => {
    const bucket = await findBucket(deps, req.params.bucket, callerOf(res).org);
    res.json(ruleJson(await findRule(deps, bucket.id, req.params.ruleId), bucket.name));
  });

  /** A changed selection starts afresh: what the rule's pipelines held for it is purged, then back-filled. */
  r.on('update', async (req, res) => {
    const body = parseBody(UpdateRule, req);
    const bucket = await findBucket(deps, req.params.bucket, callerOf(res).org);
    const current = await findRule(deps, bucket.id, req.params.ruleId);
    const pipelineIds = body.pipelineIds ? [...new Set(body.pipelineIds)] : undefined;
    await checkReferences(deps, bucket.id, pipelineIds, body.match);
    if (body.name !== undefined) {
      const [clash] = await deps.db
        .select({ id: rules.id })
        .from(rules)
        .where(and(eq(rules.bucketId, bucket.id), eq(rules.name, body.name), ne(rules.id, current.id)));
      if (clash) throw ApiError.nameTaken('rule', body.name, bucket.name);
    }
    const [row] = await deps.db
      .update(rules)
      .set({
        ...(body.name !== undefined ? { name: body.name } : {}),
        ...(pipelineIds ? { pipelineIds } : {}),
        ...(body.match ? { match: body.match } : {}),
        ...(body.enabled !== undefined ? { enabled: body.enabled } : {}),
        updatedAt: sql`now()`,
      })
      .where(eq(rules.id, current.id))
      .returning();
    const rule = row!;
    // jsonb reorders keys, so compare structurally (key order aside); pipelines are a set.
    const samePipelines =
      pipelineIds === undefined || (pipelineIds.length === current.pipelineIds.length && pipelineIds.every((p) => current.pipelineIds.includes(p)));
    const sameMatch = body.match === undefined || isDeepStrictEqual(body.match, current.match);
    const selectionChanged = !samePipelines || !sameMatch || rule.enabled !== current.enabled;
    let backfill: Awaited<ReturnType<typeof backfillRule>> | undefined;
    if (selectionChanged) {
      // The old selection's results go unless another rule still routes to those pipelines.
      await purgeUnrouted(deps, bucket.id, current.pipelineIds, current.id);
      backfill = await backfillRule(deps, bucket, rule);
    }
    res.json({ ...ruleJson(rule, bucket.name), ...(backfill ? { backfill } : {}) });
  });

  r.on('delete', async (req, res) => {
    const bucket = await findBucket(deps, req.params.bucket, callerOf(res).org);
    const current = await findRule(deps, bucket.id, req.params.ruleId);
    await deps.db.delete(rules).where(eq(rules.id, current.id));
    await purgeUnrouted(deps, bucket.id, current.pipelineIds);
    res.json({});
  });

  return r.router();
}
