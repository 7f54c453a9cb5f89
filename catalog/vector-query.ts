/** What a vector index is asked and answers (catalog/vector-index.ts holds the registry of indexes). */
import type { Sql, TransactionSql } from 'postgres';
import type { VectorIndexKind } from '../domain/embeddings/kinds.js';

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

/** A candidate chunk as both indexes read it: the stored float32 vector scores it, whichever index found it. */
export interface Candidate {
  object_id: string;
  pipeline_id: string;
  seq: number;
  lake_key: string;
  source_id: string;
  etag: string;
  embedding: Buffer;
}

/** Dot product of the query and a stored vector (both at unit length, so the cosine similarity); -Infinity when their dimensions differ. */
export function dot(query: Float32Array, stored: Buffer): number {
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

/** Best first; equal scores by key, so both indexes order ties alike. */
export function byScore(a: VectorHit, b: VectorHit): number {
  return b.score - a.score || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);
}

/**
 * Keeps each object's best chunk: `best` maps object id to its hit so far.
 * Equal scores (repeated text) go to the first chunk by pipeline and
 * position, so the chunk shown does not depend on the order rows were read.
 */
export function keepBest(best: Map<string, VectorHit>, hit: VectorHit): void {
  const held = best.get(hit.objectId);
  if (
    !held ||
    hit.score > held.score ||
    (hit.score === held.score && (hit.pipelineId < held.pipelineId || (hit.pipelineId === held.pipelineId && hit.seq < held.seq)))
  )
    best.set(hit.objectId, hit);
}
