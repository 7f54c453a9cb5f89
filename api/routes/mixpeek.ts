/**
 * Mixpeek's bucket-sync routes, as its clients call them (a base URL and a
 * bearer token): a second surface over lakesync's sources, like
 * api/routes/datainsider.ts over upload syncs. Same rows, same controller
 * workflows and the same tenancy and scopes as /:bucket/sources/…; the answer
 * is Mixpeek's sync configuration (api/mixpeek-sync.ts), errors Mixpeek's
 * envelope (api/errors.ts). `bucket_id` is the bucket's name.
 */
import type { Router } from 'express';
import { asc, count, eq } from 'drizzle-orm';
import { z } from 'zod';
import { sources } from '../../db/schema.js';
import { callerOf } from '../auth.js';
import type { ApiDeps } from '../deps.js';
import { mixpeekSyncJson } from '../mixpeek-sync.js';
import { defineRoutes, routesOf } from '../route.js';
import { runningScan, runningScans } from '../running-scans.js';
import { pauseSource, resumeSource } from '../source-pause.js';
import { parseBody, parseQuery } from '../validate.js';
import { MixpeekSync, MixpeekSyncList } from '../contract/mixpeek.js';
import { findBucket, findSource } from './lookup.js';
import { PauseBody } from './source-schemas.js';

const ResumeBody = z.object({}).strict();
/** Mixpeek's list paging (limit, offset). */
const ListQuery = z
  .object({
    limit: z.coerce.number().int().min(1).max(1000).default(100),
    offset: z.coerce.number().int().min(0).max(1_000_000).default(0),
  })
  .strict();

export const MIXPEEK_ROUTES = defineRoutes({
  list: {
    method: 'get',
    route: '/v1/buckets/:bucket_id/syncs',
    summary: 'Mixpeek: the sync configurations (sources) of a bucket, by id (limit, offset)',
    scope: 'read',
    errors: 'mixpeek',
    query: ListQuery,
    responses: { 200: { body: MixpeekSyncList } },
  },
  get: {
    method: 'get',
    route: '/v1/buckets/:bucket_id/syncs/:sync_config_id',
    summary: 'Mixpeek: a sync configuration (a source)',
    scope: 'read',
    errors: 'mixpeek',
    responses: { 200: { body: MixpeekSync } },
  },
  pause: {
    method: 'post',
    route: '/v1/buckets/:bucket_id/syncs/:sync_config_id/pause',
    summary: 'Mixpeek: pause a sync configuration (optional reason); answers it, paused',
    scope: 'write',
    errors: 'mixpeek',
    body: PauseBody,
    responses: { 200: { body: MixpeekSync } },
  },
  resume: {
    method: 'post',
    route: '/v1/buckets/:bucket_id/syncs/:sync_config_id/resume',
    summary: 'Mixpeek: resume a paused or suspended sync configuration; answers it, resumed',
    scope: 'write',
    errors: 'mixpeek',
    body: ResumeBody,
    responses: { 200: { body: MixpeekSync } },
  },
});

export function mixpeekRoutes(deps: ApiDeps): Router {
  const r = routesOf(MIXPEEK_ROUTES);

  r.on('list', async (req, res) => {
    const q = parseQuery(ListQuery, req);
    const { org } = callerOf(res);
    const bucket = await findBucket(deps, req.params.bucket_id, org);
    const rows = await deps.db.select().from(sources).where(eq(sources.bucketId, bucket.id)).orderBy(asc(sources.id)).offset(q.offset).limit(q.limit);
    const [total] = await deps.db.select({ n: count() }).from(sources).where(eq(sources.bucketId, bucket.id));
    const scans = await runningScans(deps.db, rows);
    res.json({ syncs: rows.map((s) => mixpeekSyncJson(s, bucket.name, org, scans.get(s.id) ?? null)), total_count: total?.n ?? 0 });
  });

  r.on('get', async (req, res) => {
    const { org } = callerOf(res);
    const { bucket, source } = await findSource(deps, req.params.bucket_id, req.params.sync_config_id, org);
    res.json(mixpeekSyncJson(source, bucket.name, org, await runningScan(deps.db, source)));
  });

  r.on('pause', async (req, res) => {
    const body = parseBody(PauseBody, req);
    const { org, subject } = callerOf(res);
    const { bucket, source } = await findSource(deps, req.params.bucket_id, req.params.sync_config_id, org);
    const row = await pauseSource(deps, source, bucket.name, body.reason, subject);
    res.json(mixpeekSyncJson(row, bucket.name, org, await runningScan(deps.db, row)));
  });

  r.on('resume', async (req, res) => {
    parseBody(ResumeBody, req);
    const { org } = callerOf(res);
    const { bucket, source } = await findSource(deps, req.params.bucket_id, req.params.sync_config_id, org);
    const row = await resumeSource(deps, source, bucket.name);
    res.json(mixpeekSyncJson(row, bucket.name, org, await runningScan(deps.db, row)));
  });

  return r.router();
}
