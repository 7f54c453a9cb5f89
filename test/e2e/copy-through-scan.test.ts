/**
 * A long scan keeps its copies going once Temporal suggests continuing as new
 * (issue #17): the suite's dev server suggests it at 400 history events
 * (test/support/global-setup.ts), and a scan listing one key a page over
 * thousands of objects is still listing long after that. Behind
 * COPY_THROUGH_SCAN the run goes on dispatching batches while the scan lists,
 * and keeps looking for newly listed keys when it has caught up with the scan;
 * the lake and the counters come out exact. Behind PARTIAL_WHEN_IDLE a scan
 * that never owes a whole batch while it lists still has its copies go out.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { CreateBucketCommand } from '@aws-sdk/client-s3';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from '@temporalio/worker';
import { startGatedProxy, type GatedProxy } from '../support/gated-proxy.js';
import { call, waitForJob } from '../support/http.js';
import { minioClient, minioS3Settings, startTestLakesync, unique, type TestLakesync } from '../support/lakesync.js';
import { putAll, sha256, tree, writeAll } from '../support/objects.js';
import { COPY_THROUGH_SCAN, PARTIAL_WHEN_IDLE } from '../../workflows/sync-run.js';

type History = Awaited<ReturnType<ReturnType<TestLakesync['runtime']['temporal']['workflow']['getHandle']>['fetchHistory']>>;
type HistoryEvent = NonNullable<History['events']>[number];

/** Where, in one run's events, its scan was open, Temporal first suggested continuing as new, and copies and timers were scheduled. */
function timeline(events: HistoryEvent[]) {
  const typeOf = new Map<string, string>();
  for (const e of events)
    if (e.activityTaskScheduledEventAttributes) typeOf.set(String(e.eventId), e.activityTaskScheduledEventAttributes.activityType?.name ?? '?');
  const scheduled = (type: string) => events.flatMap((e, i) => (e.activityTaskScheduledEventAttributes?.activityType?.name === type ? [i] : []));
  return {
    scanScheduled: scheduled('scanSource'),
    scanCompleted: events.flatMap((e, i) => (typeOf.get(String(e.activityTaskCompletedEventAttributes?.scheduledEventId)) === 'scanSource' ? [i] : [])),
    shardsCompleted: events.flatMap((e, i) => (typeOf.get(String(e.activityTaskCompletedEventAttributes?.scheduledEventId)) === 'scanShard' ? [i] : [])),
    suggested: events.findIndex((e) => e.workflowTaskStartedEventAttributes?.suggestContinueAsNew === true),
    plans: scheduled('planBatches'),
    shardPlans: scheduled('planShardBatches'),
    batches: scheduled('ingestBatch'),
    timers: events.flatMap((e, i) => (e.timerStartedEventAttributes ? [i] : [])),
    /** Where plans asked for a partial batch completed with some batch to send. */
    partialPlans: events.flatMap((e, i) => {
      const done = e.activityTaskCompletedEventAttributes;
      const asked = events.find((s) => String(s.eventId) === String(done?.scheduledEventId))?.activityTaskScheduledEventAttributes;
      const json = (data: Uint8Array | null | undefined) => (data ? JSON.parse(Buffer.from(data).toString('utf8')) : null);
      if (!done || !asked || !['planBatches', 'planShardBatches'].includes(asked.activityType?.name ?? '')) return [];
      if (json(asked.input?.payloads?.[0]?.data)?.partial !== true) return [];
      const result = json(done.result?.payloads?.[0]?.data) as string[] | { ends: string[] }[];
      const ends = result.flatMap((r) => (typeof r === 'string' ? [r] : r.ends));
      return ends.length > 0 ? [i] : [];
    }),
    patches: events.flatMap((e) => {
      const data = e.markerRecordedEventAttributes?.details?.['patch-data']?.payloads?.[0]?.data;
      return data ? [JSON.parse(Buffer.from(data).toString('utf8')).id as string] : [];
    }),
  };
}

