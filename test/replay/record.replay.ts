/**
 * Records the workflow histories the replay suite checks every change against
 * (`npm run replay:record`; not part of `npm test`). It drives each workflow
 * type through the paths running executions take in production — schedules,
 * signals from the API and the `temporal` CLI, merged triggers, dry runs,
 * failing objects, a source suspended after failed runs and resumed, jobs an operator terminates or cancels, continue-as-new,
 * upload syncs ended and expired, purges —
 * then writes every run's history to test/replay/histories/<commit>/ as the `temporal`
 * CLI's JSON. Record on the code that is deployed, before changing workflows.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { join } from 'node:path';
import { call, waitFor, waitForJob } from '../support/http.js';
import { startTestLakesync, unique, type TestLakesync } from '../support/lakesync.js';
import { temporalCli } from '../support/temporal-cli.js';
import { HISTORIES_DIR } from './histories.js';
import { syncRunWorkflowId } from '../../workflows/shared.js';

const run = promisify(execFile);

describe('record workflow histories', () => {
  let ls: TestLakesync;
  // A second lakesync whose copies are throttled, so an operator can act on a run while it is still running.
  let slow: TestLakesync;
  const bucket = unique('kb');
  const dirs: string[] = [];

  const makeDir = async (n: number): Promise<string> => {
    const dir = await mkdtemp(join(tmpdir(), 'lakesync-replay-'));
    dirs.push(dir);
    for (let i = 0; i < n; i++) {
      await mkdir(join(dir, `d${i % 3}`), { recursive: true });
      await writeFile(join(dir, `d${i % 3}`, `f-${String(i).padStart(3, '0')}.md`), `# file ${i}\nwords for the index ${i}\n`);
    }
    return dir;
  };

  beforeAll(async () => {
    ls = await startTestLakesync({ lake: 'filesystem' });
    expect((await call(ls.url, 'POST', '/admin/buckets', { name: bucket })).status).toBe(201);
    slow = await startTestLakesync({ lake: 'filesystem', env: { WORKER_MAX_OBJECTS_PER_SECOND: '20', WORKER_BATCH_CONCURRENCY: '2' } });
    expect((await call(slow.url, 'POST', '/admin/buckets', { name: bucket })).status).toBe(201);
  });
  afterAll(async () => {
    await slow?.stop();
    await ls?.stop();
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  it('drives every workflow type and writes its histories', { timeout: 900_000 }, async () => {
    const step = (m: string) => process.stderr.write(`[record] ${m}\n`);
    const sync = async (id: string) => (await call(ls.url, 'GET', `/${bucket}/sources/${id}/sync`)).body;
    // Dry runs are not a source's last sync, so wait on the job itself.
    const finished = (jobId: string) =>
      waitFor(`job ${jobId} to finish`, async () => (await call(ls.url, 'GET', `/${bucket}/jobs/${jobId}`)).body.finishedAt, 120_000);

    // Pipelines, so sync runs also schedule processBatch.
    step('Pipelines, so sync runs also schedule processBatch.');
    const pipeline = await call(ls.url, 'POST', `/${bucket}/pipelines`, { name: 'text', kind: 'fulltext', fulltext: {} });
    expect(pipeline.status).toBe(201);
    const rule = await call(ls.url, 'POST', `/${bucket}/rules`, { name: 'md', pipelineIds: [pipeline.body.pipelineId], match: { includePatterns: ['*.md'] } });
    expect(rule.status).toBe(201);

    // Quiet sources polled every 5 s while the steps below run: the first poll of `quiet` finds work, later ones
    // find nothing and stay in the run (a poll that finds a late file runs its job from there) until Temporal
    // suggests continuing as new (this server does at 400 events: some 35 idle polls); `once` (initial_only, empty)
    // completes on an idle first poll.
    step('Quiet sources: idle polls, a busy one among them, continue-as-new when suggested.');
    const jobsOf = async (id: string) =>
      (await call(ls.url, 'GET', `/${bucket}/jobs?source_id=${id}&page_size=1000`)).body.jobs as { objectsDiscovered: number; finishedAt: string | null }[];
    const quietDir = await makeDir(3);
    const quiet = (
      await call(ls.url, 'POST', `/${bucket}/sources`, { name: 'quiet', kind: 'filesystem', filesystem: { path: quietDir }, syncIntervalSeconds: 5 })
    ).body;
    const once = (
      await call(ls.url, 'POST', `/${bucket}/sources`, {
        name: 'once',
        kind: 'filesystem',
        filesystem: { path: await makeDir(0) },
        syncMode: 'initial_only',
        syncIntervalSeconds: 5,
      })
    ).body;
    const idlePolls = async () => (await jobsOf(quiet.sourceId)).filter((j) => j.objectsDiscovered === 0 && j.finishedAt).length;
    await waitFor('two idle polls of the quiet source', async () => (await idlePolls()) >= 2, 60_000);
    await writeFile(join(quietDir, 'd0', 'late.md'), '# late');
    await waitFor('the late file', async () => (await jobsOf(quiet.sourceId)).some((j) => j.objectsDiscovered === 1 && j.finishedAt), 60_000);
    await waitFor('the initial_only source completed', async () => (await sync(once.sourceId)).status === 'SOURCE_STATUS_COMPLETED', 60_000);
    // Switched to continuous once completed: the controller polls again and is ACTIVE (the completed-follows-sync-mode patch).
    expect((await call(ls.url, 'PATCH', `/${bucket}/sources/${once.sourceId}`, { syncMode: 'continuous' })).status).toBe(200);
    await waitFor('the switched source active again', async () => (await sync(once.sourceId)).status === 'SOURCE_STATUS_ACTIVE', 60_000);

    // A source whose runs are long enough to continue as new (the suite's server suggests it at 400 events).
    step("A source whose runs are long enough to continue as new (the suite's server suggests it at 400 events).");
    const dir = await makeDir(120);
    const src = (
      await call(ls.url, 'POST', `/${bucket}/sources`, { name: 'docs', kind: 'filesystem', filesystem: { path: dir }, batchSize: 2, syncIntervalSeconds: 5 })
    ).body;
    const first = await call(ls.url, 'POST', `/${bucket}/sources/${src.sourceId}/discover`, {});
    await waitForJob(ls.url, bucket, src.sourceId, first.body.jobId);

    // The schedule fires on its own; then a dry run, and triggers merged while a run is busy.
    step('The schedule fires on its own; then a dry run, and triggers merged while a run is busy.');
    await waitFor('a scheduled run', async () => (await sync(src.sourceId)).lastJobId !== first.body.jobId, 60_000);
    await call(ls.url, 'PATCH', `/${bucket}/sources/${src.sourceId}`, { syncIntervalSeconds: 3600 });
    const dry = await call(ls.url, 'POST', `/${bucket}/sources/${src.sourceId}/discover`, { dryRun: true });
    await finished(dry.body.jobId);
    await writeFile(join(dir, 'd0', 'new.md'), '# new');
    const full = await call(ls.url, 'POST', `/${bucket}/sources/${src.sourceId}/discover`, { fullSync: true });
    // A pause that reaches the running job (the controller signals the run), then a resume.
    await waitFor('the full run running', async () => (await sync(src.sourceId)).currentJobId === full.body.jobId);
    expect((await call(ls.url, 'POST', `/${bucket}/sources/${src.sourceId}/pause`, { reason: 'mid-run' })).status).toBe(200);
    expect((await call(ls.url, 'POST', `/${bucket}/sources/${src.sourceId}/resume`, {})).status).toBe(200);
    const merged = await call(ls.url, 'POST', `/${bucket}/sources/${src.sourceId}/discover`, {});
    await temporalCli('workflow', 'signal', '--workflow-id', src.workflowId, '--name', 'trigger', '--input', '{"fullSync":false}');
    await waitForJob(ls.url, bucket, src.sourceId, merged.body.jobId);
    expect(full.status).toBe(200);

    // Pause (API and CLI), resume, and a run queued while paused.
    step('Pause (API and CLI), resume, and a run queued while paused.');
    expect((await call(ls.url, 'POST', `/${bucket}/sources/${src.sourceId}/pause`, { reason: 'maintenance' })).status).toBe(200);
    const queued = await call(ls.url, 'POST', `/${bucket}/sources/${src.sourceId}/discover`, {});
    await temporalCli('workflow', 'signal', '--workflow-id', src.workflowId, '--name', 'resume');
    await waitForJob(ls.url, bucket, src.sourceId, queued.body.jobId);
    await temporalCli('workflow', 'signal', '--workflow-id', src.workflowId, '--name', 'pause', '--input', '{"reason":"cli"}');
    await waitFor('paused', async () => (await sync(src.sourceId)).status === 'SOURCE_STATUS_PAUSED');
    expect((await call(ls.url, 'POST', `/${bucket}/sources/${src.sourceId}/resume`, {})).status).toBe(200);

    // Objects that cannot be read: retried, dead-lettered, then replayed with retryFailed.
    step('Objects that cannot be read: retried, dead-lettered, then replayed with retryFailed.');
    const locked = join(dir, 'd1', 'locked.md');
    await writeFile(locked, 'secret');
    await chmod(locked, 0o000);
    const failing = await call(ls.url, 'POST', `/${bucket}/sources/${src.sourceId}/discover`, {});
    await waitForJob(ls.url, bucket, src.sourceId, failing.body.jobId);
    await chmod(locked, 0o644);
    const retry = await call(ls.url, 'POST', `/${bucket}/sources/${src.sourceId}/ingest`, { retryFailed: true });
    if (retry.body.jobId) await waitForJob(ls.url, bucket, src.sourceId, retry.body.jobId);
    const byRule = await call(ls.url, 'POST', `/${bucket}/sources/${src.sourceId}/ingest`, { ruleId: rule.body.ruleId });
    if (byRule.body.jobId) await waitForJob(ls.url, bucket, src.sourceId, byRule.body.jobId);

    // A source whose folder is gone: failed runs count, the second suspends it; resumed once the folder is back.
    step('A source that fails twice suspends; resumed, it syncs.');
    const flakyDir = await makeDir(4);
    const flaky = (
      await call(ls.url, 'POST', `/${bucket}/sources`, {
        name: 'flaky',
        kind: 'filesystem',
        filesystem: { path: flakyDir },
        suspendAfterFailures: 2,
        syncIntervalSeconds: 3600,
      })
    ).body;
    await rm(flakyDir, { recursive: true, force: true });
    for (let n = 0; n < 2; n++) await finished((await call(ls.url, 'POST', `/${bucket}/sources/${flaky.sourceId}/discover`, {})).body.jobId);
    await waitFor('suspended', async () => (await sync(flaky.sourceId)).status === 'SOURCE_STATUS_SUSPENDED');
    await mkdir(flakyDir, { recursive: true });
    await writeFile(join(flakyDir, 'back.md'), '# back');
    expect((await call(ls.url, 'POST', `/${bucket}/sources/${flaky.sourceId}/resume`, {})).status).toBe(200);
    const recovered = await call(ls.url, 'POST', `/${bucket}/sources/${flaky.sourceId}/discover`, {});
    await waitForJob(ls.url, bucket, flaky.sourceId, recovered.body.jobId);

    // A direct PUT wakes the bucket's push-only source.
    step("A direct PUT wakes the bucket's push-only source.");
    expect(
      (await fetch(`${ls.url}/${bucket}/pushed/a.md`, { method: 'PUT', headers: { authorization: `Bearer ${await ls.token()}` }, body: '# pushed' })).status,
    ).toBe(200);
    await waitFor(
      'the pushed object indexed',
      async () => (await call(ls.url, 'GET', `/${bucket}/objects/${encodeURIComponent('pushed/a.md')}/info`)).body.indexed === true,
      60_000,
    );

    // Upload syncs: one ended (FULL, so older files go to trash), one left to expire.
    step('Upload syncs: one ended (FULL, so older files go to trash), one left to expire.');
    const up = (await call(ls.url, 'POST', `/${bucket}/uploads`, { name: 'daily', path: 'up', syncType: 'FULL', ttlSeconds: 600 })).body.syncId;
    const form = new FormData();
    form.append('f', new Blob(['hello']), 'hello.txt');
    expect(
      (await fetch(`${ls.url}/${bucket}/uploads/${up}/files`, { method: 'POST', headers: { authorization: `Bearer ${await ls.token()}` }, body: form })).status,
    ).toBe(200);
    expect((await call(ls.url, 'POST', `/${bucket}/uploads/${up}/end`, {})).status).toBe(200);
    const expiring = (await call(ls.url, 'POST', `/${bucket}/uploads`, { name: 'abandoned', path: 'gone', syncType: 'INCREMENTAL', ttlSeconds: 5 })).body
      .syncId;
    await waitFor(
      'the abandoned sync to fail',
      async () =>
        (await call(ls.url, 'GET', `/${bucket}/uploads?size=10`)).body.find((s: { syncId: string; syncStatus: string }) => s.syncId === expiring)
          ?.syncStatus === 'Failed',
      60_000,
    );

    // A sharded discovery: one scanShard per top-level directory, the last to finish sweeping; then a quiet one, which its
    // last shard ends.
    const client = ls.runtime.temporal;
    step('A sharded discovery: one scanShard per top-level directory, the last to finish sweeping; then a quiet one its last shard ends.');
    const sharded = (
      await call(ls.url, 'POST', `/${bucket}/sources`, { name: 'sharded', kind: 'filesystem', filesystem: { path: await makeDir(9) }, shards: 3 })
    ).body;
    const shardedRun = await call(ls.url, 'POST', `/${bucket}/sources/${sharded.sourceId}/discover`, {});
    expect((await waitForJob(ls.url, bucket, sharded.sourceId, shardedRun.body.jobId)).job).toMatchObject({ objectsDiscovered: 9 });
    const shardScans = (await client.workflow.getHandle(`lakesync-job-${shardedRun.body.jobId}`).fetchHistory()).events?.filter(
      (e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'scanShard',
    );
    expect(shardScans?.length).toBe(3);
    const quietSharded = await call(ls.url, 'POST', `/${bucket}/sources/${sharded.sourceId}/discover`, {});
    expect((await waitForJob(ls.url, bucket, sharded.sourceId, quietSharded.body.jobId)).job).toMatchObject({ objectsListed: 9, objectsDiscovered: 0 });

    // Delete a source with purge: stops its controller and runs purgeLake.
    step('Delete a source with purge: stops its controller and runs purgeLake.');
    const other = (await call(ls.url, 'POST', `/${bucket}/sources`, { name: 'other', kind: 'filesystem', filesystem: { path: await makeDir(3) } })).body;
    const otherRun = await call(ls.url, 'POST', `/${bucket}/sources/${other.sourceId}/discover`, {});
    await waitForJob(ls.url, bucket, other.sourceId, otherRun.body.jobId);
    expect((await call(ls.url, 'DELETE', `/${bucket}/sources/${other.sourceId}?purge=true`)).status).toBe(202);
    await waitFor(
      'the purge to finish',
      async () => {
        for await (const _ of client.workflow.list({ query: `TaskQueue="${ls.taskQueue}" AND WorkflowType="purgeLake" AND ExecutionStatus="Completed"` }))
          return true;
        return false;
      },
      60_000,
    );

    // Jobs whose workflow an operator ends by hand mid-run (terminated, then cancelled); the controller goes on to its next job.
    step('Jobs whose workflow an operator terminates or cancels mid-run.');
    const doomed = (
      await call(slow.url, 'POST', `/${bucket}/sources`, {
        name: 'doomed',
        kind: 'filesystem',
        filesystem: { path: await makeDir(100) },
        batchSize: 2,
        syncIntervalSeconds: 3600,
      })
    ).body;
    const copying = (jobId: string) =>
      waitFor(`job ${jobId} copying`, async () => {
        const job = (await call(slow.url, 'GET', `/${bucket}/jobs/${jobId}`)).body;
        return job.status === 'JOB_STATUS_RUNNING' && job.objectsProcessed >= 5;
      });
    const terminated = await call(slow.url, 'POST', `/${bucket}/sources/${doomed.sourceId}/discover`, {});
    await copying(terminated.body.jobId);
    await temporalCli('workflow', 'terminate', '--workflow-id', syncRunWorkflowId(terminated.body.jobId), '--reason', 'operator stopped the job');
    const cancelled = await call(slow.url, 'POST', `/${bucket}/sources/${doomed.sourceId}/discover`, { fullSync: true });
    await copying(cancelled.body.jobId);
    await temporalCli('workflow', 'cancel', '--workflow-id', syncRunWorkflowId(cancelled.body.jobId));
    const after = await call(slow.url, 'POST', `/${bucket}/sources/${doomed.sourceId}/discover`, {});
    await waitForJob(slow.url, bucket, doomed.sourceId, after.body.jobId);

    // The quiet controller's run that continued as new after idle polls alone, as Temporal suggested.
    step('The quiet source continues as new after idle polls.');
    await waitFor(
      'a run of idle polls continued as new',
      async () => {
        for await (const wf of client.workflow.list({ query: `WorkflowId="${quiet.workflowId}" AND ExecutionStatus="ContinuedAsNew"` })) {
          const events = (await client.workflow.getHandle(wf.workflowId, wf.runId).fetchHistory()).events ?? [];
          const polls = events.filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'pollSource').length;
          if (polls > 2 && !events.some((e) => e.startChildWorkflowExecutionInitiatedEventAttributes)) return true;
        }
        return false;
      },
      420_000,
      5_000,
    );

    // Every run of every workflow on both task queues, written as the temporal CLI writes histories.
    step('Every run of every workflow on this task queue, written as the temporal CLI writes histories.');
    const written = new Map<string, number>();
    // One folder per recording, named after the commit the workflows ran on; older recordings stay.
    const { stdout: commit } = await run('git', ['rev-parse', '--short', 'HEAD']);
    const out = join(HISTORIES_DIR, commit.trim());
    await rm(out, { recursive: true, force: true });
    await mkdir(out, { recursive: true });
    for await (const wf of client.workflow.list({ query: `TaskQueue="${ls.taskQueue}" OR TaskQueue="${slow.taskQueue}"` })) {
      const n = (written.get(wf.type) ?? 0) + 1;
      written.set(wf.type, n);
      await writeFile(
        join(out, `${wf.type}-${String(n).padStart(3, '0')}.json`),
        await temporalCli('workflow', 'show', '--workflow-id', wf.workflowId, '--run-id', wf.runId, '--output', 'json'),
      );
    }
    expect([...written.keys()].sort()).toEqual(['purgeLake', 'sourceController', 'syncRun', 'uploadSync']);
  });
});
