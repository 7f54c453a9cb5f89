/**
 * The `hnsw` vector index: pgvector's HNSW (cosine) over `embedding_vectors`
 * (catalog/pgvector.ts) finds candidate chunks nearest first; the objects
 * found are then scored by the same dot product of the stored float32
 * vectors as the exact index, so where both find an object they give it the
 * same score and the same chunk.
 *
 * HNSW and WHERE: a plain HNSW scan stops after `hnsw.ef_search`
 * candidates, so a filter applied after it can leave fewer rows than asked
 * for. Here the index scan runs alone in a LIMITed subquery whose filters
 * are columns of the indexed table (pipeline — and so bucket and tenant —
 * and key prefix), with pgvector ≥ 0.8's iterative scan in `strict_order`:
 * it keeps going, nearest first, until LIMIT rows pass them (or
 * `hnsw.max_scan_tuples`, 20 000 by default, is reached). The remaining
 * filters (settings signature, live content, sources, MIME types, minScore)
 * are the exact index's, applied to those rows. Results are one per object,
 * so the search reads `max(4 × need, 200)` chunks (need = offset + limit
 * objects; ef_search twice that, at most 1000) and four times deeper until
 * it has seen `need` distinct objects in the first half of what it read
 * (HNSW's order is least exact at the end of its candidate list); nearest
 * first, an object not yet seen scores below every one seen. Each object seen is then scored by its best
 * chunk among all its chunks (HNSW is approximate: it may find an object by
 * a lesser chunk). Where the answer cannot be known that way, the pipeline is scanned exactly instead, so
 * the answer is the exact index's: the scan ended short of LIMIT (a small
 * or very selective candidate set, or max_scan_tuples), the depth cap was
 * reached, the ranking reached scores ≤ 0 (zero vectors, which cosine HNSW
 * leaves out, score 0), the query vector is zero, or the dimension has no
 * HNSW index (more than 2000, or new since start).
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
const EF_MIN = 200;
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
 * subquery (pipeline and prefix filtered on its own table, so the iterative
 * scan skips other pipelines' vectors and other keys); the other filters
 * are then evaluated on those rows, all of which come back, so the depth
 * reached is known.
 */
async function fromIndex(sql: Tx, q: VectorQuery, p: Pipeline, need: number): Promise<VectorHit[] | undefined> {
  const dims = p.vector.length;
  if (dims > HNSW_MAX_DIMENSIONS || p.vector.every((x) => x === 0)) return undefined;
  const [index] = await sql<{ present: boolean }[]>`select to_regclass(${hnswIndexName(dims)}) is not null as present`;
  if (!index?.present) return undefined;
  const d = sql.unsafe(String(dims));
  const literal = `[${Array.from(p.vector).join(',')}]`;
  for (let depth = Math.max(need * OVERFETCH, EF_MIN); depth <= MAX_DEPTH; depth *= OVERFETCH) {
    // HNSW is least exact at the end of its candidate list: ef_search twice the rows read, and only the first half of them trusted.
    await sql`select set_config('hnsw.iterative_scan', 'strict_order', true), set_config('hnsw.ef_search', ${String(Math.min(EF_MAX, 2 * depth))}, true)`;
    const rows = await sql<{ object_id: string; lake_key: string; distance: number; live: boolean }[]>`
      select v.object_id, v.lake_key, v.distance, (c.signature = ${p.signature} and ${liveChunkFilter(sql, q)}) as live
      from (
        select object_id, pipeline_id, seq, lake_key, embedding::vector(${d}) <=> ${literal}::vector(${d}) as distance
        from embedding_vectors
        where dims = ${d} and pipeline_id = ${p.id} and starts_with(lake_key, ${q.prefix})
        order by embedding::vector(${d}) <=> ${literal}::vector(${d})
        limit ${depth}
      ) v
      join embedding_chunks c on c.object_id = v.object_id and c.pipeline_id = v.pipeline_id and c.seq = v.seq
      join source_objects so on so.id = c.object_id
      order by v.distance`;
    // A scan that ended short of LIMIT returned all it found: nothing is at a cut-off.
    const trusted = rows.length < depth ? rows.length : Math.floor(rows.length / 2);
    const seen = new Set<string>();
    let seenTrusted = 0;
    let belowMinScore = false;
    for (const [i, r] of rows.entries()) {
      // Nearest first: once below minScore, so is everything after.
      if (1 - r.distance < q.minScore - EPSILON) {
        belowMinScore = i < trusted;
        break;
      }
      if (r.live && passesMime(q, r.lake_key)) seen.add(r.object_id);
      if (i < trusted) seenTrusted = seen.size;
    }
    const enough = seenTrusted >= need;
    if (!enough && !(belowMinScore && q.minScore > EPSILON)) {
      if (rows.length < depth) return undefined;
      continue;
    }
    const ranked = (await bestChunks(sql, q, p, d, literal, [...seen])).filter((h) => h.score >= q.minScore).sort(byScore);
    if (!enough) return ranked;
    const last = ranked[need - 1];
    return last && last.score > EPSILON ? ranked.slice(0, need) : undefined;
  }
  return undefined;
}

/**
 * Each object's best chunk, among all of its live chunks: HNSW may have
 * found an object by a lesser chunk and missed its best. Scored like the
 * exact index, by dot product of the stored float32 vectors.
 */
async function bestChunks(sql: Tx, q: VectorQuery, p: Pipeline, d: ReturnType<Tx['unsafe']>, literal: string, objectIds: string[]): Promise<VectorHit[]> {
  const rows = await sql<Candidate[]>`
    select distinct on (c.object_id) c.object_id, c.pipeline_id, c.seq, c.lake_key, so.source_id, so.ingested_etag as etag, c.embedding
    from embedding_vectors v
    join embedding_chunks c on c.object_id = v.object_id and c.pipeline_id = v.pipeline_id and c.seq = v.seq
    join source_objects so on so.id = c.object_id
    where v.object_id = any(${objectIds}::text[]) and v.pipeline_id = ${p.id} and v.dims = ${d}
      and c.signature = ${p.signature} and ${liveChunkFilter(sql, q)}
    order by c.object_id, v.embedding::vector(${d}) <=> ${literal}::vector(${d}), c.seq`;
  return rows.map((c) => hitOf(c, dot(p.vector, c.embedding)));
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
