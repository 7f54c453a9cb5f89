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
  const prefix = 'exports/2026/';
  const files = corpus(200);

  /** A lake bucket of the test's own, so what it finds there is only what it synced. */
  const ownBucket = async () => {
    const name = unique('kb');
    expect((await call(ls.url, 'POST', '/admin/buckets', { name })).status).toBe(201);
    return name;
  };
  /** An S3 source over `sourcePrefix` of the source bucket. */
  const createSource = async (bucket: string, sourcePrefix: string) => {
    const { minio } = inject('infra');
    const res = await call(ls.url, 'POST', `/${bucket}/sources`, {
      name: 'exports',
      kind: 's3',
      s3: {
        endpoint: minio.endpoint,
        region: minio.region,
        bucket: sourceBucket,
        prefix: sourcePrefix,
        accessKeyId: minio.accessKeyId,
        secretAccessKey: minio.secretAccessKey,
        forcePathStyle: true,
      },
      syncIntervalSeconds: 3600,
      batchSize: 25,
    });
    expect(res.status).toBe(201);
    return res.body as { sourceId: string; workflowId: string; s3: Record<string, unknown> };
  };
  const discover = async (bucket: string, sourceId: string, body: Record<string, unknown> = {}) => {
    const started = await call(ls.url, 'POST', `/${bucket}/sources/${sourceId}/discover`, body);
    expect(started.status).toBe(200);
    return { started: started.body, ...(await waitForJob(ls.url, bucket, sourceId, started.body.jobId)) };
  };

  async function lakeMatches(bucket: string, expected: Map<string, Buffer>) {
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
    const bucket = await ownBucket();
    const { minio } = inject('infra');
    const res = await createSource(bucket, prefix);
    expect(res.sourceId).toMatch(/^src_/);
    expect(res.workflowId).toBe(`lakesync-source-${res.sourceId}`);
    expect(res.s3.credentialsSet).toBe(true);
    expect(JSON.stringify(res)).not.toContain(minio.secretAccessKey);
    const sourceId = res.sourceId;
    const got = await call(ls.url, 'GET', `/${bucket}/sources/${sourceId}`);
    expect(got.body.name).toBe('exports');
  });

  it('syncs every object byte for byte, with exact counters', async () => {
    const bucket = await ownBucket();
    const { sourceId } = await createSource(bucket, prefix);
    const { started, job, sync } = await discover(bucket, sourceId, { bucket, sourceId });
    expect(started).toMatchObject({ accepted: true, message: 'Discovery scan started' });
    expect(started.jobId).toMatch(/^job_/);
    expect(job.status).toBe('JOB_STATUS_SUCCEEDED');
    expect(job.objectsListed).toBe(200);
    expect(sync).toMatchObject({ bucket, sourceId, status: 'SOURCE_STATUS_ACTIVE', objectsDiscovered: '200', objectsProcessed: '200', objectsIndexed: '200' });
    expect(Number(sync.lastSuccessAt)).toBeGreaterThan(0);
    expect(Number(sync.nextSyncAt)).toBeGreaterThan(Number(sync.lastSyncAt));
    await lakeMatches(bucket, files);
  });

  it('dispatches only what changed on a delta scan, and everything on a full sync', async () => {
    // A prefix of its own in the source bucket: the changes below touch nothing another test lists.
    const bucket = await ownBucket();
    const deltaPrefix = 'delta/';
    const mine = corpus(40, { bigBytes: 1024 * 1024 });
    await putAll(s3, sourceBucket, deltaPrefix, mine);
    const { sourceId } = await createSource(bucket, deltaPrefix);
    const first = await discover(bucket, sourceId);
    expect(first.job).toMatchObject({ status: 'JOB_STATUS_SUCCEEDED', objectsDiscovered: 40, objectsProcessed: 40 });
    await lakeMatches(bucket, mine);

    const second = await discover(bucket, sourceId);
    expect(second.job.objectsDiscovered).toBe(0);
    expect(second.sync.objectsDiscovered).toBe('0');

    const changed = [...mine.keys()].filter((k) => k.startsWith('dir1/')).slice(0, 3);
    expect(changed).toHaveLength(3);
    for (const key of changed) mine.set(key, Buffer.from(`changed ${key} ${Date.now()}`));
    mine.set('new/one.txt', Buffer.from('new one'));
    mine.set('new/two.txt', Buffer.from('new two'));
    await putAll(s3, sourceBucket, deltaPrefix, new Map([...changed, 'new/one.txt', 'new/two.txt'].map((k) => [k, mine.get(k)!])));

    const { minio } = inject('infra');
    // Rotating the keys touches nothing else: the prefix (a field with a default) stays, so the delta below lists only it.
    const rotated = await call(ls.url, 'PATCH', `/${bucket}/sources/${sourceId}`, {
      s3: { accessKeyId: minio.accessKeyId, secretAccessKey: minio.secretAccessKey },
    });
    expect(rotated.status).toBe(200);
    expect(rotated.body.s3).toMatchObject({ prefix: deltaPrefix, bucket: sourceBucket, forcePathStyle: true });

    const third = await discover(bucket, sourceId);
    expect(third.job.objectsDiscovered).toBe(5);
    expect(third.sync).toMatchObject({ objectsDiscovered: '5', objectsProcessed: '5', objectsIndexed: '5' });
    await lakeMatches(bucket, mine);

    const fourth = await discover(bucket, sourceId, { fullSync: true });
    expect(fourth.job).toMatchObject({ fullSync: true, objectsDiscovered: 42, objectsProcessed: 42, objectsFailed: 0 });
    await lakeMatches(bucket, mine);
  });

  it('lists jobs newest first with cursor pagination', async () => {
    const bucket = await ownBucket();
    const jobsPrefix = 'jobs/';
    await putAll(
      s3,
      sourceBucket,
      jobsPrefix,
      new Map([
        ['a.txt', Buffer.from('a')],
        ['b.txt', Buffer.from('b')],
      ]),
    );
    const { sourceId } = await createSource(bucket, jobsPrefix);
    expect((await discover(bucket, sourceId)).job.objectsDiscovered).toBe(2);
    await discover(bucket, sourceId);
    await discover(bucket, sourceId);
    await discover(bucket, sourceId, { fullSync: true });
    const first = await call(ls.url, 'GET', `/${bucket}/jobs?source_id=${sourceId}&page_size=3`);
    expect(first.body.totalCount).toBe(4);
    expect(first.body.jobs).toHaveLength(3);
    expect(first.body.jobs[0].fullSync).toBe(true);
    const rest = await call(ls.url, 'GET', `/${bucket}/jobs?source_id=${sourceId}&page_size=3&page_token=${encodeURIComponent(first.body.nextPageToken)}`);
    expect(rest.body.jobs).toHaveLength(1);
    expect(rest.body.nextPageToken).toBe('');
    expect(rest.body.jobs[0].objectsDiscovered).toBe(2);
  });

  it('answers health once Postgres and Temporal are reachable', async () => {
    const res = await call(ls.url, 'GET', '/healthz');
    expect(res).toEqual({ status: 200, body: { status: 'ok', postgres: 'ok', temporal: 'ok', vectorIndex: 'exact' } });
  });
});
