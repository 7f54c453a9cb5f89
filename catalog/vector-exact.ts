/**
 * The exact-scan vector index: every candidate chunk of the bucket's
 * embedding pipelines, filtered in SQL, is scored in this process. Works on
 * any Postgres.
 */
import type { Sql, TransactionSql } from 'postgres';
import { contentTypeOf, mimeMatches } from '../domain/filters.js';
import { OBJECT_STATUS } from '../domain/statuses.js';
import { lit } from './status.js';
import { byScore, dot, keepBest, type Candidate, type VectorHit, type VectorIndex, type VectorQuery } from './vector-query.js';

/** Reads candidates this many rows at a time, so memory stays bounded however many chunks a bucket holds. */
const CURSOR_ROWS = 2000;

/** The SQL filters both indexes apply to a chunk `c` of object `so`: live content of the bucket, under the prefix, from the sources asked for. */
export function liveChunkFilter(sql: Sql | TransactionSql, q: VectorQuery) {
  return sql`c.bucket_id = ${q.bucketId} and starts_with(c.lake_key, ${q.prefix})
    and so.status not in (${lit(sql, OBJECT_STATUS.deleted, OBJECT_STATUS.filtered)}) and so.lake_key = c.lake_key and so.ingested_etag = c.etag
    and (${q.sourceIds as string[] | null}::text[] is null or so.source_id = any(${q.sourceIds as string[] | null}::text[]))`;
}

/** Whether a key passes the filter SQL does not apply (its content type). */
export function passesMime(q: VectorQuery, lakeKey: string): boolean {
  return !q.mimeTypes || mimeMatches(q.mimeTypes, contentTypeOf(lakeKey));
}

export function hitOf(c: Candidate, score: number): VectorHit {
  return { objectId: c.object_id, pipelineId: c.pipeline_id, seq: c.seq, key: c.lake_key, sourceId: c.source_id, etag: c.etag, score };
}

/** Every candidate chunk scored by dot product (vectors are stored at unit length). */
export const exact: VectorIndex = {
  kind: 'exact',
  async nearest(sql, q) {
    const best = new Map<string, VectorHit>();
    const ids = q.pipelines.map((p) => p.id);
    const signatures = q.pipelines.map((p) => p.signature);
    const vectors = new Map(q.pipelines.map((p) => [p.id, p.vector]));
    const rows = sql<Candidate[]>`
      select c.object_id, c.pipeline_id, c.seq, c.lake_key, so.source_id, so.ingested_etag as etag, c.embedding
      from embedding_chunks c
      join unnest(${ids}::text[], ${signatures}::text[]) as p(id, signature) on p.id = c.pipeline_id and p.signature = c.signature
      join source_objects so on so.id = c.object_id
      where ${liveChunkFilter(sql, q)}`;
    for await (const batch of rows.cursor(CURSOR_ROWS)) {
      for (const c of batch) {
        if (!passesMime(q, c.lake_key)) continue;
        const score = dot(vectors.get(c.pipeline_id)!, c.embedding);
        if (score >= q.minScore) keepBest(best, hitOf(c, score));
      }
    }
    return [...best.values()].sort(byScore).slice(q.offset, q.offset + q.limit);
  },
};
