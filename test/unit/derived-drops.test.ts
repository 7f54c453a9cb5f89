import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { sql } from 'drizzle-orm';
import { ensureDatabase } from '../../infra/postgres-server.js';
import { runMigrations } from '../../db/migrate.js';
import { closeDb, createDb, type Db } from '../../db/client.js';
import { PIPELINE_KINDS, PIPELINE_KIND_NAMES, dropDerivedStatements, type DerivedScope, type PipelineKindSpec } from '../../domain/pipeline-kinds.js';
import { unique } from '../support/lakesync.js';

/** The derived-data drops of every pipeline kind, run against the real schema. */
let db: Db;

beforeAll(async () => {
  const infra = inject('infra');
  const name = unique('kinds_test').replace(/-/g, '_');
  await ensureDatabase(infra.postgresAdminUrl, name);
  const url = infra.postgresAdminUrl.replace(/\/postgres$/, `/${name}`);
  await runMigrations(url);
  db = createDb(url, 2);
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
}

async function remaining(): Promise<string[]> {
  const rows = await db.$client<{ pair: string }[]>`select object_id || '/' || pipeline_id as pair from fulltext_documents order by 1`;
  return rows.map((r) => r.pair);
}

async function drop(scope: DerivedScope): Promise<string[]> {
  await seed();
  for (const statement of dropDerivedStatements(scope)) await db.execute(statement);
  return remaining();
}

describe('dropping derived data', () => {
  it("declares each kind's derived tables", () => {
    expect(Object.fromEntries(PIPELINE_KIND_NAMES.map((k) => [k, PIPELINE_KINDS[k].derivedTables]))).toEqual({ fulltext: ['fulltext_documents'], webhook: [] });
    const webhook: PipelineKindSpec<'webhook'> = PIPELINE_KINDS.webhook;
    expect(webhook.dropDerived({ objectIds: ['o1'] })).toEqual([]);
  });

  it('drops what was derived from objects gone', async () => {
    expect(await drop({ objectIds: ['o1'] })).toEqual(['o2/p1', 'o2/p2']);
    expect(await drop({ objectIds: [] })).toEqual(['o1/p1', 'o1/p2', 'o2/p1', 'o2/p2']);
  });

  it("drops an object's results in the pipelines its rules no longer select", async () => {
    expect(await drop({ objectId: 'o1', keepPipelines: ['p2'] })).toEqual(['o1/p2', 'o2/p1', 'o2/p2']);
    expect(await drop({ objectId: 'o1', keepPipelines: [] })).toEqual(['o2/p1', 'o2/p2']);
  });

  it("drops one object's result in one pipeline", async () => {
    expect(await drop({ objectId: 'o2', pipelineId: 'p1' })).toEqual(['o1/p1', 'o1/p2', 'o2/p2']);
  });

  it('drops what orphaned pipelines derived', async () => {
    expect(await drop({ pipelineIds: ['p2'] })).toEqual(['o1/p1', 'o2/p1']);
  });

  it('drops what was derived from a key removed from the lake, by the key it was derived at', async () => {
    await seed();
    // The catalog row no longer points at the key (the lake removal cleared it first): the documents still go.
    await db.execute(sql`update source_objects set lake_key = null where id = 'o1'`);
    for (const statement of dropDerivedStatements({ bucketId: 'b1', lakeKey: 'a.txt' })) await db.execute(statement);
    expect(await remaining()).toEqual(['o2/p1', 'o2/p2']);
    expect(await drop({ bucketId: 'other', lakeKey: 'a.txt' })).toHaveLength(4);
  });
});
