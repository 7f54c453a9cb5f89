/**
 * The embedding pipeline through crashes: the worker is SIGKILLed twice while
 * objects are being embedded; afterwards every object has its chunks exactly
 * once, made from the content that was copied, and the counters are exact.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import postgres from 'postgres';
import { call } from '../support/http.js';
import { startTestLakesync, unique, type TestLakesync } from '../support/lakesync.js';
import { writeAll } from '../support/objects.js';
import { seededRandom } from '../support/seed.js';
import { topicCorpus } from '../support/topic-corpus.js';
import type { WorkerProcess } from '../../infra/worker-process.js';
import { syncThroughTwoKills } from '../support/pipeline-crash.js';

const PER_TOPIC = 120;
const N = PER_TOPIC * 10;

describe('embedding through worker crashes', () => {
  let ls: TestLakesync;
  let sql: postgres.Sql;
  const workers: { current?: WorkerProcess } = {};
  let dir: string;
  const random = seededRandom('crash-embedding.test.ts');

  beforeAll(async () => {
    ls = await startTestLakesync({ lake: 'filesystem', worker: 'separate' });
    sql = postgres(ls.databaseUrl, { max: 2, onnotice: () => undefined });
    dir = await mkdtemp(join(tmpdir(), 'lakesync-crash-embed-'));
  });
  afterAll(async () => {
    await workers.current?.kill('SIGKILL');
    await sql?.end();
    await ls?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('embeds every object once across two SIGKILLs, with exact counters and no duplicated chunk', async () => {
    const bucket = unique('kb');
    expect((await call(ls.url, 'POST', '/admin/buckets', { name: bucket })).status).toBe(201);
    const corpus = topicCorpus(PER_TOPIC);
    await writeAll(dir, new Map([...corpus].map(([k, v]) => [k, Buffer.from(v)])));
    // Token chunks overlapping: several chunks per object, so a crash can fall between an object's rows.
    const pipeline = await call(ls.url, 'POST', `/${bucket}/pipelines`, {
      name: 'meaning',
      kind: 'embedding',
      embedding: { chunking: { unit: 'tokens', size: 8, overlap: 3 } },
    });
    expect(pipeline.status).toBe(201);
    const pipelineId = pipeline.body.pipelineId as string;
    expect((await call(ls.url, 'POST', `/${bucket}/rules`, { name: 'all', pipelineIds: [pipelineId] })).status).toBe(201);

    const { job, sync } = await syncThroughTwoKills({ ls, sql, bucket, name: 'docs', dir, random, workers, pollMs: 10 });
    expect(job).toMatchObject({ status: 'JOB_STATUS_SUCCEEDED', objectsDiscovered: N, objectsProcessed: N, objectsIndexed: N, objectsFailed: 0 });
    expect(sync).toMatchObject({ objectsProcessed: String(N), objectsIndexed: String(N) });

    // Each object's chunks are the whole set cut from its text, once: seq 0..n-1, offsets giving back the text.
    const chunks = await sql<{ key: string; seq: number; start_offset: number; end_offset: number; body: string; etag: string; ingested: string }[]>`
      select c.lake_key as key, c.seq, c.start_offset, c.end_offset, c.body, c.etag, so.ingested_etag as ingested
      from embedding_chunks c join source_objects so on so.id = c.object_id where c.pipeline_id = ${pipelineId} order by c.lake_key, c.seq`;
    const byKey = new Map<string, (typeof chunks)[number][]>();
    for (const c of chunks) byKey.set(c.key, [...(byKey.get(c.key) ?? []), c]);
    expect([...byKey.keys()].sort()).toEqual([...corpus.keys()].sort());
    for (const [key, rows] of byKey) {
      expect(rows.map((r) => r.seq)).toEqual(rows.map((_, i) => i));
      const text = corpus.get(key)!;
      for (const r of rows) {
        expect(text.slice(r.start_offset, r.end_offset)).toBe(r.body);
        expect(r.etag).toBe(r.ingested);
      }
      // Consecutive chunks step forward: no chunk is repeated under another seq.
      expect(new Set(rows.map((r) => r.start_offset)).size).toBe(rows.length);
    }
    const [runs] = await sql`select count(*) filter (where status = 'indexed')::int as indexed, count(*)::int as total from object_pipeline_runs`;
    expect(runs).toEqual({ indexed: N, total: N });
    const found = await call(ls.url, 'POST', `/${bucket}/vector/search`, { query: 'soccer championship game', topK: 5 });
    expect(found.body.results.map((r: { key: string }) => r.key.split('/')[0])).toEqual(Array(5).fill('football'));
    // Three model loads and a thousand objects: longer than the default on a busy machine.
  }, 600_000);
});
