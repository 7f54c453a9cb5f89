/**
 * GetSyncStatus keeps answering when no worker can: the controller's query
 * times out and the status comes from the database the controller mirrors
 * its state into. When a worker is back, answers are live again.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { call, waitFor, waitForJob } from '../support/http.js';
import { startTestLakesync, unique, type TestLakesync } from '../support/lakesync.js';
import { startWorkerProcess, type WorkerProcess } from '../../infra/worker-process.js';
import { temporalCli } from '../support/temporal-cli.js';

describe('sync status without a worker', () => {
  let ls: TestLakesync;
  let worker: WorkerProcess | undefined;
  let dir: string;
  const bucket = unique('kb');

  beforeAll(async () => {
    ls = await startTestLakesync({ lake: 'filesystem', worker: 'separate', env: { LAKESYNC_HEAL_INTERVAL_SECONDS: '5' } });
    dir = await mkdtemp(join(tmpdir(), 'lakesync-fallback-'));
    await writeFile(join(dir, 'a.txt'), 'a');
  });
  afterAll(async () => {
    await worker?.kill('SIGKILL');
    await ls?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('answers from the database, then live again', async () => {
    worker = await startWorkerProcess(ls.workerEnv);
    await call(ls.url, 'POST', '/admin/buckets', { name: bucket });
    const src = await call(ls.url, 'POST', `/${bucket}/sources`, { name: 'fb', kind: 'filesystem', filesystem: { path: dir }, syncIntervalSeconds: 600 });
    const run = await call(ls.url, 'POST', `/${bucket}/sources/${src.body.sourceId}/pause`, { reason: 'before the outage' });
    expect(run.status).toBe(200);
    await waitFor('paused, live', async () => {
      const s = await call(ls.url, 'GET', `/${bucket}/sources/${src.body.sourceId}/sync`);
      return s.body.live && s.body.status === 'SOURCE_STATUS_PAUSED';
    });
    // The controller mirrors its state into the database as it changes.
    await waitFor('state mirrored', async () => {
      const s = await call(ls.url, 'GET', `/${bucket}/sources/${src.body.sourceId}`);
      return s.body.paused && s.body.nextSyncAt;
    });

    await worker.kill('SIGKILL');
    worker = undefined;
    const started = Date.now();
    const down = await call(ls.url, 'GET', `/${bucket}/sources/${src.body.sourceId}/sync`);
    expect(down.status).toBe(200);
    expect(down.body, JSON.stringify(down.body)).toMatchObject({
      live: false,
      status: 'SOURCE_STATUS_PAUSED',
      pauseReason: 'before the outage',
      bucket,
      sourceId: src.body.sourceId,
    });
    expect(Number(down.body.nextSyncAt)).toBeGreaterThan(0);
    expect(Date.now() - started).toBeLessThan(15_000);

    worker = await startWorkerProcess(ls.workerEnv);
    await call(ls.url, 'POST', `/${bucket}/sources/${src.body.sourceId}/resume`, {});
    const job = await call(ls.url, 'POST', `/${bucket}/sources/${src.body.sourceId}/discover`, {});
    const done = await waitForJob(ls.url, bucket, src.body.sourceId, job.body.jobId);
    expect(done.sync).toMatchObject({ live: true, status: 'SOURCE_STATUS_ACTIVE', objectsProcessed: '1' });
  });

  it('restarts a controller that was terminated, by the periodic check, with nobody calling it', async () => {
    const src = await call(ls.url, 'POST', `/${bucket}/sources`, { name: 'healed', kind: 'filesystem', filesystem: { path: dir }, syncIntervalSeconds: 600 });
    const describe = async () =>
      JSON.parse(await temporalCli('workflow', 'describe', '--workflow-id', src.body.workflowId, '--output', 'json')).workflowExecutionInfo;
    await waitFor('controller running', async () => (await describe()).status === 'WORKFLOW_EXECUTION_STATUS_RUNNING');
    const terminated = (await describe()).execution.runId as string;
    await temporalCli('workflow', 'terminate', '--workflow-id', src.body.workflowId, '--reason', 'operator test');
    const healed = await waitFor(
      'a new controller run',
      async () => {
        const info = await describe();
        return info.status === 'WORKFLOW_EXECUTION_STATUS_RUNNING' && info.execution.runId !== terminated && info;
      },
      30_000,
      500,
    );
    expect(healed.execution.runId).not.toBe(terminated);
  });
});
