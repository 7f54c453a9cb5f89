/**
 * pgvector's side of the `hnsw` vector index, set up at start when the
 * database has (or lets us create) the `vector` extension. The drizzle
 * migrations know nothing of it, so they run on any Postgres.
 *
 * `embedding_chunks.embedding` (float32, little-endian) stays the one copy
 * both indexes score by. Beside it, `embedding_vectors` holds each chunk's
 * vector as pgvector's type (and its lake key, so a prefix filters inside
 * the index scan; chunks are never re-keyed, only replaced), written by triggers on `embedding_chunks` in
 * the writer's own transaction (so whichever process writes chunks, however
 * it was started, the vectors follow) and removed with its chunk by a
 * cascading foreign key (so deleting objects, rules or pipelines removes
 * them as it removes the chunks). Models differ in dimensions, so the column
 * is an unsized `vector` and each dimension gets a partial HNSW index over
 * `embedding::vector(n)` with cosine ops.
 */
import type { Sql, TransactionSql } from 'postgres';

/** pgvector's HNSW indexes `vector` columns of at most this many dimensions. */
export const HNSW_MAX_DIMENSIONS = 2000;
/** Iterative index scans (`hnsw.iterative_scan`), which filtered searches need, came with 0.8.0. */
const MIN_VERSION = [0, 8, 0] as const;

export type PgvectorSetup = { ok: true; version: string; dimensions: number[] } | { ok: false; reason: string };

/** The HNSW index of one dimension's vectors. */
export const hnswIndexName = (dims: number): string => `embedding_vectors_hnsw_${dims}`;

const atLeast = (version: string): boolean => {
  const parts = version.split('.').map((p) => Number.parseInt(p, 10) || 0);
  for (let i = 0; i < MIN_VERSION.length; i++) if ((parts[i] ?? 0) !== MIN_VERSION[i]) return (parts[i] ?? 0) > MIN_VERSION[i]!;
  return true;
};

async function extensionVersion(sql: Sql): Promise<string | undefined> {
  const [row] = await sql<{ extversion: string }[]>`select extversion from pg_extension where extname = 'vector'`;
  return row?.extversion;
}

/**
 * Creates the extension if it can, then (idempotently, one process at a
 * time) the side table, its triggers, the vectors of chunks written before,
 * and an HNSW index per dimension stored or named in `dimensions`.
 */
export async function preparePgvector(sql: Sql, dimensions: readonly number[]): Promise<PgvectorSetup> {
  let version = await extensionVersion(sql);
  if (version === undefined) {
    try {
      await sql`create extension if not exists vector`;
    } catch (err) {
      return { ok: false, reason: `the database has no vector extension and it cannot be created: ${(err as Error).message}` };
    }
    version = await extensionVersion(sql);
    if (version === undefined) return { ok: false, reason: 'create extension vector left no extension' };
  }
  if (!atLeast(version)) return { ok: false, reason: `pgvector ${version} is older than ${MIN_VERSION.join('.')} (no iterative index scans)` };
  const indexed = await sql.begin(async (tx) => {
    // Processes starting together set up one after the other.
    await tx`select pg_advisory_xact_lock(hashtext('lakesync:pgvector-setup'))`;
    await createSideTable(tx);
    const stored = await tx<{ dims: number }[]>`select distinct dims from embedding_vectors`;
    const wanted = [...new Set([...dimensions, ...stored.map((r) => r.dims)])].filter((d) => d >= 1 && d <= HNSW_MAX_DIMENSIONS).sort((a, b) => a - b);
    for (const d of wanted) {
      // Partial per dimension: an HNSW index needs a fixed dimension; `d` is an integer, so safe as text.
      await tx.unsafe(
        `create index if not exists ${hnswIndexName(d)} on embedding_vectors using hnsw ((embedding::vector(${d})) vector_cosine_ops) where dims = ${d}`,
      );
    }
    return wanted;
  });
  return { ok: true, version, dimensions: indexed };
}

async function createSideTable(tx: TransactionSql): Promise<void> {
  await tx`create table if not exists embedding_vectors (
    object_id text not null,
    pipeline_id text not null,
    seq integer not null,
    lake_key text collate "C" not null,
    dims integer not null,
    embedding vector not null,
    primary key (object_id, pipeline_id, seq),
    foreign key (object_id, pipeline_id, seq) references embedding_chunks (object_id, pipeline_id, seq) on delete cascade
  )`;
  // float32 little-endian bytes to a vector, bit for bit: sign, exponent and mantissa rebuilt as float8, which holds every float32 exactly.
  await tx`create or replace function lakesync_f32le_vector(b bytea) returns vector
    language sql immutable strict parallel safe as $$
      select array_agg(
        (case when s = 1 then -1 else 1 end) * (case when e = 0 then m * 2::float8 ^ -149 else (m + 8388608) * 2::float8 ^ (e - 150) end)
        order by i)::real[]::vector
      from (select i,
                   get_byte(b, 4 * i + 3) >> 7 as s,
                   ((get_byte(b, 4 * i + 3) & 127) << 1) | (get_byte(b, 4 * i + 2) >> 7) as e,
                   ((get_byte(b, 4 * i + 2) & 127) << 16) | (get_byte(b, 4 * i + 1) << 8) | get_byte(b, 4 * i) as m
            from generate_series(0, length(b) / 4 - 1) as i) f
    $$`;
  // Whether every float32 of the bytes is finite (exponent not all ones): pgvector refuses NaN and infinities,
  // and one such row (written before vectors were checked) must not fail the setup or a writer's transaction.
  await tx`create or replace function lakesync_f32le_finite(b bytea) returns boolean
    language sql immutable strict parallel safe as $$
      select not exists (
        select 1 from generate_series(0, length(b) / 4 - 1) as i
        where (get_byte(b, 4 * i + 3) & 127) = 127 and (get_byte(b, 4 * i + 2) >> 7) = 1)
    $$`;
  // One statement per insert or update of chunks (transition tables), however many rows it wrote.
  await tx`create or replace function lakesync_embedding_vectors_sync() returns trigger
    language plpgsql as $$
    begin
      insert into embedding_vectors (object_id, pipeline_id, seq, lake_key, dims, embedding)
      select object_id, pipeline_id, seq, lake_key, length(embedding) / 4, lakesync_f32le_vector(embedding) from written
      where length(embedding) >= 4 and lakesync_f32le_finite(embedding)
      on conflict (object_id, pipeline_id, seq) do update set lake_key = excluded.lake_key, dims = excluded.dims, embedding = excluded.embedding;
      return null;
    end $$`;
  await tx`create or replace trigger embedding_chunks_vectors_insert after insert on embedding_chunks
    referencing new table as written for each statement execute function lakesync_embedding_vectors_sync()`;
  await tx`create or replace trigger embedding_chunks_vectors_update after update on embedding_chunks
    referencing new table as written for each statement execute function lakesync_embedding_vectors_sync()`;
  // Chunks written before the extension was there (or while another Postgres served).
  await tx`insert into embedding_vectors (object_id, pipeline_id, seq, lake_key, dims, embedding)
    select c.object_id, c.pipeline_id, c.seq, c.lake_key, length(c.embedding) / 4, lakesync_f32le_vector(c.embedding)
    from embedding_chunks c
    where length(c.embedding) >= 4 and lakesync_f32le_finite(c.embedding)
      and not exists (select 1 from embedding_vectors v where v.object_id = c.object_id and v.pipeline_id = c.pipeline_id and v.seq = c.seq)`;
}
