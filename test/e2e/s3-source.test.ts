/**
 * The foundation, end to end on real services: a MinIO bucket synced into an
 * S3 lake on the same endpoint (server-side copy), through the HTTP API, with
 * delta and full syncs.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CreateBucketCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { inject } from 'vitest';
import { call, waitForJob } from '../support/http.js';
import { minioClient, startTestLakesync, unique, type TestLakesync } from '../support/lakesync.js';
import { corpus, putAll, s3Sha, sha256 } from '../support/objects.js';

describe('S3 source into an S3 lake', () => {
  let ls: TestLakesync;
  let s3: S3Client;
  const sourceBucket = unique('src');
  const bucket = unique('kb');
  const prefix = 'exports/2026/';
  const files = corpus(200);
  let sourceId: string;

  async function lakeMatches(expected: Map<string, Buffer>) {
    const lakeBucket = (ls.lake as { bucket: string }).bucket;
    const keys: string[] = [];
    let token: string | undefined;
    do {
      const page = await s3.send(new ListObjectsV2Command({ Bucket: lakeBucket, Prefix: `${bucket}/`, ContinuationToken: token }));
      keys.push(...(page.Contents ?? []).map((o) => o.Key!.slice(bucket.length + 1)));
      token = page.NextContinuationToken;
    } while (token);
    expect(keys.sort()).toEqual([...expected.keys()].sort());
    for (const [key, body] of expected) expect(await s3Sha(s3, lakeBucket, `${bucket}/${key}`), key).toBe(sha256(body));
  }

  beforeAll(async () => {
    ls = await startTestLakesync({ lake: 's3' });
    s3 = minioClient();
    await s3.send(new CreateBucketCommand({ Bucket: sourceBucket }));
    await putAll(s3, sourceBucket, prefix, files);
    // Outside the prefix: must not be synced.
    await s3.send(new PutObjectCommand({ Bucket: sourceBucket, Key: 'elsewhere/skip.txt', Body: 'no' }));
  });
  afterAll(async () => ls?.stop());

  it('creates the bucket and the source, returning the workflow that drives it', async () => {
    expect((await call(ls.url, 'POST', '/admin/buckets', { name: bucket })).status).toBe(201);
    const { minio } = inject('infra');
    const res = await call(ls.url, 'POST', `/${bucket}/sources`, {
      name: 'exports',
      kind: 's3',
      s3: { endpoint: minio.endpoint, region: minio.region, bucket: sourceBucket, prefix, accessKeyId: minio.accessKeyId, secretAccessKey: minio.secretAccessKey, forcePathStyle: true },
      syncIntervalSeconds: 3600,
      batchSize: 25,
    });
    expect(res.status).toBe(201);
    expect(res.body.sourceId).toMatch(/^src_/);
    expect(res.body.workflowId).toBe(`lakesync-source-${res.body.sourceId}`);
    expect(res.body.s3.credentialsSet).toBe(true);
    expect(JSON.stringify(res.body)).not.toContain(minio.secretAccessKey);
    sourceId = res.body.sourceId;
    const got = await call(ls.url, 'GET', `/${bucket}/sources/${sourceId}`);
    expect(got.body.name).toBe('exports');
  });

  it('syncs every object byte for byte, with exact counters', async () => {
    const started = await call(ls.url, 'POST', `/${bucket}/sources/${sourceId}/discover`, { bucket, sourceId });
    expect(started.status).toBe(200);
    expect(started.body).toMatchObject({ accepted: true, message: 'Discovery scan started' });
    expect(started.body.jobId).toMatch(/^job_/);
    const { job, sync } = await waitForJob(ls.url, bucket, sourceId, started.body.jobId);
    expect(job.status).toBe('JOB_STATUS_SUCCEEDED');
    expect(job.objectsListed).toBe(200);
    expect(sync).toMatchObject({ bucket, sourceId, status: 'SOURCE_STATUS_ACTIVE', objectsDiscovered: '200', objectsProcessed: '200', objectsIndexed: '200' });
    expect(Number(sync.lastSuccessAt)).toBeGreaterThan(0);
    expect(Number(sync.nextSyncAt)).toBeGreaterThan(Number(sync.lastSyncAt));
    await lakeMatches(files);
  });

  it('dispatches only what changed on a delta scan, and everything on a full sync', async () => {
    const again = await call(ls.url, 'POST', `/${bucket}/sources/${sourceId}/discover`, {});
    const second = await waitForJob(ls.url, bucket, sourceId, again.body.jobId);
    expect(second.job.objectsDiscovered).toBe(0);
    expect(second.sync.objectsDiscovered).toBe('0');

    const changed = [...files.keys()].filter((k) => k.startsWith('dir1/')).slice(0, 3);
    for (const key of changed) files.set(key, Buffer.from(`changed ${key} ${Date.now()}`));
    files.set('new/one.txt', Buffer.from('new one'));
    files.set('new/two.txt', Buffer.from('new two'));
    await putAll(s3, sourceBucket, prefix, new Map([...changed, 'new/one.txt', 'new/two.txt'].map((k) => [k, files.get(k)!])));

    const { minio } = inject('infra');
    // Rotating the keys touches nothing else: the prefix (a field with a default) stays, so the delta below lists only it.
    const rotated = await call(ls.url, 'PATCH', `/${bucket}/sources/${sourceId}`, { s3: { accessKeyId: minio.accessKeyId, secretAccessKey: minio.secretAccessKey } });
    expect(rotated.status).toBe(200);
    expect(rotated.body.s3).toMatchObject({ prefix, bucket: sourceBucket, forcePathStyle: true });

    const delta = await call(ls.url, 'POST', `/${bucket}/sources/${sourceId}/discover`, {});
    const third = await waitForJob(ls.url, bucket, sourceId, delta.body.jobId);
    expect(third.job.objectsDiscovered).toBe(5);
    expect(third.sync).toMatchObject({ objectsDiscovered: '5', objectsProcessed: '5', objectsIndexed: '5' });
    await lakeMatches(files);

    const full = await call(ls.url, 'POST', `/${bucket}/sources/${sourceId}/discover`, { fullSync: true });
    const fourth = await waitForJob(ls.url, bucket, sourceId, full.body.jobId);
    expect(fourth.job).toMatchObject({ fullSync: true, objectsDiscovered: 202, objectsProcessed: 202, objectsFailed: 0 });
    await lakeMatches(files);
  });

  it('lists jobs newest first with cursor pagination', async () => {
    const first = await call(ls.url, 'GET', `/${bucket}/jobs?source_id=${sourceId}&page_size=3`);
    expect(first.body.totalCount).toBe(4);
    expect(first.body.jobs).toHaveLength(3);
    expect(first.body.jobs[0].fullSync).toBe(true);
    const rest = await call(ls.url, 'GET', `/${bucket}/jobs?source_id=${sourceId}&page_size=3&page_token=${encodeURIComponent(first.body.nextPageToken)}`);
    expect(rest.body.jobs).toHaveLength(1);
    expect(rest.body.nextPageToken).toBe('');
    expect(rest.body.jobs[0].objectsDiscovered).toBe(200);
  });

  it('answers health once Postgres and Temporal are reachable', async () => {
    const res = await call(ls.url, 'GET', '/healthz');
    expect(res).toEqual({ status: 200, body: { status: 'ok', postgres: 'ok', temporal: 'ok' } });
  });
});
