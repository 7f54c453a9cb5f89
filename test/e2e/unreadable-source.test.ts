/**
 * Objects the source will not let us read: they are dead-lettered after 3
 * attempts while the rest sync, and once access is fixed, retryFailed brings
 * them in.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CreateBucketCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { inject } from 'vitest';
import { join } from 'node:path';
import { call, waitForJob } from '../support/http.js';
import { minioClient, startTestLakesync, unique, type TestLakesync } from '../support/lakesync.js';
import { listFiles } from '../support/objects.js';
import { restrictedCredentials } from '../support/sts.js';

/** A source bucket holding `keys`, and temporary credentials that may list it all but not read under `locked/`. */
async function lockedBucket(prefix: string, keys: string[]) {
  const s3 = minioClient();
  const srcBucket = unique(prefix);
  await s3.send(new CreateBucketCommand({ Bucket: srcBucket }));
  for (const key of keys) await s3.send(new PutObjectCommand({ Bucket: srcBucket, Key: key, Body: `content of ${key}` }));
  const creds = await restrictedCredentials({
    Version: '2012-10-17',
    Statement: [
      {
        Effect: 'Allow',
        Action: ['s3:ListBucket', 's3:GetObject', 's3:GetBucketLocation'],
        Resource: [`arn:aws:s3:::${srcBucket}`, `arn:aws:s3:::${srcBucket}/*`],
      },
      { Effect: 'Deny', Action: ['s3:GetObject'], Resource: [`arn:aws:s3:::${srcBucket}/locked/*`] },
    ],
  });
  return { srcBucket, creds };
}

describe('a source with unreadable objects', () => {
  let ls: TestLakesync;
  beforeAll(async () => {
    // A directory lake: every object is read from the source with the source's own credentials.
    ls = await startTestLakesync({ lake: 'filesystem', activityOverrides: { retryBackoffMs: 20 } });
  });
  afterAll(async () => {
    await ls?.stop();
  });

  it('dead-letters what it cannot read after 3 attempts, syncs the rest, and replays them once access is fixed', async () => {
    const { minio } = inject('infra');
    const keys = ['open/a.txt', 'open/b.txt', 'open/c.txt', 'open/d.txt', 'locked/secret-1.txt', 'locked/secret-2.txt'];
    // Listing is allowed everywhere; reading under locked/ is not.
    const { srcBucket, creds } = await lockedBucket('locked-src', keys);
    const bucket = unique('kb');
    expect((await call(ls.url, 'POST', '/admin/buckets', { name: bucket })).status).toBe(201);
    const created = await call(ls.url, 'POST', `/${bucket}/sources`, {
      name: 'restricted',
      kind: 's3',
      s3: { endpoint: minio.endpoint, bucket: srcBucket, ...creds },
      syncIntervalSeconds: 3600,
    });
    expect(created.status).toBe(201);
    expect(JSON.stringify(created.body)).not.toContain(creds.sessionToken);
    const sourceId = created.body.sourceId as string;

    const run = await call(ls.url, 'POST', `/${bucket}/sources/${sourceId}/discover`, {});
    const { job } = await waitForJob(ls.url, bucket, sourceId, run.body.jobId);
    expect(job).toMatchObject({ status: 'JOB_STATUS_PARTIAL', objectsDiscovered: 6, objectsProcessed: 4, objectsFailed: 2 });
    const lake = join((ls.lake as { dir: string }).dir, bucket);
    expect(await listFiles(lake)).toEqual(['open/a.txt', 'open/b.txt', 'open/c.txt', 'open/d.txt']);
    const dead = await call(ls.url, 'GET', `/${bucket}/sources/${sourceId}/dead-letters`);
    expect(dead.body.deadLetters.map((d: { key: string }) => d.key)).toEqual(['locked/secret-1.txt', 'locked/secret-2.txt']);
    for (const d of dead.body.deadLetters) {
      expect(d.attempts).toBe(3);
      expect(d.lastError).toContain('AccessDenied');
    }

    // The cause fixed (credentials that may read everything), the dead letters come in.
    const patched = await call(ls.url, 'PATCH', `/${bucket}/sources/${sourceId}`, {
      s3: { accessKeyId: minio.accessKeyId, secretAccessKey: minio.secretAccessKey },
    });
    expect(patched.status).toBe(200);
    const retry = await call(ls.url, 'POST', `/${bucket}/sources/${sourceId}/ingest`, { retryFailed: true });
    expect(retry.body).toMatchObject({ accepted: true, dispatched: 2 });
    const replay = await waitForJob(ls.url, bucket, sourceId, retry.body.jobId);
    expect(replay.job).toMatchObject({ status: 'JOB_STATUS_SUCCEEDED', objectsDiscovered: 2, objectsProcessed: 2, objectsFailed: 0 });
    expect(await listFiles(lake)).toEqual([...keys].sort());
    expect((await call(ls.url, 'GET', `/${bucket}/sources/${sourceId}/dead-letters`)).body.deadLetters).toEqual([]);
  });
});

describe('a source on the S3 lake’s own endpoint, with other credentials', () => {
  let ls: TestLakesync;
  beforeAll(async () => {
    ls = await startTestLakesync({ lake: 's3', activityOverrides: { retryBackoffMs: 20 } });
  });
  afterAll(async () => {
    await ls?.stop();
  });

  it('never has the lake copy server-side what the source’s own credentials may list but not read', async () => {
    const { minio } = inject('infra');
    const { srcBucket, creds } = await lockedBucket('deputy-src', ['open/a.txt', 'locked/secret.txt']);
    const bucket = unique('kb');
    expect((await call(ls.url, 'POST', '/admin/buckets', { name: bucket })).status).toBe(201);
    // Same endpoint as the lake, which holds MinIO's root keys and could read everything.
    const created = await call(ls.url, 'POST', `/${bucket}/sources`, {
      name: 'deputy',
      kind: 's3',
      s3: { endpoint: minio.endpoint, bucket: srcBucket, ...creds },
      syncIntervalSeconds: 3600,
    });
    expect(created.status).toBe(201);
    const sourceId = created.body.sourceId as string;
    const run = await call(ls.url, 'POST', `/${bucket}/sources/${sourceId}/discover`, {});
    const { job } = await waitForJob(ls.url, bucket, sourceId, run.body.jobId);
    expect(job).toMatchObject({ status: 'JOB_STATUS_PARTIAL', objectsDiscovered: 2, objectsProcessed: 1, objectsFailed: 1 });
    const listed = await call(ls.url, 'GET', `/${bucket}/objects`);
    expect(listed.body.objects.map((o: { key: string }) => o.key)).toEqual(['open/a.txt']);
    const dead = await call(ls.url, 'GET', `/${bucket}/sources/${sourceId}/dead-letters`);
    expect(dead.body.deadLetters).toEqual([expect.objectContaining({ key: 'locked/secret.txt', lastError: expect.stringContaining('AccessDenied') })]);
  });
});
