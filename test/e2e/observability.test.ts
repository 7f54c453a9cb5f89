/**
 * What an operator watches: the worker's /metrics (every counter moves by
 * exactly what was recorded, the discovery lag follows the last scan, the
 * SDK's own metrics are there), the API's /metrics (requests by route and
 * status) and the logs of all three layers, which name the same bucket,
 * source, job and workflow with the same field names.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, unlink, writeFile } from 'node:fs/promises';
import { Writable } from 'node:stream';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import postgres from 'postgres';
import { call, waitForJob } from '../support/http.js';
import { startTestLakesync, unique, type TestLakesync } from '../support/lakesync.js';
import { has, scrape, total } from '../support/metrics.js';
import { startWorkerProcess, type WorkerProcess } from '../../infra/worker-process.js';

type LogLine = Record<string, unknown> & { msg?: string };
const lines = (text: string): LogLine[] =>
  text
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as LogLine);

describe('metrics and logs', () => {
  let ls: TestLakesync;
  let sql: postgres.Sql;
  let worker: WorkerProcess;
  let apiLogs = '';
  let dir: string;
  const bucket = unique('kb');

  beforeAll(async () => {
    const sink = new Writable({ write: (chunk, _enc, done) => ((apiLogs += chunk.toString()), done()) });
    ls = await startTestLakesync({ lake: 'filesystem', worker: 'separate', log: pino({ level: 'info' }, sink) });
    sql = postgres(ls.databaseUrl, { max: 2, onnotice: () => undefined });
    worker = await startWorkerProcess({ ...ls.workerEnv, WORKER_METRICS_PORT: '0' });
    dir = await mkdtemp(join(tmpdir(), 'lakesync-observed-'));
    expect((await call(ls.url, 'POST', '/admin/buckets', { name: bucket })).status).toBe(201);
  });
  afterAll(async () => {
    await worker?.kill('SIGKILL');
    await sql?.end();
    await ls?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('counts exactly what was recorded, follows the last scan, and logs every layer with the same correlation fields', async () => {
    let bytes = 0;
    for (let i = 0; i < 200; i++) {
      const body = randomBytes(10 + i * 13);
      await mkdir(join(dir, `d${i % 4}`), { recursive: true });
      await writeFile(join(dir, `d${i % 4}`, `f${i}.bin`), body);
      bytes += body.length;
    }
    const src = await call(ls.url, 'POST', `/${bucket}/sources`, {
      name: 'watched',
      kind: 'filesystem',
      filesystem: { path: dir },
      batchSize: 25,
      syncIntervalSeconds: 86400,
    });
    const sourceId = src.body.sourceId as string;
    const metricsUrl = worker.metricsUrl!;
    const mine = { source_id: sourceId };

    // Never scanned: the lag counts from the source's creation.
    const before = await scrape(metricsUrl);
    expect(has(before, 'lakesync_discovery_lag_seconds', { bucket, source_id: sourceId })).toBe(true);
    expect(total(before, 'lakesync_objects_synced_total', mine)).toBe(0);

    const jobId = (await call(ls.url, 'POST', `/${bucket}/sources/${sourceId}/discover`, {})).body.jobId as string;
    const first = await waitForJob(ls.url, bucket, sourceId, jobId);
    expect(first.job).toMatchObject({ status: 'JOB_STATUS_SUCCEEDED', objectsProcessed: 200, bytesTransferred: bytes });
    const t0 = Date.now();
    const afterSync = await scrape(metricsUrl);
    const t1 = Date.now();
    expect(total(afterSync, 'lakesync_objects_synced_total', mine)).toBe(200);
    expect(total(afterSync, 'lakesync_bytes_synced_total', mine)).toBe(bytes);
    expect(total(afterSync, 'lakesync_keys_listed_total', mine)).toBe(200);
    expect(total(afterSync, 'lakesync_object_failures_total', mine)).toBe(0);
    expect(total(afterSync, 'lakesync_dead_letters_total', mine)).toBe(0);
    // Now measured from the start of that scan (Postgres and this process share the host clock; 1 s of slack for rounding).
    const [{ started_at: startedAt }] = (await sql`select started_at from jobs where id = ${jobId}`) as unknown as [{ started_at: Date }];
    const lag = total(afterSync, 'lakesync_discovery_lag_seconds', { bucket, source_id: sourceId });
    expect(lag).toBeGreaterThanOrEqual((t0 - startedAt.getTime()) / 1000 - 1);
    expect(lag).toBeLessThanOrEqual((t1 - startedAt.getTime()) / 1000 + 1);
    // The SDK's own worker metrics share the endpoint.
    expect(total(afterSync, 'temporal_activity_execution_latency_count', { activity_type: 'scanSource', task_queue: ls.taskQueue })).toBe(1);
    expect(has(afterSync, 'temporal_worker_task_slots_available', { task_queue: ls.taskQueue })).toBe(true);
    expect(has(afterSync, 'nodejs_heap_size_used_bytes')).toBe(true);

    // One object vanishes at the source and is ingested again by id: three recorded failures, one dead letter, nothing synced.
    await unlink(join(dir, 'd1', 'f1.bin'));
    const [{ id: objectId }] = (await sql`select id from source_objects where source_id = ${sourceId} and key = 'd1/f1.bin'`) as unknown as [{ id: string }];
    const retryJob = (await call(ls.url, 'POST', `/${bucket}/sources/${sourceId}/ingest`, { sourceObjectId: objectId })).body.jobId as string;
    const second = await waitForJob(ls.url, bucket, sourceId, retryJob);
    expect(second.job).toMatchObject({ status: 'JOB_STATUS_PARTIAL', objectsFailed: 1, objectsProcessed: 0 });
    const afterFailure = await scrape(metricsUrl);
    expect(total(afterFailure, 'lakesync_object_failures_total', mine)).toBe(3);
    expect(total(afterFailure, 'lakesync_dead_letters_total', mine)).toBe(1);
    expect(total(afterFailure, 'lakesync_objects_synced_total', mine)).toBe(200);

    // The API's /metrics needs no token and counts requests by route pattern and status.
    const api = () => scrape(`${ls.url}/metrics`, {});
    const route = { method: 'GET', route: '/:bucket/jobs/:jobId' };
    const apiBefore = await api();
    for (let i = 0; i < 3; i++) expect((await call(ls.url, 'GET', `/${bucket}/jobs/${jobId}`)).status).toBe(200);
    expect((await call(ls.url, 'GET', `/${bucket}/jobs/job_doesnotexist`)).status).toBe(404);
    const apiAfter = await api();
    const moved = (name: string, labels: Record<string, string>) => total(apiAfter, name, labels) - total(apiBefore, name, labels);
    expect(moved('lakesync_http_requests_total', { ...route, status: '200' })).toBe(3);
    expect(moved('lakesync_http_requests_total', { ...route, status: '404' })).toBe(1);
    expect(moved('lakesync_http_request_duration_seconds_count', { ...route, status: '200' })).toBe(3);
    expect((await fetch(`${ls.url}/metrics`)).status).toBe(200);

    // API request lines carry the route's bucket, source, job and workflow.
    const apiLines = lines(apiLogs);
    const discoverLine = apiLines.find((l) => (l.req as { url?: string } | undefined)?.url === `/${bucket}/sources/${sourceId}/discover`);
    expect(discoverLine).toMatchObject({ bucket, sourceId, jobId, workflowId: `lakesync-source-${sourceId}`, res: { statusCode: 200 } });
    const missingLine = apiLines.find((l) => (l.req as { url?: string } | undefined)?.url === `/${bucket}/jobs/job_doesnotexist`);
    expect(missingLine).toMatchObject({ bucket, jobId: 'job_doesnotexist', workflowId: 'lakesync-job-job_doesnotexist', res: { statusCode: 404 } });

    // The worker's output is JSON throughout (Core's own lines included), and workflows and activities use the same fields.
    const workerLines = lines(worker.output());
    expect(workerLines.find((l) => l.msg === 'running job' && l.jobId === jobId)).toMatchObject({
      bucket,
      sourceId,
      workflowId: `lakesync-source-${sourceId}`,
      workflowType: 'sourceController',
    });
    expect(workerLines.find((l) => l.msg === 'job finished' && l.jobId === jobId)).toMatchObject({
      bucket,
      sourceId,
      workflowId: `lakesync-job-${jobId}`,
      workflowType: 'syncRun',
      status: 'JOB_STATUS_SUCCEEDED',
    });
    expect(workerLines.find((l) => l.msg === 'scan complete')).toMatchObject({
      bucket,
      sourceId,
      jobId,
      workflowId: `lakesync-job-${jobId}`,
      activityType: 'scanSource',
      listed: 200,
    });
    expect(workerLines.find((l) => l.msg === 'object copy failed')).toMatchObject({
      bucket,
      sourceId,
      jobId: retryJob,
      workflowId: `lakesync-job-${retryJob}`,
      activityType: 'ingestBatch',
      key: 'd1/f1.bin',
    });
    expect(workerLines.filter((l) => 'taskToken' in l)).toEqual([]);
  });
});
