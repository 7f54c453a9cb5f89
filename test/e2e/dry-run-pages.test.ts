/**
 * A dry run lists in pages and counts each page against its own key range:
 * a page of only S3 folder markers lists no object but moves the cursor, and
 * must not count what lies after it as deleted (nor make a scheduled poll see
 * work where there is none).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { CreateBucketCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { call, waitFor, waitForJob } from '../support/http.js';
import { minioClient, startTestLakesync, unique, type TestLakesync } from '../support/lakesync.js';

describe('a dry run over pages of folder markers', () => {
  let ls: TestLakesync;
  const bucket = unique('dr');

  beforeAll(async () => {
    // Two keys a page: the markers fill a page of their own.
    ls = await startTestLakesync({ lake: 'filesystem', env: { WORKER_LIST_PAGE_SIZE: '2' } });
    expect((await call(ls.url, 'POST', '/admin/buckets', { name: bucket })).status).toBe(201);
  });
  afterAll(async () => {
    await ls?.stop();
  });

  it('counts nothing deleted after a page that lists only folder markers', async () => {
    const s3 = minioClient();
    const srcBucket = unique('markers');
    await s3.send(new CreateBucketCommand({ Bucket: srcBucket }));
    for (const key of ['a/1', 'a/2', 'b/', 'c/', 'z/1', 'z/2'])
      await s3.send(new PutObjectCommand({ Bucket: srcBucket, Key: key, Body: key.endsWith('/') ? '' : key }));
    const { accessKeyId, secretAccessKey, endpoint } = inject('infra').minio;
    const created = await call(ls.url, 'POST', `/${bucket}/sources`, {
      name: 'markers',
      kind: 's3',
      s3: { endpoint, bucket: srcBucket, accessKeyId, secretAccessKey, forcePathStyle: true },
      syncIntervalSeconds: 3600,
    });
    expect(created.status).toBe(201);
    const sourceId = created.body.sourceId as string;
    const first = await call(ls.url, 'POST', `/${bucket}/sources/${sourceId}/discover`, {});
    expect((await waitForJob(ls.url, bucket, sourceId, first.body.jobId)).job).toMatchObject({ status: 'JOB_STATUS_SUCCEEDED', objectsDiscovered: 4 });
    const dry = await call(ls.url, 'POST', `/${bucket}/sources/${sourceId}/discover`, { dryRun: true });
    // A dry run is not the source's last job: its own row tells when it ended.
    const job = await waitFor('the dry run ended', async () => {
      const j = (await call(ls.url, 'GET', `/${bucket}/jobs/${dry.body.jobId}`)).body;
      return j.status !== 'JOB_STATUS_RUNNING' && j.status !== 'JOB_STATUS_PENDING' && j;
    });
    expect(job).toMatchObject({ status: 'JOB_STATUS_SUCCEEDED', dryRun: true, objectsListed: 4, objectsNew: 0, objectsChanged: 0, objectsDeleted: 0 });
  });
});
