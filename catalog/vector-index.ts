/**
 * The vector index registry: per index kind, how to find the chunks nearest a
 * query among what a bucket's embedding pipelines stored. The index is
 * chosen once at start (api/deps.ts) and reported by /healthz.
 */
import type { Sql, TransactionSql } from 'postgres';
import type { VectorIndexKind } from '../domain/embeddings/kinds.js';
import { contentTypeOf, mimeMatches } from '../domain/filters.js';
import { OBJECT_STATUS } from '../domain/statuses.js';
import { lit } from './status.js';

export interface VectorQuery {
  bucketId: string;
  /** The pipelines to search and the signature their current settings give: chunks made under another are not found. */
  pipelines: readonly { id: string; signature: string; vector: Float32Array }[];
  prefix: string;
  sourceIds: readonly string[] | null;
  mimeTypes: string[] | null;
  minScore: number;
  /** Objects ranked (one best chunk each) to skip and to return. */
  offset: number;
  limit: number;
}

export interface VectorHit {
  objectId: string;
  pipelineId: string;
  seq: number;
  key: string;
  sourceId: string;
  etag: string;
  /** Cosine similarity of the query and the object's best chunk. */
  score: number;
}

export interface VectorIndex {
  kind: VectorIndexKind;
  /** Objects by their best chunk's score, best first: only objects still in the lake with the content that was embedded. */
  nearest(sql: Sql | TransactionSql, q: VectorQuery): Promise<VectorHit[]>;
}

interface Candidate {
  object_id: string;
  pipeline_id: string;
  seq: number;
  lake_key: string;
  source_id: string;
  etag: string;
  embedding: Buffer;
}

/** Reads candidates this many rows at a time, so memory stays bounded however many chunks a bucket holds. */
const CURSOR_ROWS = 2000;

/** Every candidate chunk scored by dot product (vectors are stored at unit length). */
const exact: VectorIndex = {
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
      where c.bucket_id = ${q.bucketId} and starts_with(c.lake_key, ${q.prefix})
        and so.status not in (${lit(sql, OBJECT_STATUS.deleted, OBJECT_STATUS.filtered)}) and so.lake_key = c.lake_key and so.ingested_etag = c.etag
        and (${q.sourceIds as string[] | null}::text[] is null or so.source_id = any(${q.sourceIds as string[] | null}::text[]))`;
    for await (const batch of rows.cursor(CURSOR_ROWS)) {
      for (const c of batch) {
        if (q.mimeTypes && !mimeMatches(q.mimeTypes, contentTypeOf(c.lake_key))) continue;
        const score = dot(vectors.get(c.pipeline_id)!, c.embedding);
        const held = best.get(c.object_id);
        if (score < q.minScore || (held && held.score >= score)) continue;
        best.set(c.object_id, { objectId: c.object_id, pipelineId: c.pipeline_id, seq: c.seq, key: c.lake_key, sourceId: c.source_id, etag: c.etag, score });
      }
    }
    return [...best.values()].sort((a, b) => b.score - a.score || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)).slice(q.offset, q.offset + q.limit);
  },
};

function dot(query: Float32Array, stored: Buffer): number {
  // A view when the bytes sit at a float-aligned offset of their buffer, else a copy.
  const v =
    stored.byteOffset % 4 === 0
      ? new Float32Array(stored.buffer, stored.byteOffset, stored.byteLength >> 2)
      : new Float32Array(stored.buffer.slice(stored.byteOffset, stored.byteOffset + stored.byteLength));
  if (v.length !== query.length) return -Infinity;
  let s = 0;
  for (let d = 0; d < v.length; d++) s += query[d]! * v[d]!;
  return s;
}

export const VECTOR_INDEXES: { [K in VectorIndexKind]: VectorIndex } = { exact };

/** The index this process searches: exact scan, the one plain Postgres can do (a pgvector one would be chosen where the extension is). */
export function chooseVectorIndex(): VectorIndexKind {
  return 'exact';
}
