/**
 * Clean job state: however a job's workflow ends (terminated or cancelled by
 * an operator with the real `temporal` CLI), its job row is finished with the
 * reason and the controller goes on; and a job left RUNNING because its
 * workflow and its controller were terminated together, with no worker to
 * see it, is found and finished by the periodic check.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { call, waitFor, waitForJob } from '../support/http.js';
import { startTestLakesync, unique, type TestLakesync } from '../support/lakesync.js';
import { temporalCli } from '../support/temporal-cli.js';
import { listFiles } from '../support/objects.js';
import { controllerStatus } from '../support/controller.js';
import { historyChain } from '../support/history.js';
import { startWorkerProcess, type WorkerProcess } from '../../infra/worker-process.js';
import { syncRunWorkflowId } from '../../workflows/shared.js';

async function makeDir(n: number, dirs: string[]): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'lakesync-jobstate-'));
  dirs.push(dir);
  for (let i = 0; i < n; i++) await writeFile(join(dir, `f-${String(i).padStart(4, '0')}.txt`), `content ${i}`);
  return dir;
}

/** Creates a filesystem source and starts a discovery; resolves once its job is RUNNING and has copied some objects. */
async function copyingJob(ls: TestLakesync, bucket: string, dir: string, prefix: string) {
  const src = await call(ls.url, 'POST', `/${bucket}/sources`, {
    name: unique('src'),
    kind: 'filesystem',
    filesystem: { path: dir },
    batchSize: 10,
    syncIntervalSeconds: 3600,
    targetPrefix: prefix,
  });
  expect(src.status).toBe(201);
  const started = await call(ls.url, 'POST', `/${bucket}/sources/${src.body.sourceId}/discover`, {});
  const jobId = started.body.jobId as string;
  await waitForCopying(ls, bucket, jobId);
  return { sourceId: src.body.sourceId as string, controllerId: src.body.workflowId as string, jobId };
}

const waitForCopying = (ls: TestLakesync, bucket: string, jobId: string) =>
  waitFor(
    `job ${jobId} copying`,
    async () => {
      const job = (await call(ls.url, 'GET', `/${bucket}/jobs/${jobId}`)).body;
      return job.status === 'JOB_STATUS_RUNNING' && job.objectsProcessed >= 20;
    },
    60_000,
    50,
  );

const finishedJob = (ls: TestLakesync, bucket: string, jobId: string) =>
  waitFor(
    `job ${jobId} finished`,
    async () => {
      const job = (await call(ls.url, 'GET', `/${bucket}/jobs/${jobId}`)).body;
      return job.finishedAt && job;
    },
    60_000,
  );

