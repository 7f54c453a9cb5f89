import type { Router } from 'express';
import { and, asc, count, eq, gt, sql } from 'drizzle-orm';
import { OBJECT_STATUS } from '../../catalog/index.js';
import { sourceObjects } from '../../db/schema.js';
import { callerOf } from '../auth.js';
import type { ApiDeps } from '../deps.js';
import { PaginationQuery, pageSize } from '../pagination.js';
import { defineRoutes, routesOf } from '../route.js';
import { parseQuery } from '../validate.js';
import { DeadLetterList } from '../contract/sources.js';
import { findSource } from './lookup.js';

const DeadLettersQuery = PaginationQuery.strict();

export const DEAD_LETTER_ROUTES = defineRoutes({
  list: {
    method: 'get',
    route: '/:bucket/sources/:sourceId/dead-letters',
    summary: 'Dead-lettered objects',
    scope: 'read',
    query: DeadLettersQuery,
    responses: { 200: { body: DeadLetterList } },
  },
});

/** Objects that failed every attempt, with their last error; `ingest` with `retryFailed` replays them. */
export function deadLetterRoutes(deps: ApiDeps): Router {
  const r = routesOf(DEAD_LETTER_ROUTES);
  r.on('list', async (req, res) => {
    const q = parseQuery(DeadLettersQuery, req);
    const { source } = await findSource(deps, req.params.bucket, req.params.sourceId, callerOf(res).org);
    const size = pageSize(q.page_size);
    const scope = `dead-letters:${source.id}`;
    const after = deps.pageTokens.decode(scope, q.page_token);
    const dead = and(eq(sourceObjects.sourceId, source.id), eq(sourceObjects.status, OBJECT_STATUS.dead));
    const rows = await deps.db
      .select()
      .from(sourceObjects)
      .where(and(dead, after ? gt(sourceObjects.key, sql`${after}::text collate "C"`) : undefined))
      .orderBy(asc(sourceObjects.key))
      .limit(size + 1);
    const [total] = await deps.db.select({ n: count() }).from(sourceObjects).where(dead);
    const page = rows.slice(0, size);
    res.json({
      deadLetters: page.map((o) => ({
        sourceObjectId: o.id,
        key: o.key,
        etag: o.etag,
        size: o.size,
        attempts: o.attempts,
        lastError: o.lastError,
        lastJobId: o.lastJobId,
        failedAt: o.updatedAt.toISOString(),
      })),
      nextPageToken: rows.length > size ? deps.pageTokens.encode(scope, page.at(-1)!.key) : '',
      totalCount: total?.n ?? 0,
    });
  });
  return r.router();
}
