import type { ISql, Sql } from 'postgres';

export interface EmbeddedChunk {
  text: string;
  start: number;
  end: number;
  vector: Float32Array;
}

interface ChunkOwner {
  objectId: string;
  pipelineId: string;
  bucketId: string;
  lakeKey: string;
  etag: string;
  signature: string;
}

/** Whether the object's chunks for the pipeline were made from this content, at this key, under these settings. */
export async function alreadyEmbedded(sql: ISql, o: ChunkOwner): Promise<boolean> {
  const [row] = await sql<{ current: boolean }[]>`
    select bool_and(etag = ${o.etag} and signature = ${o.signature} and lake_key = ${o.lakeKey} and bucket_id = ${o.bucketId}) as current
    from embedding_chunks where object_id = ${o.objectId} and pipeline_id = ${o.pipelineId}`;
  return row?.current === true;
}

/**
 * Replaces the object's chunks for the pipeline in one transaction: a retried
 * or crashed run leaves either the old set or the new one, never a mix or a
 * duplicate.
 */
export async function replaceEmbeddingChunks(sql: Sql, o: ChunkOwner, chunks: readonly EmbeddedChunk[]): Promise<void> {
  const rows = chunks.map((c, seq) => ({
    object_id: o.objectId,
    pipeline_id: o.pipelineId,
    seq,
    bucket_id: o.bucketId,
    lake_key: o.lakeKey,
    etag: o.etag,
    signature: o.signature,
    start_offset: c.start,
    end_offset: c.end,
    body: c.text,
    embedding: Buffer.from(c.vector.buffer, c.vector.byteOffset, c.vector.byteLength),
  }));
  await sql.begin(async (tx) => {
    await tx`delete from embedding_chunks where object_id = ${o.objectId} and pipeline_id = ${o.pipelineId}`;
    // A few hundred rows per statement keeps each under Postgres's 65535 parameters.
    for (let i = 0; i < rows.length; i += 500) await tx`insert into embedding_chunks ${tx(rows.slice(i, i + 500))}`;
  });
}

/** The object has nothing to embed (any more) for this pipeline. */
export async function removeEmbeddingChunks(sql: ISql, objectId: string, pipelineId: string): Promise<void> {
  await sql`delete from embedding_chunks where object_id = ${objectId} and pipeline_id = ${pipelineId}`;
}
