import type { Router } from 'express';
import { and, asc, count, eq, gt, gte, lt, sql } from 'drizzle-orm';
import { z } from 'zod';
import { text } from '../../domain/text.js';
import { SOURCE_OBJECT_STATUS, SOURCE_OBJECT_STATUSES, objectStatusNamed } from '../../domain/statuses.js';
import { sourceObjects } from '../../db/schema.js';
import { callerOf } from '../auth.js';
import type { ApiDeps } from '../deps.js';
import { PaginationQuery, pageSize } from '../pagination.js';
import { defineRoutes, routesOf } from '../route.js';
import { parseQuery } from '../validate.js';
import { SourceObjectList } from '../contract/sources.js';
import { findSource } from './lookup.js';

export const SourceObjectsQuery = PaginationQuery.extend({
  status: z.enum(SOURCE_OBJECT_STATUSES).optional(),
  prefix: text().max(1024).default(''),
}).strict();

/** Counting stops here: past it `totalCount` is -1 (K3's "too costly to count"), so a page of a huge source costs a page, not a count of millions. */
export const OBJECT_COUNT_LIMIT = 10_000;

export const SOURCE_OBJECT_ROUTES = defineRoutes({
  list: {
    method: 'get',
    route: '/:bucket/sources/:sourceId/objects',
    summary: "A source's objects in key order, with their sourceObjectId (status, prefix)",
    scope: 'read',
    query: SourceObjectsQuery,
    responses: { 200: { body: SourceObjectList } },
  },
});

/**
 * The end of the key range `[prefix, end)` that holds exactly the keys
 * starting with `prefix`, in code point order (as `collate "C"` compares UTF-8
 * keys): the prefix with its last code point below U+10FFFF raised by one and
 * what follows dropped (no key between `p·U+10FFFF` and `p+1` can miss the
 * prefix); null when the range is open. A range, not `like`, so the index scan
 * stops where the prefix's keys end.
 */
export function prefixEnd(prefix: string): string | null {
  const points = [...prefix].map((c) => c.codePointAt(0)!);
  while (points.at(-1) === 0x10ffff) points.pop();
  const last = points.pop();
  if (last === undefined) return null;
  // Surrogate code points are not characters; the next one after U+D7FF is U+E000.
  return String.fromCodePoint(...points, last + 1 === 0xd800 ? 0xe000 : last + 1);
}

/**
 * K3's missing list: a source's catalogued objects, so a `sourceObjectId` for
 * a targeted ingestion can be found over HTTP. Keyset pages in key order on
 * the (source_id, key) and (source_id, status, key) indexes.
 */
export function sourceObjectRoutes(deps: ApiDeps): Router {
  const r = routesOf(SOURCE_OBJECT_ROUTES);
  r.on('list', async (req, res) => {
    const q = parseQuery(SourceObjectsQuery, req);
    const { source } = await findSource(deps, req.params.bucket, req.params.sourceId, callerOf(res).org);
    const size = pageSize(q.page_size);
    // The filters are part of the token's scope: a cursor cannot be carried over to another listing.
    const scope = `source-objects:${source.id}:${q.status ?? ''}:${q.prefix}`;
    const after = deps.pageTokens.decode(scope, q.page_token);
    const c = (s: string) => sql`${s}::text collate "C"`;
    const end = prefixEnd(q.prefix);
    const filter = and(
      eq(sourceObjects.sourceId, source.id),
      q.status ? eq(sourceObjects.status, objectStatusNamed(q.status)) : undefined,
      q.prefix ? gte(sourceObjects.key, c(q.prefix)) : undefined,
      end !== null ? lt(sourceObjects.key, c(end)) : undefined,
    );
    const rows = await deps.db
      .select()
      .from(sourceObjects)
      .where(and(filter, after !== null ? gt(sourceObjects.key, c(after)) : undefined))
      .orderBy(asc(sourceObjects.key))
      .limit(size + 1);
    const counted = deps.db
      .select({ one: sql`1` })
      .from(sourceObjects)
      .where(filter)
      .limit(OBJECT_COUNT_LIMIT + 1)
      .as('counted');
    const [total] = await deps.db.select({ n: count() }).from(counted);
    const n = total?.n ?? 0;
    const page = rows.slice(0, size);
    res.json({
      objects: page.map((o) => ({
        sourceObjectId: o.id,
        key: o.key,
        etag: o.etag,
        size: o.size,
        status: SOURCE_OBJECT_STATUS[o.status],
        attempts: o.attempts,
        lastError: o.lastError,
        lakeKey: o.lakeKey,
        lastJobId: o.lastJobId,
        updatedAt: o.updatedAt.toISOString(),
      })),
      nextPageToken: rows.length > size ? deps.pageTokens.encode(scope, page.at(-1)!.key) : '',
      totalCount: n > OBJECT_COUNT_LIMIT ? -1 : n,
    });
  });
  return r.router();
}