describe('a job whose workflow an operator ends', () => {
  let ls: TestLakesync;
  const bucket = unique('kb');
  const dirs: string[] = [];

  beforeAll(async () => {
    // 25 copies per second: a 150-object sync lasts seconds, long enough to act on while it runs.
    ls = await startTestLakesync({
      lake: 'filesystem',
      env: { WORKER_MAX_OBJECTS_PER_SECOND: '25', WORKER_BATCH_CONCURRENCY: '2', WORKER_OBJECT_CONCURRENCY: '4' },
    });
    expect((await call(ls.url, 'POST', '/admin/buckets', { name: bucket })).status).toBe(201);
  });
  afterAll(async () => {
    await ls?.stop();
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  it('is finished FAILED with the reason when terminated, the controller goes on, and the next run completes the sync exactly', async () => {
    const dir = await makeDir(150, dirs);
    const { sourceId, controllerId, jobId } = await copyingJob(ls, bucket, dir, 'term/');
    await temporalCli('workflow', 'terminate', '--workflow-id', syncRunWorkflowId(jobId), '--reason', 'operator test');

    const job = await finishedJob(ls, bucket, jobId);
    expect(job).toMatchObject({ status: 'JOB_STATUS_FAILED', error: 'job workflow terminated before it finished' });
    expect(job.objectsProcessed).toBeGreaterThanOrEqual(20);
    expect(job.objectsProcessed).toBeLessThan(150);
    // The run copied objects before it was stopped: it made progress, so the failure count does not grow (halved from 0).
    const sync = await waitFor('the source to take in the end', async () => {
      const s = (await call(ls.url, 'GET', `/${bucket}/sources/${sourceId}/sync`)).body;
      return s.lastJobId === jobId && s;
    });
    expect(sync).toMatchObject({ lastError: 'job workflow terminated before it finished', consecutiveFailures: 0 });
    expect((await call(ls.url, 'GET', `/${bucket}/sources/${sourceId}`)).body).toMatchObject({ currentJobId: null, lastJobId: jobId });
    const idle = await waitFor('the controller idle', async () => {
      const st = await controllerStatus(ls.runtime.temporal, controllerId);
      return st.runs === 1 && st.currentJobId === null && st;
    });
    expect(idle).toMatchObject({ phase: 'idle', consecutiveFailures: 0, status: 'SOURCE_STATUS_ACTIVE' });

    // The controller is healthy: its next run picks up what the stopped one left and the lake ends exact.
    const next = await call(ls.url, 'POST', `/${bucket}/sources/${sourceId}/discover`, {});
    expect(next.status).toBe(200);
    const done = await waitForJob(ls.url, bucket, sourceId, next.body.jobId);
    expect(done.job.status).toBe('JOB_STATUS_SUCCEEDED');
    // Every object counted once, by the run that copied it.
    const stopped = (await call(ls.url, 'GET', `/${bucket}/jobs/${jobId}`)).body;
    expect(stopped.objectsProcessed + done.job.objectsProcessed).toBe(150);
    expect((await call(ls.url, 'GET', `/${bucket}/sources/${sourceId}`)).body).toMatchObject({ lastError: null, consecutiveFailures: 0, currentJobId: null });
    expect(await listFiles(join((ls.lake as { dir: string }).dir, bucket, 'term'))).toHaveLength(150);
  });

  it('is finished CANCELED when cancelled, and the cancellation does not count as a failure', async () => {
    const dir = await makeDir(150, dirs);
    const { sourceId, controllerId, jobId } = await copyingJob(ls, bucket, dir, 'cancel/');
    await temporalCli('workflow', 'cancel', '--workflow-id', syncRunWorkflowId(jobId));

    const job = await finishedJob(ls, bucket, jobId);
    expect(job.status).toBe('JOB_STATUS_CANCELED');
    const idle = await waitFor('the controller idle', async () => {
      const st = await controllerStatus(ls.runtime.temporal, controllerId);
      return st.runs === 1 && st.currentJobId === null && st;
    });
    expect(idle).toMatchObject({ phase: 'idle', consecutiveFailures: 0 });
    expect((await call(ls.url, 'GET', `/${bucket}/sources/${sourceId}`)).body).toMatchObject({ currentJobId: null, lastJobId: jobId, consecutiveFailures: 0 });
  });
});

describe('a job left RUNNING with no controller to see its workflow end', () => {
  let ls: TestLakesync;
  let worker: WorkerProcess | undefined;
  const bucket = unique('kb');
  const dirs: string[] = [];
  const workerEnv = () => ({ ...ls.workerEnv, WORKER_MAX_OBJECTS_PER_SECOND: '25', WORKER_BATCH_CONCURRENCY: '2', WORKER_OBJECT_CONCURRENCY: '4' });

  beforeAll(async () => {
    // The worker is its own process, so it can be gone while the API's periodic check (every 5 s) goes on.
    ls = await startTestLakesync({ lake: 'filesystem', worker: 'separate', env: { LAKESYNC_HEAL_INTERVAL_SECONDS: '5' } });
    expect((await call(ls.url, 'POST', '/admin/buckets', { name: bucket })).status).toBe(201);
  });
  afterAll(async () => {
    await worker?.kill('SIGKILL');
    await ls?.stop();
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  it('is found by the periodic check and finished FAILED, and the source syncs again', async () => {
    worker = await startWorkerProcess(workerEnv());
    const dir = await makeDir(150, dirs);
    const { sourceId, controllerId, jobId } = await copyingJob(ls, bucket, dir, 'heal/');
    // No worker: nothing runs the controller's reaction to what follows.
    await worker.kill('SIGKILL');
    const { runId: controllerRunId } = await ls.runtime.temporal.workflow.getHandle(controllerId).describe();
    await temporalCli('workflow', 'terminate', '--workflow-id', syncRunWorkflowId(jobId), '--reason', 'operator test');
    await temporalCli('workflow', 'terminate', '--workflow-id', controllerId, '--run-id', controllerRunId, '--reason', 'operator test');

    const job = await finishedJob(ls, bucket, jobId);
    expect(job).toMatchObject({ status: 'JOB_STATUS_FAILED', error: 'job workflow terminated before it finished' });
    // The controller never saw its child end: it was terminated with the child's end unprocessed, and finished no job.
    const events = await historyChain(ls.runtime.temporal, controllerId, controllerRunId);
    expect(events.some((e) => e.childWorkflowExecutionTerminatedEventAttributes)).toBe(true);
    expect(events.some((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'finishAbandonedJob')).toBe(false);
    expect(events.at(-1)?.workflowExecutionTerminatedEventAttributes).toBeTruthy();
    expect((await call(ls.url, 'GET', `/${bucket}/sources/${sourceId}`)).body).toMatchObject({
      currentJobId: null,
      lastJobId: jobId,
      lastError: 'job workflow terminated before it finished',
    });

    // The same check started the controller again: with a worker back, the source syncs to the end.
    worker = await startWorkerProcess(workerEnv());
    const next = await call(ls.url, 'POST', `/${bucket}/sources/${sourceId}/discover`, {});
    expect(next.status).toBe(200);
    const done = await waitForJob(ls.url, bucket, sourceId, next.body.jobId);
    expect(done.job.status).toBe('JOB_STATUS_SUCCEEDED');
    expect(await listFiles(join((ls.lake as { dir: string }).dir, bucket, 'heal'))).toHaveLength(150);
  });
});
