/**
 * MinIO, which serves both the S3 source and the S3 lake, goes away for 10 s
 * under a running sync and comes back on the same port with the same data.
 * The copies that meet it down fail their batch, which is retried with
 * backoff without charging any object an attempt; once it is back the sync
 * ends with the lake byte for byte and every counter exact.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CreateBucketCommand, type S3Client } from '@aws-sdk/client-s3';
import { call, waitFor } from '../support/http.js';
import { minioClient, startTestLakesync, unique, type TestLakesync } from '../support/lakesync.js';
import { putAll } from '../support/objects.js';
import { startGatedProxy } from '../support/gated-proxy.js';
import { activityReport, historyChain } from '../support/history.js';
import { expectExactSync, lakeContents, OUTAGE_MS, ownMinio, sleep, smallCorpus, startSteadySync, type OwnServer } from '../support/outage.js';

describe('a MinIO outage under a running sync', () => {
  let minio: OwnServer<{ minio: { endpoint: string; accessKeyId: string; secretAccessKey: string; region: string } }>;
  let ls: TestLakesync;
  let s3: S3Client;
  const bucket = unique('kb');

  beforeAll(async () => {
    minio = await ownMinio();
    s3 = minioClient(minio.info.minio);
    // 100 copies/s: the 2,000-object ingestion lasts ~20 s, so the outage falls in its middle.
    // Listing pages of 200 keys: a listing is ten requests, so an outage can fall between two of them.
    ls = await startTestLakesync({
      lake: 's3',
      infra: { minio: minio.info.minio },
      env: { WORKER_MAX_OBJECTS_PER_SECOND: '100', WORKER_LIST_PAGE_SIZE: '200' },
    });
    expect((await call(ls.url, 'POST', '/admin/buckets', { name: bucket })).status).toBe(201);
  });
  afterAll(async () => {
    await ls?.stop();
    await minio?.close();
  });

  it('finishes a 2,000-object S3-to-S3 sync exactly across the outage, charging no object an attempt', async () => {
    const { files, expected, bytes } = smallCorpus(2000);
    const srcBucket = unique('src');
    await s3.send(new CreateBucketCommand({ Bucket: srcBucket }));
    await putAll(s3, srcBucket, '', files);
    const { endpoint, accessKeyId, secretAccessKey } = minio.info.minio;
    const { sourceId, jobId, job } = await startSteadySync(ls, bucket, {
      kind: 's3',
      s3: { endpoint, bucket: srcBucket, accessKeyId, secretAccessKey },
    });
    // Mid-ingestion: the listing is done, copies are going on.
    await waitFor(
      'the listing done and 400 objects copied',
      async () => ((j) => j.objectsListed === 2000 && j.objectsProcessed >= 400)(await job()),
      60_000,
      50,
    );

    await minio.down();
    // Copies that ended just before it went down reach the counters within a recorder flush (100 ms, longer
    // under load): the snapshot waits them out, so what it is compared with is progress during the outage.
    await sleep(1000);
    const atDown = await job();
    await sleep(OUTAGE_MS);
    // Nothing moved while both ends were down, and nothing was given up on.
    const beforeUp = await job();
    expect(beforeUp).toMatchObject({ status: 'JOB_STATUS_RUNNING', objectsFailed: 0 });
    expect(beforeUp.objectsProcessed).toBeLessThan(2000);
    expect(beforeUp.objectsProcessed - atDown.objectsProcessed).toBeLessThanOrEqual(40);
    await minio.up();

    await expectExactSync(ls, { bucket, sourceId, jobId, count: 2000, bytes });
    expect(await lakeContents(ls, bucket, 'steady', s3)).toEqual(expected);
  });

  it('waits out an outage in the middle of the listing and goes on from its last page', async () => {
    const { files, expected, bytes } = smallCorpus(2000);
    const srcBucket = unique('src');
    await s3.send(new CreateBucketCommand({ Bucket: srcBucket }));
    await putAll(s3, srcBucket, '', files);
    // The source is reached through a gate that holds the second listing page until MinIO is down.
    const proxy = await startGatedProxy(minio.info.minio.endpoint);
    try {
      const { accessKeyId, secretAccessKey } = minio.info.minio;
      const src = await call(ls.url, 'POST', `/${bucket}/sources`, {
        name: 'listing',
        kind: 's3',
        s3: { endpoint: proxy.endpoint, bucket: srcBucket, accessKeyId, secretAccessKey },
        batchSize: 20,
        targetPrefix: 'listing/',
        syncIntervalSeconds: 86400,
      });
      expect(src.status).toBe(201);
      const sourceId = src.body.sourceId as string;
      proxy.close((req) => req.method === 'GET' && /[?&]start-after=/.test(req.url ?? ''));
      const started = await call(ls.url, 'POST', `/${bucket}/sources/${sourceId}/discover`, {});
      expect(started.status).toBe(200);
      const jobId = started.body.jobId as string;
      await waitFor('the first page listed and the second held', async () => proxy.held() > 0, 60_000, 50);

      await minio.down();
      // The held page now meets MinIO down (so do the copies of the first page).
      proxy.open();
      await sleep(OUTAGE_MS);
      expect((await call(ls.url, 'GET', `/${bucket}/jobs/${jobId}`)).body).toMatchObject({
        status: 'JOB_STATUS_RUNNING',
        objectsListed: 200,
        objectsFailed: 0,
      });
      await minio.up();

      const job = await expectExactSync(ls, { bucket, sourceId, jobId, count: 2000, bytes });
      expect(await lakeContents(ls, bucket, 'listing', s3)).toEqual(expected);
      // The scan waited within its attempt: it was never failed and retried, so its retry policy's few attempts were not spent.
      const report = activityReport(await historyChain(ls.runtime.temporal, job.workflowId, job.runId));
      expect(report.retries.filter((r) => r.startsWith('scanSource'))).toEqual([]);
      expect(report.completed.get('scanSource')).toBe(1);
    } finally {
      await proxy.stop();
    }
  });
});
