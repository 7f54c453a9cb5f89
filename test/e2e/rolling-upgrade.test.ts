/**
 * A rolling upgrade with Temporal Worker Versioning (README "Upgrading
 * lakesync"): worker processes of build A run a sync; a worker of build B, a
 * different workflow bundle (test/support/upgrade-workflows.ts), starts and
 * makes itself the deployment's current version; A is sent SIGTERM while the
 * sync is in flight. The sync finishes on B with the lake and the counters
 * exact, and its history holds workflow tasks completed by both builds and
 * B's patch marker. An old build restarting afterwards does not take the
 * deployment back; the operator's `set-current-version` does.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import postgres from 'postgres';
import { decodeVersioningBehavior } from '@temporalio/common';
import { bundleWorkflowCode } from '@temporalio/worker';
import { call, waitFor, waitForJob } from '../support/http.js';
import { startTestLakesync, unique, type TestLakesync } from '../support/lakesync.js';
import { sha256, tree, writeAll } from '../support/objects.js';
import { activityReport, historyChain } from '../support/history.js';
import { temporalCli } from '../support/temporal-cli.js';
import { ROLLING_UPGRADE_PATCH } from '../support/upgrade-workflows.js';
import { NO_PLAN_WHEN_NOTHING_OWED, ONE_STEP_START, PARTIAL_WHEN_IDLE, SCAN_ENDS_JOB } from '../../workflows/sync-run.js';
import { startWorkerProcess, type WorkerProcess } from '../../infra/worker-process.js';

type HistoryEvent = Awaited<ReturnType<typeof historyChain>>[number];

/** The build id of every workflow task completed in these events, in order, with repeats folded. */
const taskBuilds = (events: HistoryEvent[]): string[] =>
  events
    .flatMap((e) => (e.workflowTaskCompletedEventAttributes ? [e.workflowTaskCompletedEventAttributes.deploymentVersion?.buildId ?? 'unversioned'] : []))
    .filter((b, i, all) => b !== all[i - 1]);

const patchesOf = (events: HistoryEvent[]): string[] =>
  events.flatMap((e) => {
    const data = e.markerRecordedEventAttributes?.details?.['patch-data']?.payloads?.[0]?.data;
    return data ? [(JSON.parse(Buffer.from(data).toString('utf8')) as { id: string }).id] : [];
  });

