import { createHash } from 'node:crypto';
import type { Router } from 'express';
import type { Sql, TransactionSql } from 'postgres';
import { lit, OBJECT_STATUS } from '../../catalog/index.js';
import { callerOf } from '../auth.js';
import type { ApiDeps } from '../deps.js';
import { ApiError } from '../errors.js';
import { parseBody } from '../validate.js';
import { findBucket } from './lookup.js';
import { SearchBody } from './pipeline-schemas.js';
import { defineRoutes, routesOf } from '../route.js';
import { SearchResults, VectorSearchResults } from '../contract/search.js';
import { VectorSearchBody } from './vector-schemas.js';
import { vectorSearchHandler } from './vector-search.js';
import { SearchSlots } from '../search-slots.js';

export interface Hit {
  key: string;
  score: number;
  snippet: string;
  source_id: string;
  pipeline_id: string;
  etag: string;
}

// ts_headline marks matches with private-use characters, so the snippet can be HTML-escaped before <mark> goes in.
const START = '\uE000';
const STOP = '\uE001';
const escapeHtml = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const highlight = (s: string): string => escapeHtml(s).replaceAll(START, '<mark>').replaceAll(STOP, '</mark>');

export const SEARCH_ROUTES = defineRoutes({
  search: {
    method: 'post',
    route: '/:bucket/search',
    summary: 'Full-text search over fulltext pipelines: ranked keys with highlighted snippets',
    // A read that takes its query as a body.
    scope: 'read',
    body: SearchBody,
    responses: { 200: { body: SearchResults } },
  },
  vectorSearch: {
    method: 'post',
    route: '/:bucket/vector/search',
    summary: 'Vector search over embedding pipelines: objects by their chunk nearest the query (K3)',
    scope: 'read',
    body: VectorSearchBody,
    responses: { 200: { body: VectorSearchResults } },
  },
  vectorSearchAlias: {
    method: 'post',
    route: '/:bucket/search/vector',
    summary: 'Vector search (K3 compatibility alias of POST /:bucket/vector/search)',
    scope: 'read',
    body: VectorSearchBody,
    responses: { 200: { body: VectorSearchResults } },
  },
});

/**
 * POST /:bucket/search over what the bucket's fulltext pipelines indexed:
 * web-search syntax ("quoted phrases", -exclusions, or), ranked by cover
 * density, with highlighted snippets. Only objects still in the lake with the
 * content that was indexed are found.
 */
export function searchRoutes(deps: ApiDeps): Router {
  const r = routesOf(SEARCH_ROUTES);
  const { timeoutMs, concurrency } = deps.search ?? { timeoutMs: 5000, concurrency: 4 };
  const slots = new SearchSlots(concurrency, timeoutMs);
  const vector = vectorSearchHandler(deps, slots);
  r.on('vectorSearch', vector);
  r.on('vectorSearchAlias', vector);
  r.on('search', async (req, res) => {
    const org = callerOf(res).org;
    const body = parseBody(SearchBody, req);
    const bucket = await findBucket(deps, req.params.bucket, org);
    const sql = deps.db.$client;
    // A token is only good for the query it came from.
    const scope = `search:${bucket.id}:${createHash('sha256')
      .update(JSON.stringify([body.query, body.prefix, body.pipelineId ?? null]))
      .digest('base64url')}`;
    const offset = Number(deps.pageTokens.decode(scope, body.page_token) ?? 0);

    const indexes = await sql<{ id: string; language: string }[]>`
      select id, config->'fulltext'->>'language' as language from pipelines
      where bucket_id = ${bucket.id} and kind = 'fulltext' and enabled
        and (${body.pipelineId ?? null}::text is null or id = ${body.pipelineId ?? null})`;
    if (body.pipelineId && indexes.length === 0) throw ApiError.invalid('pipelineId', `is not an enabled fulltext pipeline of bucket ${bucket.name}`);
    if (indexes.length === 0) return void res.json({ query: body.query, results: [], nextPageToken: '' });

    const hits = await slots.run(org, res, () =>
      sql.begin(async (tx) => {
        // Local to this transaction: the pooled connection goes back without it.
        await tx`select set_config('statement_timeout', ${String(slots.timeoutMs)}, true)`;
        return search(tx, bucket.id, body.query, body.prefix, indexes, offset, body.page_size + 1);
      }),
    );
    const page = hits.slice(0, body.page_size);
    res.json({
      query: body.query,
      results: page.map((h) => ({
        key: h.key,
        score: Number(h.score.toFixed(6)),
        snippet: highlight(h.snippet),
        sourceId: h.source_id,
        pipelineId: h.pipeline_id,
        etag: `"${h.etag}"`,
      })),
      nextPageToken: hits.length > body.page_size ? deps.pageTokens.encode(scope, String(offset + body.page_size)) : '',
    });
  });
  return r.router();
}

/** One branch per text-search language, so each can use the GIN index with a constant query. */
export async function search(
  sql: Sql | TransactionSql,
  bucketId: string,
  query: string,
  prefix: string,
  indexes: { id: string; language: string }[],
  offset: number,
  limit: number,
): Promise<Hit[]> {
  const byLanguage = new Map<string, string[]>();
  for (const i of indexes) byLanguage.set(i.language, [...(byLanguage.get(i.language) ?? []), i.id]);
  const branches = [...byLanguage].map(
    ([language, ids]) => sql`
      select d.object_id, d.pipeline_id, d.lake_key, d.body, d.etag as doc_etag, q.tsq, ${language}::text as language,
        ts_rank_cd(d.tsv, q.tsq, 1) as score
      from (select websearch_to_tsquery(${language}::regconfig, ${query}) as tsq) q
      join fulltext_documents d on d.tsv @@ q.tsq
      where d.bucket_id = ${bucketId} and d.pipeline_id = any(${ids}) and starts_with(d.lake_key, ${prefix})`,
  );
  const union = branches.reduce((acc, b) => sql`${acc} union all ${b}`);
  return sql<Hit[]>`
    with matched as (${union}),
    best as (
      -- One hit per object (two fulltext pipelines may index it); deleted or since-changed objects are not found.
      select distinct on (m.object_id) m.*, so.source_id, so.ingested_etag as etag
      from matched m join source_objects so on so.id = m.object_id
      where so.status not in (${lit(sql, OBJECT_STATUS.deleted, OBJECT_STATUS.filtered)}) and so.lake_key = m.lake_key and m.doc_etag = so.ingested_etag
      order by m.object_id, m.score desc
    ),
    page as (select * from best order by score desc, lake_key limit ${limit} offset ${offset})
    select lake_key as key, score::float8 as score, source_id, pipeline_id, etag,
      ts_headline(language::regconfig, body, tsq, ${`StartSel=${START}, StopSel=${STOP}, MaxWords=30, MinWords=12, MaxFragments=2, FragmentDelimiter=" … "`}) as snippet
    from page order by score desc, lake_key`;
}
