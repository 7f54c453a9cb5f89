/**
 * The vector index registry: per index kind, how to find the chunks nearest a
 * query among what a bucket's embedding pipelines stored. The index is
 * chosen once at start (workers/app-runtime.ts) and reported by /healthz.
 */
import type { Sql } from 'postgres';
import type { VectorIndexKind } from '../domain/embeddings/kinds.js';
import { preparePgvector } from './pgvector.js';
import { exact } from './vector-exact.js';
import { hnsw } from './vector-hnsw.js';
import type { VectorIndex } from './vector-query.js';

export type { VectorHit } from './vector-query.js';

export const VECTOR_INDEXES: { [K in VectorIndexKind]: VectorIndex } = { exact, hnsw };

/** LAKESYNC_VECTOR_INDEX: `auto` takes `hnsw` where pgvector is (or can be installed), else `exact`; the others insist. */
export type VectorIndexSetting = 'auto' | VectorIndexKind;

/**
 * The index this process searches. `auto` and `hnsw` set pgvector up
 * (catalog/pgvector.ts) with an HNSW index for each of `dimensions` and
 * each stored; `hnsw` fails the start where that cannot be done.
 */
export async function chooseVectorIndex(
  sql: Sql,
  setting: VectorIndexSetting,
  dimensions: readonly number[],
  log: { info(o: object, m: string): void },
): Promise<VectorIndexKind> {
  if (setting === 'exact') return 'exact';
  // `auto` never fails the start over the index: whatever goes wrong setting pgvector up, the exact scan still works.
  const setup = await preparePgvector(sql, dimensions).catch((err: unknown) => ({
    ok: false as const,
    reason: `setting pgvector up failed: ${(err as Error).message}`,
  }));
  if (setup.ok) {
    log.info({ pgvector: setup.version, dimensions: setup.dimensions }, 'vector index: hnsw (pgvector)');
    return 'hnsw';
  }
  if (setting === 'hnsw') throw new Error(`LAKESYNC_VECTOR_INDEX=hnsw, but ${setup.reason}`);
  log.info({ reason: setup.reason }, 'vector index: exact scan');
  return 'exact';
}
