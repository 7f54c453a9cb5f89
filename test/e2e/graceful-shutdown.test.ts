/**
 * SIGTERM is how every orchestrator stops a process (rolling deploys, scale
 * down). The worker and the API each run as their own OS process here and are
 * sent SIGTERM in the middle of their work: the worker lets its in-flight
 * batches finish and exits 0, the next worker completes the sync with nothing
 * lost, counted twice, timed out or retried; the API finishes the request in
 * flight, refuses new connections and exits 0.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import postgres from 'postgres';
import { call, waitFor, waitForJob } from '../support/http.js';
import { startTestLakesync, unique, type TestLakesync } from '../support/lakesync.js';
import { listFiles, sha256, tree } from '../support/objects.js';
import { activityReport, historyChain } from '../support/history.js';
import { startApiProcess, startWorkerProcess, type ApiProcess, type WorkerProcess } from '../../infra/worker-process.js';

describe('graceful shutdown', () => {
  let ls: TestLakesync;
  let sql: postgres.Sql;
  const running: (WorkerProcess | ApiProcess)[] = [];
  const bucket = unique('kb');
  const dirs: string[] = [];

  const jobRow = async (jobId: string) => (await sql`select * from jobs where id = ${jobId}`)[0];
  const identity = (p: WorkerProcess) => `${p.child.pid}@`;

  beforeAll(async () => {
    ls = await startTestLakesync({ lake: 'filesystem', worker: 'separate' });
    sql = postgres(ls.databaseUrl, { max: 2, onnotice: () => undefined });
    expect((await call(ls.url, 'POST', '/admin/buckets', { name: bucket })).status).toBe(201);
  });
  afterAll(async () => {
    for (const p of running) await p.kill('SIGKILL');
    await sql?.end();
    await ls?.stop();
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  it('a worker sent SIGTERM mid-ingestion finishes its batches and exits 0; the next one completes the sync exactly, with no activity timed out or retried', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'lakesync-sigterm-'));
    dirs.push(dir);
    const expected = new Map<string, string>();
    let bytes = 0;
    for (let i = 0; i < 2000; i++) {
      const key = `part-${i % 20}/obj-${String(i).padStart(5, '0')}.bin`;
      const body = randomBytes(100 + (i % 900));
      await mkdir(join(dir, `part-${i % 20}`), { recursive: true });
      await writeFile(join(dir, key), body);
      expected.set(key, sha256(body));
      bytes += body.length;
    }
    // 250 copies/s: the ingestion takes ~8 s, so SIGTERM lands with batches in flight.
    const first = await startWorkerProcess({ ...ls.workerEnv, WORKER_MAX_OBJECTS_PER_SECOND: '250', WORKER_SHUTDOWN_GRACE_SECONDS: '60' });
    running.push(first);
    const src = await call(ls.url, 'POST', `/${bucket}/sources`, {
      name: 'rolling',
      kind: 'filesystem',
      filesystem: { path: dir },
      batchSize: 20,
      targetPrefix: 'roll/',
      syncIntervalSeconds: 86400,
    });
    const sourceId = src.body.sourceId as string;
    const jobId = (await call(ls.url, 'POST', `/${bucket}/sources/${sourceId}/discover`, {})).body.jobId as string;

    await waitFor('400 objects processed', async () => Number((await jobRow(jobId))?.objects_processed ?? 0) >= 400, 120_000, 20);
    await first.kill('SIGTERM');
    expect(await first.exited).toEqual({ code: 0, signal: null });
    expect(first.output()).toContain('lakesync worker stopped gracefully');

    // Stopped mid-job, with nothing half-done: every object is ingested once or still owed, none has a failed attempt.
    const mid = (await jobRow(jobId))!;
    expect(mid.finished_at).toBeNull();
    expect(Number(mid.objects_processed)).toBeLessThan(2000);
    const [objects] = await sql`select count(*) filter (where status = 'ingested')::int as ingested, count(*) filter (where status = 'pending')::int as pending,
      count(*) filter (where attempts <> (case when status = 'ingested' then 1 else 0 end))::int as odd from source_objects where source_id = ${sourceId}`;
    expect(objects).toEqual({ ingested: Number(mid.objects_processed), pending: 2000 - Number(mid.objects_processed), odd: 0 });

    const second = await startWorkerProcess(ls.workerEnv);
    running.push(second);
    const { job, sync } = await waitForJob(ls.url, bucket, sourceId, jobId, 240_000);
    expect(job).toMatchObject({
      status: 'JOB_STATUS_SUCCEEDED',
      objectsListed: 2000,
      objectsDiscovered: 2000,
      objectsProcessed: 2000,
      objectsIndexed: 2000,
      objectsFailed: 0,
      bytesTransferred: bytes,
    });
    expect(sync).toMatchObject({ objectsDiscovered: '2000', objectsProcessed: '2000', objectsIndexed: '2000' });
    expect((await call(ls.url, 'GET', `/${bucket}/sources/${sourceId}`)).body).toMatchObject({
      totalObjectsDiscovered: 2000,
      totalObjectsSynced: 2000,
      totalObjectsFailed: 0,
      totalBytesSynced: bytes,
    });
    const [after] =
      await sql`select count(*) filter (where status = 'ingested' and attempts = 1)::int as once, count(*)::int as total from source_objects where source_id = ${sourceId}`;
    expect(after).toEqual({ once: 2000, total: 2000 });
    expect(await tree(join((ls.lake as { dir: string }).dir, bucket, 'roll'))).toEqual(expected);

    // The histories agree: both workers completed batches, and no activity anywhere timed out, failed or was retried.
    const runEvents = await historyChain(ls.runtime.temporal, `lakesync-job-${jobId}`, (await jobRow(jobId))!.run_id);
    const report = activityReport(runEvents);
    expect(report).toMatchObject({ timedOut: 0, failed: 0, retries: [] });
    expect(report.completed.get('ingestBatch')).toBe(100);
    const byWorker = [...report.batchesByIdentity];
    expect(byWorker.map(([who]) => who.split('@')[0] + '@').sort()).toEqual([identity(first), identity(second)].sort());
    for (const [, batches] of byWorker) expect(batches).toBeGreaterThan(0);
  });

  it('an API sent SIGTERM finishes the request in flight, refuses new connections and exits 0', async () => {
    const api = await startApiProcess({ ...ls.workerEnv, LAKESYNC_AUTH_SECRET: ls.authSecret });
    running.push(api);
    const token = await ls.token();
    const body = randomBytes(256 * 1024);
    const url = new URL(`/${bucket}/uploads-in-flight/blob.bin`, api.url);
    // A PUT whose body arrives in two halves, with SIGTERM in between.
    const req = request(url, {
      method: 'PUT',
      headers: { authorization: `Bearer ${token}`, 'content-length': String(body.length), 'content-type': 'application/octet-stream' },
    });
    const answered = new Promise<{ status: number; etag: string | undefined }>((resolve, reject) => {
      req.once('response', (res) => {
        res.resume();
        res.once('end', () => resolve({ status: res.statusCode ?? 0, etag: res.headers.etag }));
      });
      req.once('error', reject);
    });
    req.write(body.subarray(0, body.length / 2));
    // The handler is streaming it once the lake's temp file holds the first half.
    const tmp = join((ls.lake as { dir: string }).dir, '.tmp');
    await waitFor('the first half in the lake', async () => {
      for (const f of await listFiles(tmp)) if ((await stat(join(tmp, f))).size >= body.length / 2) return true;
      return false;
    });
    api.child.kill('SIGTERM');
    await waitFor(
      'new connections refused',
      () =>
        fetch(`${api.url}/healthz`).then(
          () => false,
          () => true,
        ),
      30_000,
      20,
    );
    expect(api.child.exitCode).toBeNull();
    req.end(body.subarray(body.length / 2));

    expect(await answered).toMatchObject({ status: 200 });
    expect(await api.exited).toEqual({ code: 0, signal: null });
    expect(api.output()).toContain('lakesync api stopped gracefully');
    expect(sha256(await readFile(join((ls.lake as { dir: string }).dir, bucket, 'uploads-in-flight', 'blob.bin')))).toBe(sha256(body));
  });
});
