/**
 * The failure budget sees progress: an S3 source whose runs fail with nothing
 * copied moves toward suspension one run at a time, and a run that fails
 * after copying objects halves the count instead, so the source is suspended
 * only once runs without progress reach `suspendAfterFailures` again.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { CreateBucketCommand, DeleteBucketCommand, DeleteObjectsCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { inject } from 'vitest';
import { call, waitFor } from '../support/http.js';
import { minioClient, startTestLakesync, unique, type TestLakesync } from '../support/lakesync.js';
import { listFiles } from '../support/objects.js';
import { controllerStatus } from '../support/controller.js';
import { startGatedProxy, type GatedProxy } from '../support/gated-proxy.js';

describe('the failure budget', () => {
  let ls: TestLakesync;
  let proxy: GatedProxy;
  const bucket = unique('kb');

  beforeAll(async () => {
    // Pages of 10 keys: a discovery lists the source in several requests, and copies each page while listing the next.
    ls = await startTestLakesync({ lake: 'filesystem', env: { WORKER_LIST_PAGE_SIZE: '10' } });
    proxy = await startGatedProxy(inject('infra').minio.endpoint);
    expect((await call(ls.url, 'POST', '/admin/buckets', { name: bucket })).status).toBe(201);
  });
  afterAll(async () => {
    await ls?.stop();
    await proxy?.stop();
  });

  it('counts a failed run without progress as one more failure, halves the count for one that copied objects, and suspends only on the former', async () => {
    const s3 = minioClient();
    const { minio } = inject('infra');
    const srcBucket = unique('flaky');
    const res = await call(ls.url, 'POST', `/${bucket}/sources`, {
      name: 'flaky',
      kind: 's3',
      // Through the proxy, so the test can hold a listing page back while it changes the bucket.
      s3: { endpoint: proxy.endpoint, bucket: srcBucket, accessKeyId: minio.accessKeyId, secretAccessKey: minio.secretAccessKey },
      // Full batches of 5: copies of the first page go out while the scan still lists.
      batchSize: 5,
      syncIntervalSeconds: 3600,
      suspendAfterFailures: 3,
      targetPrefix: 'flaky/',
    });
    expect(res.status).toBe(201);
    const { sourceId, workflowId } = res.body as { sourceId: string; workflowId: string };
    const run = async () => {
      const started = await call(ls.url, 'POST', `/${bucket}/sources/${sourceId}/discover`, {});
      expect(started.status).toBe(200);
      return started.body.jobId as string;
    };
    /** A failed run once the controller has taken it in: the job, the controller's live state and the stored source. */
    const failedRun = async (jobId: string, runs: number) => {
      const job = await waitFor(`job ${jobId} finished`, async () => {
        const j = (await call(ls.url, 'GET', `/${bucket}/jobs/${jobId}`)).body;
        return j.finishedAt && j;
      });
      expect(job.status).toBe('JOB_STATUS_FAILED');
      const live = await waitFor(`the controller to settle run ${runs}`, async () => {
        const st = await controllerStatus(ls.runtime.temporal, workflowId);
        return st.runs === runs && st.currentJobId === null && st;
      });
      // The source row mirrors the controller one activity later.
      const row = await waitFor('the source row to mirror it', async () => {
        const r = (await call(ls.url, 'GET', `/${bucket}/sources/${sourceId}`)).body;
        return r.consecutiveFailures === live.consecutiveFailures && r.status === live.status && r;
      });
      return { job, live, row };
    };
    // Two runs that find no bucket: nothing copied, each counts.
    for (const n of [1, 2]) {
      const { job, live } = await failedRun(await run(), n);
      expect(job).toMatchObject({ objectsProcessed: 0, bytesTransferred: 0 });
      expect(job.error).toMatch(/NoSuchBucket/);
      expect(live).toMatchObject({ consecutiveFailures: n, status: 'SOURCE_STATUS_ACTIVE' });
    }

    // A run that copies its first page, then finds the bucket gone: it fails having made progress.
    await s3.send(new CreateBucketCommand({ Bucket: srcBucket }));
    const keys = Array.from({ length: 30 }, (_, i) => `k-${String(i).padStart(3, '0')}.txt`);
    for (const key of keys) await s3.send(new PutObjectCommand({ Bucket: srcBucket, Key: key, Body: `content of ${key}` }));
    // Listing pages after the first wait at the proxy until the test lets them through.
    proxy.close((req) => req.method === 'GET' && /[?&]start-after=/.test(req.url ?? ''));
    const partial = await run();
    await waitFor(
      'the first page copied and the next listing held',
      async () => proxy.held() > 0 && (await call(ls.url, 'GET', `/${bucket}/jobs/${partial}`)).body.objectsProcessed === 10,
      60_000,
      50,
    );
    await s3.send(new DeleteObjectsCommand({ Bucket: srcBucket, Delete: { Objects: keys.map((Key) => ({ Key })) } }));
    await s3.send(new DeleteBucketCommand({ Bucket: srcBucket }));
    proxy.open();
    const progressed = await failedRun(partial, 3);
    expect(progressed.job).toMatchObject({ objectsProcessed: 10, objectsFailed: 0 });
    expect(progressed.job.error).toMatch(/NoSuchBucket/);
    // 2 halved: the run got somewhere, so the source moved away from suspension (counted as before, it would be at 3 and suspended).
    expect(progressed.live).toMatchObject({ consecutiveFailures: 1, status: 'SOURCE_STATUS_ACTIVE' });
    expect(progressed.row).toMatchObject({ consecutiveFailures: 1, status: 'SOURCE_STATUS_ACTIVE' });
    expect(await listFiles(join((ls.lake as { dir: string }).dir, bucket, 'flaky'))).toEqual(keys.slice(0, 10));

    // Runs without progress count again: from 1, two more reach the limit of 3.
    const fourth = await failedRun(await run(), 4);
    expect(fourth.live).toMatchObject({ consecutiveFailures: 2, status: 'SOURCE_STATUS_ACTIVE' });
    const fifth = await failedRun(await run(), 5);
    expect(fifth.job).toMatchObject({ objectsProcessed: 0, bytesTransferred: 0 });
    expect(fifth.live).toMatchObject({ consecutiveFailures: 3, status: 'SOURCE_STATUS_SUSPENDED', phase: 'suspended' });
    expect(fifth.row).toMatchObject({ consecutiveFailures: 3, status: 'SOURCE_STATUS_SUSPENDED' });
  });
});
