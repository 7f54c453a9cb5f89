/**
 * The `hnsw` vector index: pgvector's HNSW (cosine) over `embedding_vectors`
 * (catalog/pgvector.ts) finds candidate chunks nearest first; each is then
 * scored by the same dot product of the stored float32 vector as the exact
 * index, so where both find an object they give it the same score.
 *
 * HNSW and WHERE: filters (bucket, pipeline and settings, prefix, sources,
 * live content) are the exact index's SQL, applied as the index scan
 * produces rows. pgvector ≥ 0.8's iterative scan in `strict_order` keeps
 * the scan going, nearest first, until LIMIT rows pass the filters (or
 * `hnsw.max_scan_tuples` is reached), instead of stopping after
 * `hnsw.ef_search` candidates as a plain HNSW scan does. Results are one
 * per object, so the search reads `need × 4` chunks (need = offset + limit
 * objects) and reads four times deeper until it has seen `need` distinct
 * objects: in distance order, an object first seen has its best chunk, and
 * an object not yet seen scores below every one seen. Where that cannot be
 * known, the pipeline is scanned exactly instead, so the answer is the
 * exact index's: the scan ended short of LIMIT (a small or very selective
 * candidate set, or max_scan_tuples), the depth cap was reached, the
 * ranking reached scores ≤ 0 (zero vectors, which cosine HNSW leaves out,
 * score 0), the query vector is zero, or the dimension has no HNSW index.
 */
import type { Sql, TransactionSql } from 'postgres';
import { HNSW_MAX_DIMENSIONS, hnswIndexName } from './pgvector.js';
import { exact, hitOf, liveChunkFilter, passesMime } from './vector-exact.js';
import { byScore, dot, keepBest, type Candidate, type VectorHit, type VectorIndex, type VectorQuery } from './vector-query.js';

/** Chunks read per object still wanted, at first. */
const OVERFETCH = 4;
/** The deepest read before the pipeline is scanned exactly instead. */
const MAX_DEPTH = 20_000;
/** pgvector's ef_search bounds. */
const EF_MIN = 100;
const EF_MAX = 1000;
/** pgvector computes distances in float32; our scores are float64 sums of float32 products. */
const EPSILON = 1e-5;

type Pipeline = VectorQuery['pipelines'][number];
type Tx = Sql | TransactionSql;

/** `set local` needs a transaction: the API searches in one; a caller outside one (the benchmark) gets its own. */
function inTransaction<T>(sql: Tx, fn: (tx: Tx) => Promise<T>): Promise<T> {
  return 'savepoint' in sql ? fn(sql) : ((sql as Sql).begin((tx) => fn(tx)) as Promise<T>);
}

/**
 * The pipeline's best `need` objects from the HNSW index, or undefined where
 * the exact scan must answer. The index scan runs alone in a LIMITed
 * subquery (its pipeline filter on its own table, so the iterative scan
 * skips other pipelines' vectors); the other filters are then evaluated on
 * those rows only, and every row comes back so the depth reached is known.
 */
async function fromIndex(sql: Tx, q: VectorQuery, p: Pipeline, need: number): Promise<VectorHit[] | undefined> {
  const dims = p.vector.length;
  if (dims > HNSW_MAX_DIMENSIONS || p.vector.every((x) => x === 0)) return undefined;
  const [index] = await sql<{ present: boolean }[]>`select to_regclass(${hnswIndexName(dims)}) is not null as present`;
  if (!index?.present) return undefined;
  const d = sql.unsafe(String(dims));
  const literal = `[${Array.from(p.vector).join(',')}]`;
  for (let depth = Math.max(need * OVERFETCH, EF_MIN); depth <= MAX_DEPTH; depth *= OVERFETCH) {
    await sql`select set_config('hnsw.iterative_scan', 'strict_order', true), set_config('hnsw.ef_search', ${String(Math.min(EF_MAX, depth))}, true)`;
    const rows = await sql<(Omit<Candidate, 'embedding'> & { distance: number; embedding: Buffer | null })[]>`
      select v.object_id, v.pipeline_id, v.seq, v.distance, c.lake_key, so.source_id, so.ingested_etag as etag,
        case when c.signature = ${p.signature} and ${liveChunkFilter(sql, q)} then c.embedding end as embedding
      from (
        select object_id, pipeline_id, seq, embedding::vector(${d}) <=> ${literal}::vector(${d}) as distance
        from embedding_vectors
        where dims = ${d} and pipeline_id = ${p.id}
        order by embedding::vector(${d}) <=> ${literal}::vector(${d})
        limit ${depth}
      ) v
      join embedding_chunks c on c.object_id = v.object_id and c.pipeline_id = v.pipeline_id and c.seq = v.seq
      join source_objects so on so.id = c.object_id
      order by v.distance`;
    const best = new Map<string, VectorHit>();
    let belowMinScore = false;
    for (const c of rows) {
      // Nearest first: once below minScore, so is everything after.
      if (1 - c.distance < q.minScore - EPSILON) {
        belowMinScore = true;
        break;
      }
      if (!c.embedding) continue;
      const candidate = { ...c, embedding: c.embedding };
      const score = dot(p.vector, candidate.embedding);
      if (passesMime(q, candidate) && score >= q.minScore) keepBest(best, hitOf(candidate, score));
    }
    const ranked = [...best.values()].sort(byScore);
    const last = ranked[need - 1];
    if (last) return last.score > EPSILON ? ranked.slice(0, need) : undefined;
    if (belowMinScore && q.minScore > EPSILON) return ranked;
    if (rows.length < depth) return undefined;
  }
  return undefined;
}

export const hnsw: VectorIndex = {
  kind: 'hnsw',
  nearest(sql, q) {
    const need = q.offset + q.limit;
    return inTransaction(sql, async (tx) => {
      const best = new Map<string, VectorHit>();
      for (const p of q.pipelines) {
        const hits = (await fromIndex(tx, q, p, need)) ?? (await exact.nearest(tx, { ...q, pipelines: [p], offset: 0, limit: need }));
        for (const h of hits) keepBest(best, h);
      }
      return [...best.values()].sort(byScore).slice(q.offset, q.offset + q.limit);
    });
  },
};
