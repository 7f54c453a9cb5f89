/**
 * A quiet resync's fixed cost: once its scan (a single scanSource, or the
 * shard that claimed the sweep, usually the last to finish listing) has ended
 * owing the job nothing, the run plans no more (NO_PLAN_WHEN_NOTHING_OWED) and
 * the scan's last activity has ended the job (SCAN_ENDS_JOB): no activity
 * follows it. A resync that found a change still copies it, exactly, and the
 * run ends the job. Each case reads the run's history and replays it.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { CreateBucketCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Worker } from '@temporalio/worker';
import { call, waitForJob } from '../support/http.js';
import { minioClient, minioS3Settings, startTestLakesync, unique, type TestLakesync } from '../support/lakesync.js';
import { NO_PLAN_WHEN_NOTHING_OWED, SCAN_ENDS_JOB } from '../../workflows/sync-run.js';

type History = Awaited<ReturnType<ReturnType<TestLakesync['runtime']['temporal']['workflow']['getHandle']>['fetchHistory']>>;

/**
 * The activities a run scheduled, in order; those scheduled after `last` (an activity type) completed; whether one of
 * those completions answered the job's end (a scan that ended it); the patches it recorded.
 */
function steps(history: History, last: string) {
  const events = history.events ?? [];
  const typeOf = new Map<string, string>();
  for (const e of events)
    if (e.activityTaskScheduledEventAttributes) typeOf.set(String(e.eventId), e.activityTaskScheduledEventAttributes.activityType?.name ?? '?');
  const scheduled = events.flatMap((e, i) => (e.activityTaskScheduledEventAttributes ? [{ i, type: typeOf.get(String(e.eventId))! }] : []));
  const completions = events.filter((e) => typeOf.get(String(e.activityTaskCompletedEventAttributes?.scheduledEventId)) === last);
  const done = events.indexOf(completions.at(-1)!);
  const results = completions.map((e) => JSON.parse(Buffer.from(e.activityTaskCompletedEventAttributes!.result!.payloads![0]!.data!).toString('utf8')));
  return {
    activities: scheduled.map((a) => a.type),
    afterScan: scheduled.filter((a) => a.i > done).map((a) => a.type),
    scanEnded: results.some((r) => r.ended || r.swept?.ended),
    patches: events.flatMap((e) => {
      const data = e.markerRecordedEventAttributes?.details?.['patch-data']?.payloads?.[0]?.data;
      return data ? [JSON.parse(Buffer.from(data).toString('utf8')).id as string] : [];
    }),
  };
}

describe('a quiet resync', () => {
  let ls: TestLakesync;
  const bucket = unique('qr');
  const s3 = minioClient();

  beforeAll(async () => {
    ls = await startTestLakesync({ lake: 'filesystem' });
    expect((await call(ls.url, 'POST', '/admin/buckets', { name: bucket })).status).toBe(201);
  });
  afterAll(async () => {
    await ls?.stop();
  });

  const discover = async (sourceId: string, last: string) => {
    const started = await call(ls.url, 'POST', `/${bucket}/sources/${sourceId}/discover`, {});
    expect(started.status).toBe(200);
    const { job } = await waitForJob(ls.url, bucket, sourceId, started.body.jobId as string);
    expect(job.status).toBe('JOB_STATUS_SUCCEEDED');
    // The scan may end the job before its run closes: the whole history is read once the run has.
    const handle = ls.runtime.temporal.workflow.getHandle(job.workflowId as string, job.runId as string);
    await handle.result();
    const history = await handle.fetchHistory();
    await Worker.runReplayHistory(
      {
        workflowBundle: { codePath: inject('infra').workflowBundlePath },
        replayName: 'quiet-resync',
        sinks: { tenants: { present: { fn: () => undefined } } },
      },
      history,
      job.workflowId as string,
    );
    return { job, ...steps(history, last) };
  };

  for (const shards of [null, 2])
    it(`plans nothing after a scan that owes nothing, and copies a change it finds (${shards ? `${shards} shards` : 'one scan'})`, async () => {
      const srcBucket = unique('quiet');
      await s3.send(new CreateBucketCommand({ Bucket: srcBucket }));
      for (let i = 0; i < 40; i++) await s3.send(new PutObjectCommand({ Bucket: srcBucket, Key: `${i % 2 ? 'b' : 'a'}/k${i}`, Body: `v1 ${i}` }));
      const created = await call(ls.url, 'POST', `/${bucket}/sources`, {
        name: `quiet-${shards ?? 'one'}`,
        kind: 's3',
        s3: minioS3Settings({ bucket: srcBucket }),
        targetPrefix: `q${shards ?? 1}/`,
        syncIntervalSeconds: 86400,
        ...(shards === null ? {} : { shards }),
      });
      expect(created.status).toBe(201);
      const sourceId = created.body.sourceId as string;
      const scanned = shards === null ? 'scanSource' : 'scanShard';

      const first = await discover(sourceId, scanned);
      expect(first.job).toMatchObject({ objectsDiscovered: 40, objectsProcessed: 40 });
      // It owed its 40 objects when its scan ended (unless their batches had all been recorded by then): the run ends the job.
      if (!first.scanEnded) expect(first.afterScan.at(-1)).toBe('finishJob');
      // Nothing changed: the scan's last activity ended the job, and nothing follows it.
      const quiet = await discover(sourceId, scanned);
      expect(quiet.job).toMatchObject({ objectsListed: 40, objectsDiscovered: 0, objectsProcessed: 0 });
      expect(quiet.afterScan).toEqual([]);
      expect(quiet.scanEnded).toBe(true);
      expect(quiet.activities).not.toContain('finishJob');
      expect(quiet.activities).not.toContain('sweepShardedScan');
      expect(quiet.patches).toEqual(expect.arrayContaining([NO_PLAN_WHEN_NOTHING_OWED, SCAN_ENDS_JOB]));
      if (shards) expect(quiet.activities.filter((a) => a === 'scanShard')).toHaveLength(shards);
      // The source's record of the run is the one finishJob writes.
      const source = (await call(ls.url, 'GET', `/${bucket}/sources/${sourceId}`)).body;
      expect(source).toMatchObject({ lastJobId: quiet.job.jobId, currentJobId: null, consecutiveFailures: 0 });

      // One object changed: it is copied, whether its batch went out while the scan listed or after it.
      await s3.send(new PutObjectCommand({ Bucket: srcBucket, Key: 'b/k7', Body: 'v2' }));
      const changed = await discover(sourceId, scanned);
      expect(changed.job).toMatchObject({ objectsListed: 40, objectsDiscovered: 1, objectsProcessed: 1 });
      expect(changed.activities.filter((a) => a === 'ingestBatch')).toHaveLength(1);
      expect(changed.activities).not.toContain('sweepShardedScan');
      // The run ends the job, unless the change's batch was recorded before the scan's last activity asked what is owed.
      if (changed.scanEnded) expect(changed.afterScan).toEqual([]);
      else expect(changed.afterScan.at(-1)).toBe('finishJob');
      expect(await readFile(join((ls.lake as { dir: string }).dir, bucket, `q${shards ?? 1}`, 'b/k7'), 'utf8')).toBe('v2');
    });
});