describe('copying through a long scan', () => {
  let ls: TestLakesync;
  let proxy: GatedProxy;
  const dirs: string[] = [];
  const bucket = unique('kb');
  const fetchHistory = (workflowId: string, runId?: string) => ls.runtime.temporal.workflow.getHandle(workflowId, runId).fetchHistory();
  const discover = async (sourceId: string) => {
    const started = await call(ls.url, 'POST', `/${bucket}/sources/${sourceId}/discover`, {});
    expect(started.status).toBe(200);
    return started.body.jobId as string;
  };
  /** The job succeeded with every object listed, discovered and copied once, and the lake holds exactly the source's bytes. */
  const expectExact = async (sourceId: string, jobId: string, prefix: string, files: Map<string, Buffer>) => {
    const { job } = await waitForJob(ls.url, bucket, sourceId, jobId, 480_000);
    expect(job).toMatchObject({
      status: 'JOB_STATUS_SUCCEEDED',
      objectsListed: files.size,
      objectsDiscovered: files.size,
      objectsNew: files.size,
      objectsProcessed: files.size,
      objectsFailed: 0,
      objectsDeleted: 0,
    });
    expect(await tree(join((ls.lake as { dir: string }).dir, bucket, prefix))).toEqual(new Map([...files].map(([k, b]) => [k, sha256(b)])));
    return job as { workflowId: string; runId: string };
  };
  /** The first run replays on this code: patched() is asked for its marker at the very points the run wrote it. */
  const expectReplays = (history: History, workflowId: string) =>
    Worker.runReplayHistory(
      {
        workflowBundle: { codePath: inject('infra').workflowBundlePath },
        replayName: 'copy-through-scan',
        sinks: { tenants: { present: { fn: () => undefined } } },
      },
      history,
      workflowId,
    );

  beforeAll(async () => {
    // One key a listing page: each page is its own commit of the scan cursor, so listing a few thousand keys is long.
    ls = await startTestLakesync({ lake: 'filesystem', env: { WORKER_LIST_PAGE_SIZE: '1' } });
    proxy = await startGatedProxy(inject('infra').minio.endpoint);
    expect((await call(ls.url, 'POST', '/admin/buckets', { name: bucket })).status).toBe(201);
  });
  afterAll(async () => {
    proxy?.slow(null);
    await proxy?.stop();
    await ls?.stop();
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  it('goes on copying what the scan commits after Temporal suggests continuing as new', { timeout: 600_000 }, async () => {
    const dir = await mkdtemp(join(tmpdir(), 'lakesync-long-scan-'));
    dirs.push(dir);
    const files = new Map<string, Buffer>();
    for (let i = 0; i < 3000; i++) files.set(`d${i % 4}/f${String(i).padStart(5, '0')}.bin`, randomBytes(1 + (i % 300)));
    await writeAll(dir, files);
    const src = await call(ls.url, 'POST', `/${bucket}/sources`, {
      name: 'long-fs-scan',
      kind: 'filesystem',
      filesystem: { path: dir },
      batchSize: 10,
      targetPrefix: 'fs/',
      syncIntervalSeconds: 86400,
    });
    expect(src.status).toBe(201);
    const job = await expectExact(src.body.sourceId as string, await discover(src.body.sourceId as string), 'fs', files);

    const history = await fetchHistory(job.workflowId, job.runId);
    const t = timeline(history.events ?? []);
    expect(t.scanScheduled).toHaveLength(1);
    expect(t.scanCompleted).toHaveLength(1);
    const [scanDone] = t.scanCompleted as [number];
    // Temporal suggested continuing as new while the scan was still listing…
    expect(t.suggested).toBeGreaterThan(t.scanScheduled[0]!);
    expect(t.suggested).toBeLessThan(scanDone);
    // …and the run went on planning and copying what the scan committed after that, before the scan ended. Before
    // COPY_THROUGH_SCAN it looked at the suggestion before every plan, so at most the plan already under way when the
    // suggestion came went out after it, and nothing was planned again until the scan ended.
    const replans = t.plans.filter((i) => i > t.suggested && i < scanDone);
    expect(replans.length).toBeGreaterThanOrEqual(2);
    expect(t.batches.filter((i) => i > replans[1]! && i < scanDone).length).toBeGreaterThan(0);
    expect(t.patches).toContain(COPY_THROUGH_SCAN);
    await expectReplays(history, job.workflowId);
  });

  it('keeps looking for newly listed keys when it has caught up with the scan after the suggestion', { timeout: 600_000 }, async () => {
    const s3 = minioClient();
    const sourceBucket = unique('long-scan');
    await s3.send(new CreateBucketCommand({ Bucket: sourceBucket }));
    const files = new Map<string, Buffer>();
    for (let i = 0; i < 1000; i++) files.set(`k${String(i).padStart(5, '0')}`, randomBytes(1 + (i % 200)));
    await putAll(s3, sourceBucket, 'feed/', files);
    // Listed through a slow link: each one-key page takes 40 ms or more, so the copies, far faster, keep catching up
    // with the scan and must look again for what it lists next. The scan's pages still commit (and heartbeat) often.
    proxy.slow((req) => req.method === 'GET' && (req.url ?? '').includes('list-type=2'), 40);
    const src = await call(ls.url, 'POST', `/${bucket}/sources`, {
      name: 'long-s3-scan',
      kind: 's3',
      s3: minioS3Settings({ endpoint: proxy.endpoint, bucket: sourceBucket, prefix: 'feed/' }),
      batchSize: 10,
      targetPrefix: 's3/',
      syncIntervalSeconds: 86400,
    });
    expect(src.status).toBe(201);
    const sourceId = src.body.sourceId as string;
    const job = await expectExact(sourceId, await discover(sourceId), 's3', files);
    proxy.slow(null);

    const history = await fetchHistory(job.workflowId, job.runId);
    const t = timeline(history.events ?? []);
    const [scanDone] = t.scanCompleted as [number];
    // Temporal suggested continuing as new while the scan was listing; after that, the run caught up, set a timer to
    // look again (as it does before the suggestion), and the look found and copied keys listed meanwhile, before the
    // scan ended.
    expect(t.suggested).toBeGreaterThan(t.scanScheduled[0]!);
    expect(t.suggested).toBeLessThan(scanDone);
    const looks = t.timers.filter((i) => i > t.suggested && i < scanDone);
    expect(looks.length).toBeGreaterThan(0);
    expect(t.batches.filter((i) => i > looks[0]! && i < scanDone).length).toBeGreaterThan(0);
    expect(t.patches).toContain(COPY_THROUGH_SCAN);
    await expectReplays(history, job.workflowId);
  });

  it('copies what a scan has owed short of a batch while it lists, when the copy slots are idle, single and sharded', { timeout: 600_000 }, async () => {
    const s3 = minioClient();
    const sourceBucket = unique('sparse-scan');
    await s3.send(new CreateBucketCommand({ Bucket: sourceBucket }));
    const files = new Map<string, Buffer>();
    for (let i = 0; i < 160; i++) files.set(`${i % 2 ? 'b' : 'a'}/k${String(i).padStart(4, '0')}`, randomBytes(1 + (i % 100)));
    await putAll(s3, sourceBucket, 'sparse/', files);
    // One key a page, each 20 ms or more: a scan of several seconds that never owes a whole batch (500) before it ends.
    proxy.slow((req) => req.method === 'GET' && (req.url ?? '').includes('list-type=2'), 20);
    try {
      for (const shards of [null, 2]) {
        const src = await call(ls.url, 'POST', `/${bucket}/sources`, {
          name: `sparse-${shards ?? 'auto'}`,
          kind: 's3',
          s3: minioS3Settings({ endpoint: proxy.endpoint, bucket: sourceBucket, prefix: 'sparse/' }),
          batchSize: 500,
          ...(shards === null ? {} : { shards }),
          targetPrefix: `sparse-${shards ?? 'auto'}/`,
          syncIntervalSeconds: 86400,
        });
        expect(src.status).toBe(201);
        const sourceId = src.body.sourceId as string;
        const job = await expectExact(sourceId, await discover(sourceId), `sparse-${shards ?? 'auto'}`, files);
        const history = await fetchHistory(job.workflowId, job.runId);
        const t = timeline(history.events ?? []);
        // Batches went out before the scan (its first shard: a finished shard's rest goes out anyway) ended: without
        // PARTIAL_WHEN_IDLE only whole batches go out while it lists, and with 500 a batch there are none.
        const scanDone = shards === null ? t.scanCompleted[0]! : Math.min(...t.shardsCompleted);
        expect(shards === null ? t.scanCompleted : t.shardsCompleted, `shards ${shards}`).toHaveLength(shards ?? 1);
        // A plan asked for a partial batch found one, and its batch went out, before then.
        const [partialPlan] = t.partialPlans.filter((i) => i < scanDone);
        expect(partialPlan, `shards ${shards}`).toBeDefined();
        expect(t.batches.filter((i) => i > partialPlan! && i < scanDone).length, `shards ${shards}`).toBeGreaterThan(0);
        expect(t.patches).toContain(PARTIAL_WHEN_IDLE);
        await expectReplays(history, job.workflowId);
      }
    } finally {
      proxy.slow(null);
    }
  });
});
