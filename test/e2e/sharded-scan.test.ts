/**
 * Sharded discovery end to end: a scan split into key-range shards, each its
 * own activity with its own checkpoint, on worker processes of their own — a
 * filesystem source cut at its top-level directories, and a 20,000-key S3
 * source on MinIO whose worker is SIGKILLed mid-scan. The lake and every
 * counter come out exact, and deletes are swept only by a complete scan.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { CreateBucketCommand, DeleteBucketCommand, DeleteObjectsCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import pLimit from 'p-limit';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import postgres from 'postgres';
import { startGatedProxy, type GatedProxy } from '../support/gated-proxy.js';
import { activityReport, historyChain } from '../support/history.js';
import { call, waitFor, waitForJob } from '../support/http.js';
import { minioClient, minioS3Settings, startTestLakesync, unique, type TestLakesync } from '../support/lakesync.js';
import { sha256, tree } from '../support/objects.js';
import { seededRandom } from '../support/seed.js';
import { startWorkerProcess, type WorkerProcess } from '../../infra/worker-process.js';

describe('sharded discovery', () => {
  let ls: TestLakesync;
  let sql: postgres.Sql;
  let s3: S3Client;
  let proxy: GatedProxy;
  const workers: WorkerProcess[] = [];
  const dirs: string[] = [];
  const bucket = unique('kb');
  // Kill points: replay a failure with the seed this prints.
  const random = seededRandom('sharded-scan.test.ts');
  // 25 keys a page: a shard of 5,000 keys lists 200 pages, long enough to be killed in the middle of.
  const workerEnv = () => ({ ...ls.workerEnv, WORKER_LIST_PAGE_SIZE: '25', WORKER_BATCH_CONCURRENCY: '4', WORKER_OBJECT_CONCURRENCY: '16' });
  const startWorker = async () => {
    const w = await startWorkerProcess(workerEnv());
    workers.push(w);
    return w;
  };

  const shardsOf = async (jobId: string) =>
    (
      await sql`select shard, after_key, up_to, listed::int, pages::int, finished_at is not null as finished from scan_shards where job_id = ${jobId} order by shard`
    ).map((r) => ({ ...r }) as { shard: number; after_key: string | null; up_to: string | null; listed: number; pages: number; finished: boolean });
  const discover = async (sourceId: string) => {
    const started = await call(ls.url, 'POST', `/${bucket}/sources/${sourceId}/discover`, {});
    expect(started.status).toBe(200);
    return started.body.jobId as string;
  };
  const lakeTree = async (prefix: string) => tree(join((ls.lake as { dir: string }).dir, bucket, prefix));

  beforeAll(async () => {
    ls = await startTestLakesync({ lake: 'filesystem', worker: 'separate' });
    sql = postgres(ls.databaseUrl, { max: 2, onnotice: () => undefined });
    s3 = minioClient();
    proxy = await startGatedProxy(inject('infra').minio.endpoint);
    expect((await call(ls.url, 'POST', '/admin/buckets', { name: bucket })).status).toBe(201);
  });
  afterAll(async () => {
    for (const w of workers) await w.kill('SIGKILL');
    await proxy?.stop();
    await sql?.end();
    await ls?.stop();
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  it('cuts a filesystem source at its top-level directories, keeps that split while it balances, then cuts at keys sampled from the catalog, sweeping only what a complete scan missed', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'lakesync-shards-'));
    dirs.push(dir);
    const expected = new Map<string, string>();
    const put = async (key: string) => {
      const body = randomBytes(20 + (expected.size % 200));
      await writeFile(join(dir, key), body);
      expected.set(key, sha256(body));
    };
    for (let d = 0; d < 12; d++) {
      const name = `t${String(d).padStart(2, '0')}`;
      await mkdir(join(dir, name));
      for (let f = 0; f < 100; f++) await put(`${name}/f${String(f).padStart(3, '0')}.bin`);
    }
    await put('README');
    await put('zz-top.txt');
    for (let n = 0; n < 2; n++) await startWorker();

    const src = await call(ls.url, 'POST', `/${bucket}/sources`, {
      name: 'fs-sharded',
      kind: 'filesystem',
      filesystem: { path: dir },
      shards: 4,
      batchSize: 50,
      targetPrefix: 'fs/',
      syncIntervalSeconds: 86400,
    });
    expect(src.status).toBe(201);
    expect(src.body.shards).toBe(4);
    const sourceId = src.body.sourceId as string;

    const first = await discover(sourceId);
    const { job } = await waitForJob(ls.url, bucket, sourceId, first);
    expect(job).toMatchObject({
      status: 'JOB_STATUS_SUCCEEDED',
      objectsListed: 1202,
      objectsDiscovered: 1202,
      objectsNew: 1202,
      objectsProcessed: 1202,
      objectsDeleted: 0,
    });
    // A first scan knows no keys: it cuts where the kind says groups begin, 12 directories into 4 shards of 3.
    expect(await shardsOf(first)).toEqual([
      { shard: 0, after_key: null, up_to: 't03/', listed: 301, pages: expect.any(Number), finished: true },
      { shard: 1, after_key: 't03/', up_to: 't06/', listed: 300, pages: expect.any(Number), finished: true },
      { shard: 2, after_key: 't06/', up_to: 't09/', listed: 300, pages: expect.any(Number), finished: true },
      { shard: 3, after_key: 't09/', up_to: null, listed: 301, pages: expect.any(Number), finished: true },
    ]);
    expect(job.pagesListed).toBe((await shardsOf(first)).reduce((n, s) => n + s.pages, 0));
    expect(await lakeTree('fs')).toEqual(expected);

    // Gone at the source: a whole directory of shard 1 and a key of shard 0; 700 new keys in shard 0, in a
    // directory that sorts first, so cuts at the 13 directories would now fall elsewhere (t02/, t05/, t08/).
    for (let f = 0; f < 100; f++) {
      const key = `t04/f${String(f).padStart(3, '0')}.bin`;
      await unlink(join(dir, key));
      expected.delete(key);
    }
    await unlink(join(dir, 'README'));
    expected.delete('README');
    await mkdir(join(dir, 'a00'));
    for (let f = 100; f < 800; f++) await put(`a00/f${String(f).padStart(3, '0')}.bin`);
    const second = await discover(sourceId);
    const { job: job2 } = await waitForJob(ls.url, bucket, sourceId, second);
    expect(job2).toMatchObject({ status: 'JOB_STATUS_SUCCEEDED', objectsListed: 1801, objectsDiscovered: 700, objectsDeleted: 101 });
    // The first scan's shards listed evenly: the second keeps its ranges instead of sampling the catalog, and lists them unevenly.
    expect((await shardsOf(second)).map((s) => [s.after_key, s.up_to, s.listed])).toEqual([
      [null, 't03/', 1000],
      ['t03/', 't06/', 200],
      ['t06/', 't09/', 300],
      ['t09/', null, 301],
    ]);
    expect(await lakeTree('fs')).toEqual(expected);

    // That split no longer balances: the third scan cuts at keys sampled from the catalog, balanced by count.
    const third = await discover(sourceId);
    const { job: job3 } = await waitForJob(ls.url, bucket, sourceId, third);
    expect(job3).toMatchObject({ status: 'JOB_STATUS_SUCCEEDED', objectsListed: 1801, objectsDiscovered: 0, objectsDeleted: 0 });
    const sampled = await shardsOf(third);
    expect(sampled).toHaveLength(4);
    expect(sampled.every((s) => s.finished)).toBe(true);
    expect(sampled.slice(0, 3).map((s) => s.up_to)).toEqual([
      expect.stringMatching(/\.bin$/),
      expect.stringMatching(/\.bin$/),
      expect.stringMatching(/\.bin$/),
    ]);
    expect(sampled.map((s) => s.listed)).toEqual([451, 450, 450, 450]);
    expect(await lakeTree('fs')).toEqual(expected);
    const [states] = await sql`select count(*) filter (where status = 'deleted')::int as deleted, count(*) filter (where status = 'ingested')::int as ingested
      from source_objects where source_id = ${sourceId}`;
    expect(states).toEqual({ deleted: 101, ingested: 1801 });
  });

  it(
    'lists 20,000 S3 keys in 4 shards over two workers, one SIGKILLed mid-scan, exactly; a scan that fails part-way sweeps nothing',
    { timeout: 900_000 },
    async () => {
      for (const w of workers.splice(0)) await w.kill('SIGKILL');
      const sourceBucket = unique('shards');
      await s3.send(new CreateBucketCommand({ Bucket: sourceBucket }));
      const files = new Map<string, Buffer>();
      for (let i = 0; i < 20_000; i++) files.set(`g${String(i % 20).padStart(2, '0')}/k${String(i).padStart(5, '0')}`, randomBytes(16 + (i % 64)));
      await putFast(s3, sourceBucket, 'feed/', files);
      const expected = new Map([...files].map(([k, b]) => [k, sha256(b)]));

      // The source is read through a gate, so the test can take the bucket away between two of a scan's listings.
      const src = await call(ls.url, 'POST', `/${bucket}/sources`, {
        name: 's3-sharded',
        kind: 's3',
        s3: minioS3Settings({ endpoint: proxy.endpoint, bucket: sourceBucket, prefix: 'feed/' }),
        batchSize: 200,
        targetPrefix: 's3/',
        syncIntervalSeconds: 86400,
      });
      expect(src.status).toBe(201);
      const sourceId = src.body.sourceId as string;
      // The setting round-trips: absent is automatic (null), a PATCH sets and clears it, and out-of-range values are refused by name.
      expect(src.body.shards).toBeNull();
      for (const bad of [0, 65, 1.5]) {
        const refused = await call(ls.url, 'PATCH', `/${bucket}/sources/${sourceId}`, { shards: bad });
        expect(refused.status).toBe(400);
        expect(JSON.stringify(refused.body)).toContain('shards');
      }
      expect((await call(ls.url, 'PATCH', `/${bucket}/sources/${sourceId}`, { shards: 64 })).body.shards).toBe(64);
      expect((await call(ls.url, 'PATCH', `/${bucket}/sources/${sourceId}`, { shards: null })).body.shards).toBeNull();
      expect((await call(ls.url, 'PATCH', `/${bucket}/sources/${sourceId}`, { shards: 4 })).status).toBe(200);
      expect((await call(ls.url, 'GET', `/${bucket}/sources/${sourceId}`)).body.shards).toBe(4);

      // Worker A takes all four shards; once each has committed a page, B joins and A is killed mid-scan.
      const a = await startWorker();
      const jobId = await discover(sourceId);
      const listed = async () => (await shardsOf(jobId)).reduce((n, s) => n + s.listed, 0);
      const killAt = random.int(2_000, 8_000);
      await waitFor(
        `every shard listing and ${killAt} keys listed (LAKESYNC_TEST_SEED=${random.seed})`,
        async () => {
          const shards = await shardsOf(jobId);
          return shards.length === 4 && shards.every((s) => s.pages > 0) && shards.reduce((n, s) => n + s.listed, 0) >= killAt;
        },
        120_000,
        20,
      );
      const b = await startWorker();
      await a.kill('SIGKILL');
      const atKill = await shardsOf(jobId);
      expect(atKill.filter((s) => !s.finished).length).toBeGreaterThan(0);
      expect(await listed()).toBeLessThan(20_000);

      const { job } = await waitForJob(ls.url, bucket, sourceId, jobId, 300_000);
      expect(job).toMatchObject({
        status: 'JOB_STATUS_SUCCEEDED',
        objectsListed: 20_000,
        objectsDiscovered: 20_000,
        objectsNew: 20_000,
        objectsProcessed: 20_000,
        objectsFailed: 0,
        objectsDeleted: 0,
      });
      const shards = await shardsOf(jobId);
      expect(shards.map((s) => [s.after_key, s.up_to, s.listed, s.finished])).toEqual([
        [null, 'g05/', 5_000, true],
        ['g05/', 'g10/', 5_000, true],
        ['g10/', 'g15/', 5_000, true],
        ['g15/', null, 5_000, true],
      ]);
      // Each shard went on from its own committed cursor: every page counted once, the pages in flight at the kill re-listed uncounted.
      expect(job.pagesListed).toBe(shards.reduce((n, s) => n + s.pages, 0));
      expect(job.pagesListed).toBeLessThanOrEqual(800 + 4);
      const report = activityReport(
        await historyChain(ls.runtime.temporal, `lakesync-job-${jobId}`, (await sql`select run_id from jobs where id = ${jobId}`)[0]!.run_id),
      );
      // The shards unfinished at the kill were lost with A and resumed on B.
      const resumed = report.retries.filter((r) => r.startsWith('scanShard attempt 2'));
      // (A shard that committed its last page but had not yet reported done is retried too, and finds itself finished.)
      expect(resumed.length, report.retries.join('\n')).toBeGreaterThanOrEqual(atKill.filter((s) => !s.finished).length);
      expect(resumed.length).toBeLessThanOrEqual(4);
      expect(report.completed.get('scanShard')).toBe(4);
      // The shard that claimed the sweep swept and ended the job (SCAN_ENDS_JOB): one claim, no sweep activity of its own.
      expect(report.completed.get('sweepShardedScan')).toBeUndefined();
      expect(report.completed.get('finishJob')).toBe(1);
      const [claim] = await sql`select sweep_shard from jobs where id = ${jobId}`;
      expect([0, 1, 2, 3]).toContain(claim!.sweep_shard);
      expect(await lakeTree('s3')).toEqual(expected);
      const source = (await call(ls.url, 'GET', `/${bucket}/sources/${sourceId}`)).body;
      expect(source).toMatchObject({ totalObjectsDiscovered: 20_000, totalObjectsSynced: 20_000, totalObjectsFailed: 0, runCounter: 1 });

      // 300 keys deleted at the source, spread over every shard.
      const gone = [...files.keys()].filter((_, i) => i % 66 === 0).slice(0, 300);
      expect(gone).toHaveLength(300);
      await s3.send(new DeleteObjectsCommand({ Bucket: sourceBucket, Delete: { Objects: gone.map((k) => ({ Key: `feed/${k}` })) } }));
      for (const k of gone) {
        files.delete(k);
        expected.delete(k);
      }

      // A scan that fails part-way: once shards have listed, the bucket disappears between two listings.
      const failing = await discover(sourceId);
      await waitFor('shards listing', async () => (await shardsOf(failing)).some((s) => s.pages > 0 && !s.finished), 120_000, 10);
      proxy.close((req) => req.method === 'GET' && (req.url ?? '').includes('list-type=2'));
      await waitFor('a listing held at the gate', async () => proxy.held() > 0, 60_000, 10);
      await emptyAndDrop(s3, sourceBucket);
      proxy.open();
      const { job: failed } = await waitForJob(ls.url, bucket, sourceId, failing, 120_000);
      expect(failed.status).toBe('JOB_STATUS_FAILED');
      expect(failed.objectsDeleted).toBe(0);
      expect((await shardsOf(failing)).every((s) => s.finished)).toBe(false);
      expect((await sql`select sweep_shard from jobs where id = ${failing}`)[0]).toEqual({ sweep_shard: null });
      const [notSwept] = await sql`select count(*) filter (where status = 'deleted')::int as deleted from source_objects where source_id = ${sourceId}`;
      expect(notSwept).toEqual({ deleted: 0 });
      // Nothing left the lake: a partial listing proves nothing gone.
      expect((await lakeTree('s3')).size).toBe(20_000);

      // The bucket back without the deleted keys (same bytes, same etags): the next complete scan sweeps exactly those.
      await s3.send(new CreateBucketCommand({ Bucket: sourceBucket }));
      await putFast(s3, sourceBucket, 'feed/', files);
      const last = await discover(sourceId);
      const { job: swept } = await waitForJob(ls.url, bucket, sourceId, last, 300_000);
      expect(swept).toMatchObject({
        status: 'JOB_STATUS_SUCCEEDED',
        objectsListed: 19_700,
        objectsDiscovered: 0,
        objectsDeleted: 300,
        objectsRemoved: 300,
        objectsFailed: 0,
      });
      expect(await lakeTree('s3')).toEqual(expected);
      // Its split is the last complete scan's, kept: the failed scan's partial counts are no scan to go by (keys sampled from the catalog would cut at g04/…, g09/…, g14/…).
      expect((await shardsOf(last)).map((s) => [s.after_key, s.up_to])).toEqual([
        [null, 'g05/'],
        ['g05/', 'g10/'],
        ['g10/', 'g15/'],
        ['g15/', null],
      ]);
      const [states] = await sql`select count(*) filter (where status = 'deleted')::int as deleted, count(*) filter (where status = 'ingested')::int as ingested
      from source_objects where source_id = ${sourceId}`;
      expect(states).toEqual({ deleted: 300, ingested: 19_700 });
      await b.kill('SIGTERM');
    },
  );
});

/** 20,000 small PUTs, 64 at a time (the suite's putAll takes 16). */
async function putFast(s3: S3Client, bucketName: string, prefix: string, files: Map<string, Buffer>): Promise<void> {
  const limit = pLimit(64);
  await Promise.all([...files].map(([key, body]) => limit(() => s3.send(new PutObjectCommand({ Bucket: bucketName, Key: prefix + key, Body: body })))));
}

/** Deletes every object of a bucket, then the bucket: 1,000 keys a request. */
async function emptyAndDrop(s3: S3Client, bucketName: string): Promise<void> {
  for (;;) {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: bucketName, MaxKeys: 1000 }));
    const keys = (page.Contents ?? []).map((o) => ({ Key: o.Key! }));
    if (keys.length === 0) break;
    await s3.send(new DeleteObjectsCommand({ Bucket: bucketName, Delete: { Objects: keys } }));
  }
  await s3.send(new DeleteBucketCommand({ Bucket: bucketName }));
}