describe('rolling upgrade with Worker Versioning', () => {
  let ls: TestLakesync;
  let sql: postgres.Sql;
  let bundleB: string;
  const running: WorkerProcess[] = [];
  const dirs: string[] = [];
  const bucket = unique('kb');
  const deploymentName = unique('lakesync-upgrade');
  let sourceId: string;
  let dir: string;
  /** Build B's worker, current once the first test has run. */
  let b: WorkerProcess;

  const jobRow = async (jobId: string) => (await sql`select * from jobs where id = ${jobId}`)[0];
  const identity = (p: WorkerProcess) => `${p.child.pid}@`;
  const currentBuild = async () =>
    (await ls.runtime.temporal.workflowService.describeWorkerDeployment({ namespace: 'default', deploymentName })).workerDeploymentInfo?.routingConfig
      ?.currentDeploymentVersion?.buildId;
  /** `npm run worker` of one build, making itself current on start; two batches at a time so few are in flight. */
  const startBuild = async (buildId: string, env: Record<string, string> = {}) => {
    const p = await startWorkerProcess({
      ...ls.workerEnv,
      LAKESYNC_WORKER_DEPLOYMENT: deploymentName,
      LAKESYNC_WORKER_BUILD_ID: buildId,
      LAKESYNC_WORKER_SET_CURRENT: 'true',
      WORKER_BATCH_CONCURRENCY: '2',
      ...env,
    });
    running.push(p);
    return p;
  };
  const seed = async (count: number, from: number) => {
    const files = new Map<string, Buffer>();
    for (let i = from; i < from + count; i++) files.set(`part-${i % 10}/obj-${String(i).padStart(5, '0')}.bin`, randomBytes(100 + (i % 700)));
    await writeAll(dir, files);
    return files;
  };

  beforeAll(async () => {
    ls = await startTestLakesync({ lake: 'filesystem', worker: 'separate' });
    sql = postgres(ls.databaseUrl, { max: 2, onnotice: () => undefined });
    expect((await call(ls.url, 'POST', '/admin/buckets', { name: bucket })).status).toBe(201);
    dir = await mkdtemp(join(tmpdir(), 'lakesync-upgrade-'));
    dirs.push(dir);
    // Build B: the same workflows but for a patched syncRun, bundled as `npm run build` bundles the released ones.
    const bundle = await bundleWorkflowCode({
      workflowsPath: fileURLToPath(new URL('../support/upgrade-workflows.ts', import.meta.url)),
      logger: { info() {}, warn() {}, error() {}, debug() {}, trace() {}, log() {} } as never,
    });
    const bundleDir = await mkdtemp(join(tmpdir(), 'lakesync-build-b-'));
    dirs.push(bundleDir);
    bundleB = join(bundleDir, 'workflow-bundle.js');
    await writeFile(bundleB, bundle.code);
  });
  afterAll(async () => {
    for (const p of running) await p.kill('SIGKILL');
    await sql?.end();
    await ls?.stop();
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  it('a sync started on build A finishes on build B after A stops: the lake and the counters exact, both builds in its history', async () => {
    const files = await seed(600, 0);
    const bytes = [...files.values()].reduce((n, b) => n + b.length, 0);
    // 5 copies/s: A alone would need two minutes, so B starts and A stops with the sync in flight even on a slow machine.
    const a = await startBuild('A', { WORKER_MAX_OBJECTS_PER_SECOND: '5', WORKER_SHUTDOWN_GRACE_SECONDS: '60' });
    expect(await currentBuild()).toBe('A');
    const src = await call(ls.url, 'POST', `/${bucket}/sources`, {
      name: 'upgraded',
      kind: 'filesystem',
      filesystem: { path: dir },
      batchSize: 10,
      targetPrefix: 'up/',
      syncIntervalSeconds: 86400,
    });
    expect(src.status).toBe(201);
    sourceId = src.body.sourceId as string;
    const jobId = (await call(ls.url, 'POST', `/${bucket}/sources/${sourceId}/discover`, {})).body.jobId as string;
    await waitFor('50 objects copied by build A', async () => Number((await jobRow(jobId))?.objects_processed ?? 0) >= 50, 120_000, 50);

    // B's worker is ready once its build is current: from then on every workflow task goes to B.
    b = await startBuild('B', { WORKFLOW_BUNDLE_PATH: bundleB });
    expect(b.output()).toContain('this build is now the current version of its worker deployment');
    expect(await currentBuild()).toBe('B');
    // A is stopped with the sync in flight (its batches still running finish within its grace).
    const mid = (await jobRow(jobId))!;
    expect(mid.finished_at).toBeNull();
    expect(Number(mid.objects_processed)).toBeLessThan(600);
    await a.kill('SIGTERM');
    expect(await a.exited).toEqual({ code: 0, signal: null });

    const { job, sync } = await waitForJob(ls.url, bucket, sourceId, jobId, 240_000);
    expect(job).toMatchObject({
      status: 'JOB_STATUS_SUCCEEDED',
      objectsListed: 600,
      objectsDiscovered: 600,
      objectsProcessed: 600,
      objectsIndexed: 600,
      objectsFailed: 0,
      bytesTransferred: bytes,
    });
    expect(sync).toMatchObject({ objectsDiscovered: '600', objectsProcessed: '600', objectsIndexed: '600' });
    expect((await call(ls.url, 'GET', `/${bucket}/sources/${sourceId}`)).body).toMatchObject({
      totalObjectsDiscovered: 600,
      totalObjectsSynced: 600,
      totalObjectsFailed: 0,
      totalBytesSynced: bytes,
    });
    const [objects] =
      await sql`select count(*) filter (where status = 'ingested' and attempts = 1)::int as once, count(*)::int as total from source_objects where source_id = ${sourceId}`;
    expect(objects).toEqual({ once: 600, total: 600 });
    expect(await tree(join((ls.lake as { dir: string }).dir, bucket, 'up'))).toEqual(new Map([...files].map(([k, v]) => [k, sha256(v)])));

    // The run's history: workflow tasks of A, then of B only; A's one-step-start marker (every discovery begins in one activity) and
    // scan-ends-job marker (asked where the scan is scheduled), then B's patch; both builds copied; nothing failed, timed out or retried.
    const runId = (await jobRow(jobId))!.run_id as string;
    const events = await historyChain(ls.runtime.temporal, `lakesync-job-${jobId}`, runId);
    expect(taskBuilds(events)).toEqual(['A', 'B']);
    // A run whose scan is still listing after its first idle look asks for PARTIAL_WHEN_IDLE too (a loaded machine's),
    // and one whose copies all landed before its scan ended, NO_PLAN_WHEN_NOTHING_OWED.
    const timing = [PARTIAL_WHEN_IDLE, NO_PLAN_WHEN_NOTHING_OWED];
    expect(patchesOf(events).filter((p) => !timing.includes(p))).toEqual([ONE_STEP_START, SCAN_ENDS_JOB, ROLLING_UPGRADE_PATCH]);
    const last = await ls.runtime.temporal.workflow.getHandle(`lakesync-job-${jobId}`).describe();
    expect(last.memo).toMatchObject({ finishedOnBuild: 'B' });
    const report = activityReport(events);
    expect(report).toMatchObject({ timedOut: 0, failed: 0, retries: [] });
    expect(report.completed.get('ingestBatch')).toBe(60);
    const batches = new Map([...report.batchesByIdentity].map(([who, n]) => [who.split('@')[0] + '@', n]));
    expect(batches.get(identity(a))).toBeGreaterThan(0);
    expect(batches.get(identity(b))).toBeGreaterThan(0);
    expect([...batches.keys()].sort()).toEqual([identity(a), identity(b)].sort());

    // The controller run that started the job moved too: A started the child, B took its result.
    const started = await ls.runtime.temporal.workflow.getHandle(`lakesync-job-${jobId}`, runId).describe();
    const parent = started.raw.workflowExecutionInfo?.parentExecution;
    expect(parent?.workflowId).toBe(`lakesync-source-${sourceId}`);
    const controllerEvents = (await ls.runtime.temporal.workflow.getHandle(parent!.workflowId!, parent!.runId!).fetchHistory()).events ?? [];
    expect(taskBuilds(controllerEvents)).toEqual(['A', 'B']);
    for (const e of [...events, ...controllerEvents])
      if (e.workflowTaskCompletedEventAttributes)
        expect(decodeVersioningBehavior(e.workflowTaskCompletedEventAttributes.versioningBehavior)).toBe('AUTO_UPGRADE');
  });

  /** Adds `count` files, syncs them, checks the lake, and says which builds ran the job's workflow tasks and which workers its batches. */
  const syncNewFiles = async (count: number, from: number) => {
    const added = await seed(count, from);
    const jobId = (await call(ls.url, 'POST', `/${bucket}/sources/${sourceId}/discover`, {})).body.jobId as string;
    const { job } = await waitForJob(ls.url, bucket, sourceId, jobId, 120_000);
    expect(job).toMatchObject({ status: 'JOB_STATUS_SUCCEEDED', objectsDiscovered: count, objectsProcessed: count, objectsFailed: 0 });
    const lake = await tree(join((ls.lake as { dir: string }).dir, bucket, 'up'));
    for (const [key, body] of added) expect(lake.get(key)).toBe(sha256(body));
    const events = await historyChain(ls.runtime.temporal, `lakesync-job-${jobId}`, (await jobRow(jobId))!.run_id as string);
    return { builds: taskBuilds(events), batchWorkers: new Set([...activityReport(events).batchesByIdentity.keys()].map((who) => who.split('@')[0] + '@')) };
  };
  let oldReplica: WorkerProcess;

  it('an old build restarting after the rollout does not take the deployment back; new runs go to the current build only', async () => {
    expect(b).toBeDefined();
    oldReplica = await startBuild('A');
    expect(oldReplica.output()).toContain('a newer build is current');
    expect(await currentBuild()).toBe('B');
    expect(await syncNewFiles(40, 1000)).toEqual({ builds: ['B'], batchWorkers: new Set([identity(b)]) });
  });

  it("an operator's `temporal worker deployment set-current-version` moves the deployment, and new runs follow it", async () => {
    expect(oldReplica).toBeDefined();
    // Back to A: safe here, since no open workflow has run code that only B has (B's patch is in closed runs only).
    await temporalCli('worker', 'deployment', 'set-current-version', '--deployment-name', deploymentName, '--build-id', 'A', '--yes');
    expect(await currentBuild()).toBe('A');
    // A replica of B restarting now must not undo the operator's choice.
    const bAgain = await startBuild('B', { WORKFLOW_BUNDLE_PATH: bundleB });
    await waitFor(
      'the restarted B replica to look at the deployment',
      async () => bAgain.output().includes('the current build was chosen after this one'),
      60_000,
    );
    expect(await currentBuild()).toBe('A');
    expect(await syncNewFiles(30, 2000)).toEqual({ builds: ['A'], batchWorkers: new Set([identity(oldReplica)]) });
  });
});
