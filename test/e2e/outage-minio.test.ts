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
import { expectExactSync, lakeContents, OUTAGE_MS, ownMinio, sleep, smallCorpus, type OwnServer } from '../support/outage.js';

describe('a MinIO outage under a running sync', () => {
  let minio: OwnServer<{ minio: { endpoint: string; accessKeyId: string; secretAccessKey: string; region: string } }>;
  let ls: TestLakesync;
  let s3: S3Client;
  const bucket = unique('kb');

  beforeAll(async () => {
    minio = await ownMinio();
    s3 = minioClient(minio.info.minio);
    // 100 copies/s: the 2,000-object ingestion lasts ~20 s, so the outage falls in its middle.
    ls = await startTestLakesync({ lake: 's3', infra: { minio: minio.info.minio }, env: { WORKER_MAX_OBJECTS_PER_SECOND: '100' } });
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
    const src = await call(ls.url, 'POST', `/${bucket}/sources`, {
      name: 'steady',
      kind: 's3',
      s3: { endpoint, bucket: srcBucket, accessKeyId, secretAccessKey },
      batchSize: 20,
      targetPrefix: 'steady/',
      syncIntervalSeconds: 86400,
    });
    expect(src.status).toBe(201);
    const sourceId = src.body.sourceId as string;
    const started = await call(ls.url, 'POST', `/${bucket}/sources/${sourceId}/discover`, {});
    expect(started.status).toBe(200);
    const jobId = started.body.jobId as string;
    const job = async () => (await call(ls.url, 'GET', `/${bucket}/jobs/${jobId}`)).body;
    // Mid-ingestion: the listing is done, copies are going on.
    await waitFor(
      'the listing done and 400 objects copied',
      async () => ((j) => j.objectsListed === 2000 && j.objectsProcessed >= 400)(await job()),
      60_000,
      50,
    );

    await minio.down();
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
});
