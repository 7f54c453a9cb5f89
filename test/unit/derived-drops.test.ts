import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'drizzle-orm';
import { closeDb, createDb, type Db } from '../../db/client.js';
import { migratedDatabase } from '../support/migrated-db.js';
import { PIPELINE_KINDS, PIPELINE_KIND_NAMES } from '../../domain/pipeline-kinds.js';
import { DERIVED_TABLES, dropDerivedData, type DerivedScope } from '../../catalog/derived.js';

/** catalog's one drop of derived data, over every table the pipeline kinds declare, run against the real schema. */
let db: Db;

beforeAll(async () => {
  db = createDb(await migratedDatabase('kinds_test'), 2);
});
afterAll(() => closeDb(db));

/** Two objects (o1 at a.txt, o2 at b.txt) indexed by two fulltext pipelines (p1, p2). */
async function seed(): Promise<void> {
  await db.execute(sql`truncate buckets cascade`);
  await db.execute(sql`insert into buckets (id, name) values ('b1', 'bucket-one')`);
  await db.execute(
    sql`insert into sources (id, bucket_id, name, kind, connection, workflow_id) values ('s1', 'b1', 'src', 'upload', '{"upload":{}}', 'wf-s1')`,
  );
  await db.execute(
    sql`insert into source_objects (id, source_id, key, etag, size, lake_key) values ('o1', 's1', 'a.txt', 'e', 1, 'a.txt'), ('o2', 's1', 'b.txt', 'e', 1, 'b.txt')`,
  );
  await db.execute(sql`insert into pipelines (id, bucket_id, name, kind, config) values
    ('p1', 'b1', 'one', 'fulltext', '{"fulltext":{"maxBytes":10,"language":"simple"}}'),
    ('p2', 'b1', 'two', 'fulltext', '{"fulltext":{"maxBytes":10,"language":"simple"}}')`);
  await db.execute(sql`insert into fulltext_documents (object_id, pipeline_id, bucket_id, lake_key, etag, body, tsv)
    select o.id, p.id, 'b1', o.lake_key, 'e', 'text', to_tsvector('simple', 'text') from source_objects o cross join pipelines p`);
  await db.execute(sql`insert into embedding_chunks (object_id, pipeline_id, seq, bucket_id, lake_key, etag, signature, start_offset, end_offset, body, embedding)
    select o.id, p.id, 0, 'b1', o.lake_key, 'e', 's', 0, 4, 'text', '\\x0000803f'::bytea from source_objects o cross join pipelines p`);
  await db.execute(sql`insert into object_pipeline_runs (object_id, pipeline_id, status, etag, attempts, job_id)
    select o.id, p.id, 'indexed', 'e', 1, null from source_objects o cross join pipelines p`);
}

async function remaining(): Promise<string[]> {
  const rows = await db.$client<{ pair: string }[]>`select object_id || '/' || pipeline_id as pair from fulltext_documents order by 1`;
  const runs = await db.$client<{ pair: string }[]>`select object_id || '/' || pipeline_id as pair from object_pipeline_runs order by 1`;
  const chunks = await db.$client<{ pair: string }[]>`select object_id || '/' || pipeline_id as pair from embedding_chunks order by 1`;
  // Chunks are keyed like the documents: they go wherever the documents go.
  expect(chunks.map((r) => r.pair)).toEqual(rows.map((r) => r.pair));
  // Run state goes with the documents, except by lake key (the lake removal's own update clears the object's runs).
  return rows.map((r) => r.pair).concat(runs.map((r) => `run:${r.pair}`));
}

async function drop(scope: DerivedScope): Promise<string[]> {
  await seed();
  await dropDerivedData(db.$client, scope);
  return remaining();
}

const both = (...pairs: string[]) => [...pairs, ...pairs.map((p) => `run:${p}`)];

describe('dropping derived data', () => {
  it("drops from the run state and every table a kind declares, and a kind's tables are keyed by lake key where they say so", () => {
    expect(Object.fromEntries(PIPELINE_KIND_NAMES.map((k) => [k, PIPELINE_KINDS[k].derivedTables]))).toEqual({
      fulltext: [{ table: 'fulltext_documents', lakeKeyed: true }],
      webhook: [],
      embedding: [{ table: 'embedding_chunks', lakeKeyed: true }],
    });
    expect(DERIVED_TABLES.map((t) => t.table)).toEqual(['object_pipeline_runs', 'fulltext_documents', 'embedding_chunks']);
  });

  it('drops what was derived from objects gone', async () => {
    expect(await drop({ objectIds: ['o1'] })).toEqual(both('o2/p1', 'o2/p2'));
    expect(await drop({ objectIds: [] })).toEqual(both('o1/p1', 'o1/p2', 'o2/p1', 'o2/p2'));
  });

  it("drops an object's results in the pipelines its rules no longer select", async () => {
    expect(await drop({ objectIds: ['o1'], exceptPipelineIds: ['p2'] })).toEqual(both('o1/p2', 'o2/p1', 'o2/p2'));
    expect(await drop({ objectIds: ['o1'], exceptPipelineIds: [] })).toEqual(both('o2/p1', 'o2/p2'));
  });

  it('drops what orphaned pipelines derived', async () => {
    expect(await drop({ pipelineIds: ['p2'] })).toEqual(both('o1/p1', 'o2/p1'));
  });

  it('drops what was derived from a key removed from the lake, by the key it was derived at', async () => {
    await seed();
    // The catalog row no longer points at the key (the lake removal cleared it first): the documents still go.
    await db.execute(sql`update source_objects set lake_key = null where id = 'o1'`);
    await dropDerivedData(db.$client, { bucketId: 'b1', lakeKey: 'a.txt' });
    expect(await remaining()).toEqual(['o2/p1', 'o2/p2', ...both('o1/p1', 'o1/p2', 'o2/p1', 'o2/p2').filter((p) => p.startsWith('run:'))]);
    expect(await drop({ bucketId: 'other', lakeKey: 'a.txt' })).toHaveLength(8);
  });
});
