import type { ISql } from 'postgres';

/**
 * The fulltext pipeline's own derived table. Upserting replaces the row, so a
 * retried run is harmless. `indexChars` is how much of the text goes into the
 * tsvector (the caller shortens it when Postgres refuses a too-large one).
 */
export async function storeFulltextDocument(
  sql: ISql,
  doc: { objectId: string; pipelineId: string; bucketId: string; lakeKey: string; etag: string; text: string; language: string },
  indexChars: number,
): Promise<void> {
  await sql`
        insert into fulltext_documents (object_id, pipeline_id, bucket_id, lake_key, etag, body, tsv, updated_at)
        values (${doc.objectId}, ${doc.pipelineId}, ${doc.bucketId}, ${doc.lakeKey}, ${doc.etag}, ${doc.text},
          to_tsvector(${doc.language}::regconfig, left(${doc.text}, ${indexChars})), now())
        on conflict (object_id, pipeline_id) do update set bucket_id = excluded.bucket_id, lake_key = excluded.lake_key,
          etag = excluded.etag, body = excluded.body, tsv = excluded.tsv, updated_at = now()`;
}

/** The object has nothing to index (any more) for this pipeline. */
export async function removeFulltextDocument(sql: ISql, objectId: string, pipelineId: string): Promise<void> {
  await sql`delete from fulltext_documents where object_id = ${objectId} and pipeline_id = ${pipelineId}`;
}
