/**
 * The source controller: an entity workflow per source that owns the
 * schedule, serialises runs, coalesces triggers, pauses and resumes from the
 * API or the `temporal` CLI, suspends after repeated failures, and heals.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateBucketCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { inject } from 'vitest';
import { call, waitFor, waitForJob } from '../support/http.js';
import { minioClient, startTestLakesync, unique, type TestLakesync } from '../support/lakesync.js';
import { temporalCli } from '../support/temporal-cli.js';
import { listFiles } from '../support/objects.js';
import { activityReport, historyChain } from '../support/history.js';
import { armsTimer, controllerStatus, payloadValue, restingRun } from '../support/controller.js';
import { syncRunWorkflowId } from '../../workflows/shared.js';

const fileCount = async (dir: string): Promise<number> => (await listFiles(dir)).length;

async function makeDir(n: number, prefix = 'f'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'lakesync-ctl-'));
  for (let i = 0; i < n; i++) await writeFile(join(dir, `${prefix}-${String(i).padStart(4, '0')}.txt`), `content ${i}`);
  return dir;
}

describe('source controller', () => {
  let ls: TestLakesync;
  const bucket = unique('kb');
  const dirs: string[] = [];
  let lakeRoot: string;

  const sync = async (sourceId: string) => (await call(ls.url, 'GET', `/${bucket}/sources/${sourceId}/sync`)).body;
  const createFsSource = async (dir: string, extra: Record<string, unknown> = {}) => {
    const res = await call(ls.url, 'POST', `/${bucket}/sources`, {
      name: unique('src'),
      kind: 'filesystem',
      filesystem: { path: dir },
      syncIntervalSeconds: 3600,
      ...extra,
    });
    expect(res.status).toBe(201);
    return res.body as { sourceId: string; workflowId: string; targetPrefix: string };
  };

  beforeAll(async () => {
    // 25 copies per second on this worker makes a 150-object sync last seconds: long enough to act on.
    ls = await startTestLakesync({
      lake: 'filesystem',
      env: { WORKER_MAX_OBJECTS_PER_SECOND: '25', WORKER_BATCH_CONCURRENCY: '2', WORKER_OBJECT_CONCURRENCY: '4' },
    });
    lakeRoot = join((ls.lake as { dir: string }).dir, bucket);
    expect((await call(ls.url, 'POST', '/admin/buckets', { name: bucket })).status).toBe(201);
  });
  afterAll(async () => {
    await ls?.stop();
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  it('pauses and resumes from the temporal CLI: nothing lands while paused, and the sync then completes exactly', async () => {
    const dir = await makeDir(150);
    dirs.push(dir);
    const src = await createFsSource(dir, { batchSize: 10, targetPrefix: 'cli/' });
    const started = await call(ls.url, 'POST', `/${bucket}/sources/${src.sourceId}/discover`, {});
    await waitFor('some progress', async () => Number((await sync(src.sourceId)).objectsProcessed) >= 20, 60_000, 100);

    await temporalCli('workflow', 'signal', '--workflow-id', src.workflowId, '--name', 'pause', '--input', '{"reason":"maintenance window"}');
    const paused = await waitFor('paused status', async () => {
      const s = await sync(src.sourceId);
      return s.status === 'SOURCE_STATUS_PAUSED' && s;
    });
    expect(paused.pauseReason).toBe('maintenance window');
    // Batches in flight finish: the run holds no copy any more once it has taken in the pause.
    const run = ls.runtime.temporal.workflow.getHandle(syncRunWorkflowId(started.body.jobId));
    await waitFor(
      'the batches in flight to finish',
      async () => {
        if (!(await run.query<boolean>('paused'))) return false;
        const pending = (await run.describe()).raw.pendingActivities ?? [];
        return !pending.some((a) => a.activityType?.name === 'ingestBatch' || a.activityType?.name === 'processBatch');
      },
      60_000,
      100,
    );
    const frozen = await fileCount(join(lakeRoot, 'cli'));
    expect(frozen).toBeLessThan(150);
    // Every file in the lake was counted, and nothing is half-counted.
    expect(Number((await sync(src.sourceId)).objectsProcessed)).toBe(frozen);
    expect(
      JSON.parse(await temporalCli('workflow', 'query', '--workflow-id', src.workflowId, '--name', 'status', '--output', 'json')).queryResult[0],
    ).toMatchObject({ paused: true, phase: 'running' });
    expect(await fileCount(join(lakeRoot, 'cli'))).toBe(frozen);

    await temporalCli('workflow', 'signal', '--workflow-id', src.workflowId, '--name', 'resume');
    const done = await waitForJob(ls.url, bucket, src.sourceId, started.body.jobId);
    expect(done.job).toMatchObject({ status: 'JOB_STATUS_SUCCEEDED', objectsDiscovered: 150, objectsProcessed: 150, objectsFailed: 0 });
    expect(done.sync.status).toBe('SOURCE_STATUS_ACTIVE');
    expect(await fileCount(join(lakeRoot, 'cli'))).toBe(150);

    // Nothing was dispatched while paused: the run's history schedules no copy between the pause and the resume it was sent.
    expect(done.job.workflowId).toBe(run.workflowId);
    const events = await historyChain(ls.runtime.temporal, run.workflowId, done.job.runId);
    const signals = events.flatMap((e, i) =>
      e.workflowExecutionSignaledEventAttributes?.signalName === 'setPaused'
        ? [{ i, paused: payloadValue(e.workflowExecutionSignaledEventAttributes.input) }]
        : [],
    );
    expect(signals.map((s) => s.paused)).toEqual([true, false]);
    const whilePaused = events.slice(signals[0]!.i, signals[1]!.i).filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'ingestBatch');
    expect(whilePaused).toHaveLength(0);
    // And what was copied before the pause is exactly what the lake held while it lasted.
    const before = activityReport(events.slice(0, signals[1]!.i));
    expect([...before.ingestedByIdentity.values()].reduce((n, v) => n + v.objects, 0)).toBe(frozen);
  });

  it('pauses and resumes identically through the REST routes', async () => {
    const dir = await makeDir(5);
    dirs.push(dir);
    const src = await createFsSource(dir, { targetPrefix: 'rest/' });
    expect((await call(ls.url, 'POST', `/${bucket}/sources/${src.sourceId}/pause`, { reason: 'rest' })).status).toBe(200);
    await waitFor('paused', async () => (await sync(src.sourceId)).status === 'SOURCE_STATUS_PAUSED');
    // The controller mirrors its state into the source row as it changes.
    const got = await waitFor('state mirrored', async () => {
      const s = await call(ls.url, 'GET', `/${bucket}/sources/${src.sourceId}`);
      return s.body.paused && s;
    });
    expect(got.body).toMatchObject({ paused: true, pauseReason: 'rest', status: 'SOURCE_STATUS_PAUSED' });
    // A discovery asked for while paused waits for the resume.
    const queued = await call(ls.url, 'POST', `/${bucket}/sources/${src.sourceId}/discover`, {});
    expect(queued.body.message).toMatch(/until the source is resumed/);
    // The controller holds the job, and no run for it exists: nothing can land until the resume.
    expect(await controllerStatus(ls.runtime.temporal, src.workflowId)).toMatchObject({ phase: 'paused', currentJobId: null, queuedJobId: queued.body.jobId });
    expect((await call(ls.url, 'GET', `/${bucket}/jobs/${queued.body.jobId}`)).body).toMatchObject({ status: 'JOB_STATUS_PENDING', startedAt: null });
    await expect(ls.runtime.temporal.workflow.getHandle(syncRunWorkflowId(queued.body.jobId)).describe()).rejects.toThrow(/not found/i);
    expect(await fileCount(join(lakeRoot, 'rest'))).toBe(0);
    const resumedAt = Date.now();
    expect((await call(ls.url, 'POST', `/${bucket}/sources/${src.sourceId}/resume`, {})).status).toBe(200);
    const done = await waitForJob(ls.url, bucket, src.sourceId, queued.body.jobId);
    expect(done.job.objectsProcessed).toBe(5);
    expect(done.sync.status).toBe('SOURCE_STATUS_ACTIVE');
    // The paused discovery's job started after the resume, not before.
    const run = await ls.runtime.temporal.workflow.getHandle(syncRunWorkflowId(queued.body.jobId)).describe();
    expect(run.startTime.getTime()).toBeGreaterThanOrEqual(resumedAt);
    expect(Date.parse(done.job.startedAt)).toBeGreaterThanOrEqual(resumedAt);
  });

  it('coalesces three triggers during a run into exactly one follow-up run, full if any asked for it', async () => {
    const dir = await makeDir(100, 'c');
    dirs.push(dir);
    const src = await createFsSource(dir, { batchSize: 10, targetPrefix: 'co/' });
    const first = await call(ls.url, 'POST', `/${bucket}/sources/${src.sourceId}/discover`, {});
    await waitFor('run under way', async () => (await sync(src.sourceId)).currentJobId === first.body.jobId);
    const a = await call(ls.url, 'POST', `/${bucket}/sources/${src.sourceId}/discover`, {});
    const b = await call(ls.url, 'POST', `/${bucket}/sources/${src.sourceId}/discover`, { fullSync: true });
    await temporalCli('workflow', 'signal', '--workflow-id', src.workflowId, '--name', 'trigger', '--input', '{}');
    expect(a.body.jobId).not.toBe(first.body.jobId);
    expect(b.body.jobId).toBe(a.body.jobId);
    expect(a.body.message).toMatch(/queued after job/);
    const follow = await waitForJob(ls.url, bucket, src.sourceId, a.body.jobId);
    expect(follow.job).toMatchObject({ fullSync: true, objectsDiscovered: 100 });
    // The controller has taken in the follow-up's end and holds nothing more: no second follow-up can come.
    const idle = await waitFor('the controller idle after the follow-up', async () => {
      const st = await controllerStatus(ls.runtime.temporal, src.workflowId);
      return st.runs >= 2 && st.currentJobId === null && st.queuedJobId === null && st;
    });
    expect(idle).toMatchObject({ phase: 'idle', runs: 2 });
    const jobs = await call(ls.url, 'GET', `/${bucket}/jobs?source_id=${src.sourceId}`);
    expect(jobs.body.totalCount).toBe(2);
    expect(jobs.body.jobs.map((j: { jobId: string }) => j.jobId).sort()).toEqual([first.body.jobId, a.body.jobId].sort());
  });

  it('starts the run after a short one at once: the server holds back no run of the controller', async () => {
    const dir = await makeDir(1, 'q');
    dirs.push(dir);
    const src = await createFsSource(dir, { targetPrefix: 'q/' });
    const client = ls.runtime.temporal;
    const runId = async () => (await client.workflow.getHandle(src.workflowId).describe()).runId;
    await waitFor('first timer', async () => Number((await sync(src.sourceId)).nextSyncAt));
    // Each PATCH makes the controller re-read its settings on a fresh run (it continues as new). The second comes
    // moments into the run the first began, so that run is short: the server holds back the first task of the run
    // after one that lived less than history.workflowIdReuseMinimalInterval (1 s by default; 100 ms on lakesync's).
    const runs = [await runId()];
    for (const seconds of [3601, 3602]) {
      expect((await call(ls.url, 'PATCH', `/${bucket}/sources/${src.sourceId}`, { syncIntervalSeconds: seconds })).status).toBe(200);
      runs.push(await waitFor('a fresh run', async () => ((id) => id !== runs.at(-1) && id)(await runId())));
    }
    const short = await client.workflow.getHandle(src.workflowId, runs[1]).describe();
    expect(short.closeTime!.getTime() - short.startTime.getTime()).toBeLessThan(900);
    const [started] = (await client.workflow.getHandle(src.workflowId, runs[2]).fetchHistory()).events ?? [];
    const backoff = started?.workflowExecutionStartedEventAttributes?.firstWorkflowTaskBackoff;
    expect(backoff ? Number(backoff.seconds ?? 0) * 1000 + Number(backoff.nanos ?? 0) / 1e6 : 0).toBeLessThanOrEqual(100);
  });

  it('polls on its interval with durable timers and picks up new objects without any API call', async () => {
    const dir = await makeDir(3, 'p');
    dirs.push(dir);
    const src = await createFsSource(dir, { syncIntervalSeconds: 5, targetPrefix: 'poll/' });
    await waitFor('first scheduled poll', async () => (await fileCount(join(lakeRoot, 'poll'))) === 3, 30_000, 250);
    await writeFile(join(dir, 'p-late.txt'), 'arrived later');
    await waitFor('second scheduled poll', async () => (await fileCount(join(lakeRoot, 'poll'))) === 4, 30_000, 250);
    const jobs = await call(ls.url, 'GET', `/${bucket}/jobs?source_id=${src.sourceId}`);
    expect(jobs.body.jobs.every((j: { trigger: string }) => j.trigger === 'schedule')).toBe(true);
    expect(jobs.body.totalCount).toBeGreaterThanOrEqual(2);
    // The next poll is one interval after the last run ended (read between two cycles: the run's end and the timer are set moments apart).
    await waitFor(
      'timer one interval after the last run',
      async () => {
        const s = await sync(src.sourceId);
        return !s.currentJobId && Math.abs(Number(s.nextSyncAt) - (Number(s.lastSyncAt) + 5000)) < 2000;
      },
      20_000,
      100,
    );
    // Continue-as-new after every cycle keeps the current history small.
    const described = JSON.parse(await temporalCli('workflow', 'describe', '--workflow-id', src.workflowId, '--output', 'json'));
    expect(Number(described.workflowExecutionInfo.historyLength)).toBeLessThan(60);
  });

  it('stops polling after the first successful sync in initial_only mode', async () => {
    const dir = await makeDir(2, 'i');
    dirs.push(dir);
    const src = await createFsSource(dir, { syncMode: 'initial_only', syncIntervalSeconds: 5, targetPrefix: 'initial/' });
    const done = await waitFor(
      'completed',
      async () => {
        const s = await sync(src.sourceId);
        return s.status === 'SOURCE_STATUS_COMPLETED' && s;
      },
      30_000,
      250,
    );
    expect(done.nextSyncAt).toBeNull();
    expect(await fileCount(join(lakeRoot, 'initial'))).toBe(2);
    // Waiting with no timer armed and nothing queued: no poll can come.
    expect(armsTimer(await restingRun(ls.runtime.temporal, src.workflowId))).toBe(false);
    expect(await controllerStatus(ls.runtime.temporal, src.workflowId)).toMatchObject({ phase: 'completed', nextSyncAt: null, queuedJobId: null, runs: 1 });
    const jobs = await call(ls.url, 'GET', `/${bucket}/jobs?source_id=${src.sourceId}`);
    expect(jobs.body.totalCount).toBe(1);
    expect((await call(ls.url, 'GET', `/${bucket}/sources/${src.sourceId}`)).body.status).toBe('SOURCE_STATUS_COMPLETED');
  });

  it('takes a new interval from PATCH on the next cycle, with K3 optional-update semantics', async () => {
    const dir = await makeDir(1, 'u');
    dirs.push(dir);
    const src = await createFsSource(dir, { fileFilters: { includePatterns: ['*.txt'], excludePatterns: ['tmp/**'] } });
    const before = await waitFor('first timer', async () => Number((await sync(src.sourceId)).nextSyncAt));
    expect(before).toBeGreaterThan(Date.now() + 3_000_000);
    const patched = await call(ls.url, 'PATCH', `/${bucket}/sources/${src.sourceId}`, {
      syncIntervalSeconds: 30,
      fileFilters: { excludePatterns: [] },
      targetPrefix: '',
    });
    expect(patched.status).toBe(200);
    expect(patched.body.syncIntervalSeconds).toBe(30);
    expect(patched.body.fileFilters).toEqual({ includePatterns: ['*.txt'] });
    expect(patched.body.name).toBe((await call(ls.url, 'GET', `/${bucket}/sources/${src.sourceId}`)).body.name);
    await waitFor('re-armed timer', async () => Number((await sync(src.sourceId)).nextSyncAt) < Date.now() + 60_000);
    const bad = await call(ls.url, 'PATCH', `/${bucket}/sources/${src.sourceId}`, { kind: 's3' });
    expect(bad.status).toBe(400);
    expect(bad.body.details[0].field).toBe('kind');
  });

  it('suspends after repeated failures, and resumes and succeeds once the cause is fixed', async () => {
    const s3 = minioClient();
    const { minio } = inject('infra');
    const missing = unique('missing');
    const res = await call(ls.url, 'POST', `/${bucket}/sources`, {
      name: unique('broken'),
      kind: 's3',
      s3: { endpoint: minio.endpoint, bucket: missing, accessKeyId: minio.accessKeyId, secretAccessKey: minio.secretAccessKey },
      syncIntervalSeconds: 5,
      suspendAfterFailures: 2,
      targetPrefix: 'fixed/',
    });
    const sourceId = res.body.sourceId;
    const suspended = await waitFor(
      'suspension',
      async () => {
        const s = await sync(sourceId);
        return s.status === 'SOURCE_STATUS_SUSPENDED' && s;
      },
      90_000,
      500,
    );
    expect(suspended.consecutiveFailures).toBe(2);
    expect(suspended.lastError).toMatch(/bucket/i);
    // The source row mirrors the controller one activity later than the live status answers.
    const stored = await waitFor('the stored suspension', async () => {
      const row = (await call(ls.url, 'GET', `/${bucket}/sources/${sourceId}`)).body;
      return row.status === 'SOURCE_STATUS_SUSPENDED' && row;
    });
    expect(stored).toMatchObject({ status: 'SOURCE_STATUS_SUSPENDED', consecutiveFailures: 2 });
    // Suspended means no more polls: the controller waits with no timer armed and nothing queued.
    expect(armsTimer(await restingRun(ls.runtime.temporal, res.body.workflowId))).toBe(false);
    expect(await controllerStatus(ls.runtime.temporal, res.body.workflowId)).toMatchObject({ phase: 'suspended', queuedJobId: null, runs: 2 });
    expect((await call(ls.url, 'GET', `/${bucket}/jobs?source_id=${sourceId}`)).body.totalCount).toBe(2);

    await s3.send(new CreateBucketCommand({ Bucket: missing }));
    await s3.send(new PutObjectCommand({ Bucket: missing, Key: 'now-here.txt', Body: 'here' }));
    await call(ls.url, 'POST', `/${bucket}/sources/${sourceId}/resume`, {});
    const healthy = await waitFor(
      'recovery',
      async () => {
        const s = await sync(sourceId);
        return s.status === 'SOURCE_STATUS_ACTIVE' && s.lastSuccessAt && s;
      },
      60_000,
      500,
    );
    expect(healthy.consecutiveFailures).toBe(0);
    expect(await fileCount(join(lakeRoot, 'fixed'))).toBe(1);
  });

  it('heals a controller terminated by hand, and stops everything when the source is deleted', async () => {
    const dir = await makeDir(2, 'h');
    dirs.push(dir);
    const src = await createFsSource(dir, { targetPrefix: 'heal/' });
    await temporalCli('workflow', 'terminate', '--workflow-id', src.workflowId, '--reason', 'operator test');
    const started = await call(ls.url, 'POST', `/${bucket}/sources/${src.sourceId}/discover`, {});
    expect(started.status).toBe(200);
    const done = await waitForJob(ls.url, bucket, src.sourceId, started.body.jobId);
    expect(done.job.objectsProcessed).toBe(2);
    expect(done.sync.live).toBe(true);

    expect((await call(ls.url, 'DELETE', `/${bucket}/sources/${src.sourceId}`)).status).toBe(204);
    expect((await call(ls.url, 'GET', `/${bucket}/sources/${src.sourceId}`)).status).toBe(404);
    await waitFor('controller closed', async () => {
      const d = JSON.parse(await temporalCli('workflow', 'describe', '--workflow-id', src.workflowId, '--output', 'json'));
      return d.workflowExecutionInfo.status !== 'WORKFLOW_EXECUTION_STATUS_RUNNING';
    });
    // Lake objects are kept.
    expect(await fileCount(join(lakeRoot, 'heal'))).toBe(2);
  });
});
