/**
 * A provider preset is a shorthand for endpoint, region and addressing style:
 * here one is pointed at the suite's MinIO by an endpoint given beside it and
 * syncs for real; one that lacks what it needs is a 400 naming the field.
 * (The providers' own endpoints are not reachable from here: the unit test
 * checks what each preset resolves to.)
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { join } from 'node:path';
import { CreateBucketCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { call, waitForJob } from '../support/http.js';
import { minioClient, startTestLakesync, unique, type TestLakesync } from '../support/lakesync.js';
import { listFiles } from '../support/objects.js';

describe('S3 provider presets', () => {
  let ls: TestLakesync;
  let bucket: string;
  beforeAll(async () => {
    ls = await startTestLakesync({ lake: 'filesystem' });
    bucket = unique('kb');
    expect((await call(ls.url, 'POST', '/admin/buckets', { name: bucket })).status).toBe(201);
  });
  afterAll(async () => ls?.stop());

  it('syncs through a preset whose endpoint is overridden, storing what the preset filled', async () => {
    const { minio } = inject('infra');
    const src = unique('preset-src');
    const s3 = minioClient();
    await s3.send(new CreateBucketCommand({ Bucket: src }));
    for (const key of ['a.txt', 'deep/b.txt']) await s3.send(new PutObjectCommand({ Bucket: src, Key: key, Body: key }));
    const created = await call(ls.url, 'POST', `/${bucket}/sources`, {
      name: 'wasabi-like',
      kind: 's3',
      s3: { provider: 'wasabi', endpoint: minio.endpoint, bucket: src, accessKeyId: minio.accessKeyId, secretAccessKey: minio.secretAccessKey },
      syncIntervalSeconds: 3600,
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(created.body.s3).toEqual({
      provider: 'wasabi',
      endpoint: minio.endpoint,
      region: 'us-east-1',
      forcePathStyle: true,
      bucket: src,
      prefix: '',
      credentialsSet: true,
    });
    const started = await call(ls.url, 'POST', `/${bucket}/sources/${created.body.sourceId}/discover`, {});
    const { job } = await waitForJob(ls.url, bucket, created.body.sourceId, started.body.jobId);
    expect(job).toMatchObject({ status: 'JOB_STATUS_SUCCEEDED', objectsDiscovered: 2, objectsProcessed: 2 });
    expect(await listFiles(join((ls.lake as { dir: string }).dir, bucket))).toEqual(['a.txt', 'deep/b.txt']);
  });

  it('refuses a preset without the field it needs, naming it, and creates nothing', async () => {
    const own = unique('kb');
    expect((await call(ls.url, 'POST', '/admin/buckets', { name: own })).status).toBe(201);
    const res = await call(ls.url, 'POST', `/${own}/sources`, {
      name: 'r2',
      kind: 's3',
      s3: { provider: 'r2', bucket: 'data', accessKeyId: 'AK', secretAccessKey: 'SK' },
    });
    expect(res.status).toBe(400);
    expect(res.body.details).toEqual([{ field: 's3.accountId', problem: 'is required with provider "r2"' }]);
    const unknown = await call(ls.url, 'POST', `/${own}/sources`, {
      name: 'x',
      kind: 's3',
      s3: { provider: 'minio', bucket: 'data', accessKeyId: 'AK', secretAccessKey: 'SK' },
    });
    expect(unknown.status).toBe(400);
    expect(unknown.body.details[0].field).toBe('s3.provider');
    expect((await call(ls.url, 'GET', `/${own}/sources`)).body.sources).toEqual([]);
  });
});
