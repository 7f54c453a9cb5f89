/**
 * Scaling out is running more `npm run worker` processes on the same task
 * queue. Two worker processes share one 3,000-object ingestion: the lake and
 * the counters come out exact, the history shows both of them completing
 * batches, and each worker's own metrics count exactly what its batches
 * recorded — together, every object once.
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
import { activityReport, historyChain } from '../support/history.js';
import { scrape, total } from '../support/metrics.js';
import { startWorkerProcess, type WorkerProcess } from '../../infra/worker-process.js';

describe('two workers on one task queue', () => {
  let ls: TestLakesync;
  let sql: postgres.Sql;
  const workers: WorkerProcess[] = [];
  const bucket = unique('kb');
  let dir: string;

  beforeAll(async () => {
    ls = await startTestLakesync({ lake: 'filesystem', worker: 'separate' });
    sql = postgres(ls.databaseUrl, { max: 2, onnotice: () => undefined });
    dir = await mkdtemp(join(tmpdir(), 'lakesync-scale-'));
    expect((await call(ls.url, 'POST', '/admin/buckets', { name: bucket })).status).toBe(201);
  });
  afterAll(async () => {
    for (const w of workers) await w.kill('SIGKILL');
    await sql?.end();
    await ls?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('share a 3,000-object ingestion with exact results, and both do part of it', async () => {
    const expected = new Map<string, string>();
    let bytes = 0;
    for (let i = 0; i < 3000; i++) {
      const key = `p${i % 25}/o-${String(i).padStart(5, '0')}.dat`;
      const body = randomBytes(50 + (i % 700));
      await mkdir(join(dir, `p${i % 25}`), { recursive: true });
      await writeFile(join(dir, key), body);
      expected.set(key, sha256(body));
      bytes += body.length;
    }
    // Both poll before there is work, and each copies at most 200 objects/s, so neither can take it all alone.
    for (let n = 0; n < 2; n++) workers.push(await startWorkerProcess({ ...ls.workerEnv, WORKER_MAX_OBJECTS_PER_SECOND: '200', WORKER_METRICS_PORT: '0' }));
    const [a, b] = workers as [WorkerProcess, WorkerProcess];
    expect(a.metricsUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    expect(b.metricsUrl).not.toBe(a.metricsUrl);

    const src = await call(ls.url, 'POST', `/${bucket}/sources`, {
      name: 'shared',
      kind: 'filesystem',
      filesystem: { path: dir },
      batchSize: 20,
      syncIntervalSeconds: 86400,
    });
    const sourceId = src.body.sourceId as string;
    const jobId = (await call(ls.url, 'POST', `/${bucket}/sources/${sourceId}/discover`, {})).body.jobId as string;
    const { job } = await waitForJob(ls.url, bucket, sourceId, jobId, 240_000);

    expect(job).toMatchObject({
      status: 'JOB_STATUS_SUCCEEDED',
      objectsListed: 3000,
      objectsDiscovered: 3000,
      objectsProcessed: 3000,
      objectsIndexed: 3000,
      objectsFailed: 0,
      bytesTransferred: bytes,
    });
    expect((await call(ls.url, 'GET', `/${bucket}/sources/${sourceId}`)).body).toMatchObject({
      totalObjectsSynced: 3000,
      totalBytesSynced: bytes,
      totalObjectsFailed: 0,
    });
    const [rows] =
      await sql`select count(*) filter (where status = 'ingested' and attempts = 1)::int as once, count(*)::int as total from source_objects where source_id = ${sourceId}`;
    expect(rows).toEqual({ once: 3000, total: 3000 });
    expect(await tree(join((ls.lake as { dir: string }).dir, bucket))).toEqual(expected);

    // Who did what, from the history: both workers completed batches; no batch timed out, failed or ran twice.
    const report = activityReport(
      await historyChain(ls.runtime.temporal, `lakesync-job-${jobId}`, (await sql`select run_id from jobs where id = ${jobId}`)[0]!.run_id),
    );
    expect(report).toMatchObject({ timedOut: 0, failed: 0, retries: [] });
    expect(report.completed.get('ingestBatch')).toBe(150);
    const identityOf = (w: WorkerProcess) => [...report.batchesByIdentity.keys()].find((id) => id.startsWith(`${w.child.pid}@`));
    expect([...report.batchesByIdentity.keys()].sort()).toEqual([identityOf(a), identityOf(b)].sort());
    for (const w of workers) expect(report.batchesByIdentity.get(identityOf(w)!)).toBeGreaterThan(0);

    // And from each worker's own metrics: exactly what its batches recorded, summing to every object once.
    let objects = 0;
    let synced = 0;
    for (const w of workers) {
      const mine = report.ingestedByIdentity.get(identityOf(w)!)!;
      expect(mine.objects).toBeGreaterThan(0);
      const samples = await scrape(w.metricsUrl!);
      expect(total(samples, 'lakesync_objects_synced_total', { source_id: sourceId })).toBe(mine.objects);
      expect(total(samples, 'lakesync_bytes_synced_total', { source_id: sourceId })).toBe(mine.bytes);
      expect(total(samples, 'lakesync_dead_letters_total', { source_id: sourceId })).toBe(0);
      objects += mine.objects;
      synced += mine.bytes;
      // The SDK's own worker metrics, bridged into the same endpoint: one execution per batch this worker completed.
      await waitFor(
        'the SDK to report its batches',
        async () =>
          total(await scrape(w.metricsUrl!), 'temporal_activity_execution_latency_count', { activity_type: 'ingestBatch', task_queue: ls.taskQueue }) ===
          report.batchesByIdentity.get(identityOf(w)!),
        30_000,
      );
    }
    expect({ objects, synced }).toEqual({ objects: 3000, synced: bytes });
  });
});
