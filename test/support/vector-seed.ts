import type { Sql } from 'postgres';
import { replaceEmbeddingChunks, type EmbeddedChunk } from '../../catalog/embedding.js';
import type { EmbeddingConfig } from '../../domain/embeddings/config.js';
import { embeddingSignature } from '../../domain/embeddings/config.js';

/**
 * A bucket `b1` whose embedding pipeline `p1` holds the given chunks, a few per
 * stored object: catalog rows written straight into a fresh database, for the
 * vector benchmark (no sync runs to get them there).
 */
export async function seedVectorBucket(sql: Sql, config: EmbeddingConfig, chunks: readonly EmbeddedChunk[], perObject: number): Promise<number> {
  await sql`insert into buckets (id, name) values ('b1', 'bench')`;
  await sql`insert into sources (id, bucket_id, name, kind, connection, workflow_id) values ('s1', 'b1', 'src', 'upload', '{"upload":{}}', 'wf-s1')`;
  await sql`insert into pipelines (id, bucket_id, name, kind, config) values ('p1', 'b1', 'meaning', 'embedding', ${sql.json({ embedding: config })})`;
  const objects = Math.ceil(chunks.length / perObject);
  for (let i = 0; i < objects; i++) {
    const key = `doc-${i}.txt`;
    await sql`insert into source_objects (id, source_id, key, etag, ingested_etag, size, lake_key, status)
      values (${`o${i}`}, 's1', ${key}, 'e', 'e', 1, ${key}, 'ingested')`;
    const owner = { objectId: `o${i}`, pipelineId: 'p1', bucketId: 'b1', lakeKey: key, etag: 'e', signature: embeddingSignature(config) };
    await replaceEmbeddingChunks(sql, owner, chunks.slice(i * perObject, (i + 1) * perObject));
  }
  await sql`analyze`;
  return objects;
}
