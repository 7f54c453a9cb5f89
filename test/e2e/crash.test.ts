/**
 * Nothing lost, nothing counted twice: the worker runs as its own process and
 * is killed with SIGKILL in the middle of an ingestion (twice) and of a long
 * discovery; after restarts the lake and every counter are exactly right.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import postgres from 'postgres';
import { call, waitFor, waitForJob } from '../support/http.js';
import { startTestLakesync, unique, type TestLakesync } from '../support/lakesync.js';
import { sha256, tree } from '../support/objects.js';
import { temporalCli } from '../support/temporal-cli.js';
import { seededRandom } from '../support/seed.js';
import { startWorkerProcess, type WorkerProcess } from '../../infra/worker-process.js';

describe('crash safety', () => {
  let ls: TestLakesync;
  let sql: postgres.Sql;
  let worker: WorkerProcess | undefined;
  const bucket = unique('kb');
  const dirs: string[] = [];
  // Kill points: replay a failure with the seed this prints.
  const random = seededRandom('crash.test.ts');

  const jobRow = async (jobId: string) => (await sql`select * from jobs where id = ${jobId}`)[0];
  const killWhen = async (what: string, probe: () => Promise<boolean>) => {
    await waitFor(`${what} (LAKESYNC_TEST_SEED=${random.seed})`, probe, 120_000, 20);
    await worker!.kill('SIGKILL');
  };

  beforeAll(async () => {
    ls = await startTestLakesync({ lake: 'filesystem', worker: 'separate', env: { WORKER_BATCH_CONCURRENCY: '4', WORKER_OBJECT_CONCURRENCY: '8' } });
    sql = postgres(ls.databaseUrl, { max: 2, onnotice: () => undefined });
    expect((await call(ls.url, 'POST', '/admin/buckets', { name: bucket })).status).toBe(201);
  });
  afterAll(async () => {
    await worker?.kill('SIGKILL');
    await sql?.end();
    await ls?.stop();
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  it('survives two SIGKILLs during a 3,000-object ingestion with every object once and exact counters', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'lakesync-crash-'));
    dirs.push(dir);
    const expected = new Map<string, string>();
    let bytes = 0;
    for (let i = 0; i < 3000; i++) {
      const key = `part-${i % 30}/obj-${String(i).padStart(5, '0')}.bin`;
      const body = randomBytes(200 + (i % 1800));
      await mkdir(join(dir, `part-${i % 30}`), { recursive: true });
      await writeFile(join(dir, key), body);
      expected.set(key, sha256(body));
      bytes += body.length;
    }
    // 300 copies/s on the worker: the ingestion lasts ~10 s, long enough to be killed twice.
    worker = await startWorkerProcess({ ...ls.workerEnv, WORKER_MAX_OBJECTS_PER_SECOND: '300' });
    const src = await call(ls.url, 'POST', `/${bucket}/sources`, {
      name: 'crashy',
      kind: 'filesystem',
      filesystem: { path: dir },
      batchSize: 20,
      targetPrefix: 'crash/',
      syncIntervalSeconds: 86400,
    });
    const started = await call(ls.url, 'POST', `/${bucket}/sources/${src.body.sourceId}/discover`, {});
    const jobId = started.body.jobId as string;

    const firstKill = random.int(300, 1000);
    await killWhen(`${firstKill} processed`, async () => Number((await jobRow(jobId))?.objects_processed ?? 0) >= firstKill);
    const atFirstKill = Number((await jobRow(jobId))!.objects_processed);
    worker = await startWorkerProcess({ ...ls.workerEnv, WORKER_MAX_OBJECTS_PER_SECOND: '300' });
    const secondKill = random.int(Math.max(atFirstKill + 300, 1500), 2600);
    await killWhen(`${secondKill} processed`, async () => Number((await jobRow(jobId))?.objects_processed ?? 0) >= secondKill);
    worker = await startWorkerProcess({ ...ls.workerEnv, WORKER_MAX_OBJECTS_PER_SECOND: '300' });

    const { job, sync } = await waitForJob(ls.url, bucket, src.body.sourceId, jobId, 240_000);
    expect(job).toMatchObject({
      status: 'JOB_STATUS_SUCCEEDED',
      objectsListed: 3000,
      objectsDiscovered: 3000,
      objectsProcessed: 3000,
      objectsIndexed: 3000,
      objectsFailed: 0,
      bytesTransferred: bytes,
    });
    expect(sync).toMatchObject({ objectsDiscovered: '3000', objectsProcessed: '3000', objectsIndexed: '3000' });
    const source = (await call(ls.url, 'GET', `/${bucket}/sources/${src.body.sourceId}`)).body;
    // Mixpeek's counters too: one sync execution, and 150 batches of 20 each counted once, however many attempts they took.
    expect(source).toMatchObject({
      totalObjectsDiscovered: 3000,
      totalObjectsSynced: 3000,
      totalObjectsFailed: 0,
      totalBytesSynced: bytes,
      runCounter: 1,
      batchesCreated: 150,
    });
    const [states] =
      await sql`select count(*) filter (where status = 'ingested')::int as ingested, count(*)::int as total from source_objects where source_id = ${src.body.sourceId}`;
    expect(states).toEqual({ ingested: 3000, total: 3000 });
    expect(await tree(join((ls.lake as { dir: string }).dir, bucket, 'crash'))).toEqual(expected);
    // The run's history stayed bounded: it continued as new along the way.
    const runs = JSON.parse(
      `[${(await temporalCli('workflow', 'list', '--query', `WorkflowId="lakesync-job-${jobId}"`, '--output', 'jsonl')).trim().split('\n').join(',')}]`,
    );
    expect(runs.length).toBeGreaterThan(1);
  });

  it('resumes a long discovery killed mid-scan from its checkpoint instead of page one', async () => {
    await worker?.kill('SIGTERM');
    const dir = await mkdtemp(join(tmpdir(), 'lakesync-scan-'));
    dirs.push(dir);
    for (let d = 0; d < 160; d++) {
      await mkdir(join(dir, `d${String(d).padStart(3, '0')}`));
      for (let f = 0; f < 50; f++) await writeFile(join(dir, `d${String(d).padStart(3, '0')}`, `f${f}.txt`), `${d}/${f}`);
    }
    // 50 keys a page: 160 pages for 8,000 keys.
    worker = await startWorkerProcess({ ...ls.workerEnv, WORKER_LIST_PAGE_SIZE: '50' });
    const src = await call(ls.url, 'POST', `/${bucket}/sources`, {
      name: 'long-scan',
      kind: 'filesystem',
      filesystem: { path: dir },
      batchSize: 200,
      targetPrefix: 'scan/',
      syncIntervalSeconds: 86400,
    });
    const started = await call(ls.url, 'POST', `/${bucket}/sources/${src.body.sourceId}/discover`, {});
    const jobId = started.body.jobId as string;
    await killWhen('a third of the scan', async () => Number((await jobRow(jobId))?.pages_listed ?? 0) >= 50);
    const pagesAtKill = Number((await jobRow(jobId))!.pages_listed);
    expect(pagesAtKill).toBeLessThan(160);
    worker = await startWorkerProcess({ ...ls.workerEnv, WORKER_LIST_PAGE_SIZE: '50' });

    const { job } = await waitForJob(ls.url, bucket, src.body.sourceId, jobId, 240_000);
    expect(job).toMatchObject({ status: 'JOB_STATUS_SUCCEEDED', objectsListed: 8000, objectsDiscovered: 8000, objectsNew: 8000, objectsProcessed: 8000 });
    // From page one again it would have listed pagesAtKill + 160 pages; resumed, at most the pages in flight repeat.
    expect(job.pagesListed).toBeGreaterThanOrEqual(160);
    expect(job.pagesListed).toBeLessThanOrEqual(162);
    expect((await tree(join((ls.lake as { dir: string }).dir, bucket, 'scan'))).size).toBe(8000);
  });
});
