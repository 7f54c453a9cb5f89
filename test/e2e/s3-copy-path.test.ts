/**
 * Which way the bytes go, seen on the wire: an S3 source on the lake's own
 * endpoint that reads with the lake's own access key is copied server-side
 * (CopyObject, nothing read or uploaded by the worker); one with other
 * credentials on that same endpoint is streamed (GET from the source, PUT to
 * the lake), so the lake's keys never read what the source's cannot. A
 * recording proxy in front of MinIO stands in for the shared endpoint.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CreateBucketCommand, HeadObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { inject } from 'vitest';
import { call, waitForJob } from '../support/http.js';
import { minioClient, startTestLakesync, unique, type TestLakesync } from '../support/lakesync.js';
import { s3Sha, sha256 } from '../support/objects.js';
import { startRecordingProxy, type RecordedRequest, type RecordingProxy } from '../support/recording-proxy.js';
import { restrictedCredentials } from '../support/sts.js';

/** The decoded path of a recorded request, without its query. */
const pathOf = (r: RecordedRequest): string => decodeURIComponent(r.url.split('?')[0]!);
const copySourceOf = (r: RecordedRequest): string | undefined => {
  const h = r.headers['x-amz-copy-source'];
  return typeof h === 'string' ? decodeURIComponent(h).replace(/^\//, '') : undefined;
};

describe('server-side copy or stream, on the wire', () => {
  let proxy: RecordingProxy;
  let ls: TestLakesync;
  let s3: S3Client;
  let lakeBucket: string;
  const sourceBucket = unique('copy-src');
  const keys = ['plain.txt', 'nested/deep/a.bin', 'with space/ünï 名.txt', "odd/!'()*+,;=&$@.bin"];
  const body = (key: string) => Buffer.from(`bytes of ${key}`);

  const ownBucket = async () => {
    const name = unique('kb');
    expect((await call(ls.url, 'POST', '/admin/buckets', { name })).status).toBe(201);
    return name;
  };
  const sync = async (bucket: string, s3Settings: Record<string, unknown>) => {
    const created = await call(ls.url, 'POST', `/${bucket}/sources`, {
      name: 'wire',
      kind: 's3',
      s3: { endpoint: proxy.endpoint, bucket: sourceBucket, forcePathStyle: true, ...s3Settings },
      syncIntervalSeconds: 3600,
    });
    expect(created.status).toBe(201);
    const mark = proxy.requests.length;
    const run = await call(ls.url, 'POST', `/${bucket}/sources/${created.body.sourceId}/discover`, {});
    const { job } = await waitForJob(ls.url, bucket, created.body.sourceId, run.body.jobId);
    return { job, seen: proxy.requests.slice(mark) };
  };
  const lakeHas = async (bucket: string, key: string) =>
    s3.send(new HeadObjectCommand({ Bucket: lakeBucket, Key: `${bucket}/${key}` })).then(
      () => true,
      (err: { name?: string }) => (err.name === 'NotFound' ? false : Promise.reject(err)),
    );

  beforeAll(async () => {
    const { minio } = inject('infra');
    proxy = await startRecordingProxy(minio.endpoint);
    // The lake is reached through the proxy too: source and lake share the endpoint, as the README's server-side copy asks.
    ls = await startTestLakesync({ lake: 's3', env: { LAKE_S3_ENDPOINT: proxy.endpoint } });
    lakeBucket = (ls.lake as { bucket: string }).bucket;
    s3 = minioClient();
    await s3.send(new CreateBucketCommand({ Bucket: sourceBucket }));
    for (const prefix of ['same-key/', 'other-key/']) {
      for (const key of [...keys, 'locked/secret.txt']) await s3.send(new PutObjectCommand({ Bucket: sourceBucket, Key: prefix + key, Body: body(key) }));
    }
  });
  afterAll(async () => {
    await ls?.stop();
    await proxy?.stop();
  });

  it("copies server-side when the source reads with the lake's own access key on the lake's endpoint", async () => {
    const { minio } = inject('infra');
    const bucket = await ownBucket();
    const { job, seen } = await sync(bucket, { prefix: 'same-key/', accessKeyId: minio.accessKeyId, secretAccessKey: minio.secretAccessKey });
    expect(job).toMatchObject({ status: 'JOB_STATUS_SUCCEEDED', objectsDiscovered: 5, objectsProcessed: 5, objectsFailed: 0 });

    // One CopyObject per object, from its source key to its lake key, each answered 200.
    const copies = seen.filter((r) => copySourceOf(r) !== undefined);
    const all = [...keys, 'locked/secret.txt'];
    expect(copies.map((r) => [r.method, pathOf(r), copySourceOf(r), r.status]).sort()).toEqual(
      all.map((k) => ['PUT', `/${lakeBucket}/${bucket}/${k}`, `${sourceBucket}/same-key/${k}`, 200]).sort(),
    );
    // The bytes never passed through the worker: no source object was read, nothing was uploaded into the lake.
    expect(seen.filter((r) => r.method === 'GET' && pathOf(r).startsWith(`/${sourceBucket}/same-key/`)).map(pathOf)).toEqual([]);
    expect(
      seen.filter((r) => (r.method === 'PUT' || r.method === 'POST') && copySourceOf(r) === undefined && pathOf(r).startsWith(`/${lakeBucket}/`)).map(pathOf),
    ).toEqual([]);
    for (const key of all) expect(await s3Sha(s3, lakeBucket, `${bucket}/${key}`), key).toBe(sha256(body(key)));
  });

  it('streams (GET from the source, PUT to the lake) when the source reads with other credentials on the same endpoint', async () => {
    const bucket = await ownBucket();
    // Other keys (temporary ones from STS) that may not read locked/: the lake's own keys could, and must not be used to.
    const creds = await restrictedCredentials({
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Action: ['s3:ListBucket', 's3:GetObject', 's3:GetBucketLocation'],
          Resource: [`arn:aws:s3:::${sourceBucket}`, `arn:aws:s3:::${sourceBucket}/*`],
        },
        { Effect: 'Deny', Action: ['s3:GetObject'], Resource: [`arn:aws:s3:::${sourceBucket}/other-key/locked/*`] },
      ],
    });
    const { job, seen } = await sync(bucket, { prefix: 'other-key/', ...creds });
    expect(job).toMatchObject({ status: 'JOB_STATUS_PARTIAL', objectsDiscovered: 5, objectsProcessed: 4, objectsFailed: 1 });

    expect(seen.filter((r) => copySourceOf(r) !== undefined).map(pathOf)).toEqual([]);
    // Each readable object read once from the source, and uploaded once into the lake.
    const reads = seen.filter((r) => r.method === 'GET' && pathOf(r).startsWith(`/${sourceBucket}/other-key/`) && r.status === 200);
    expect(reads.map(pathOf).sort()).toEqual(keys.map((k) => `/${sourceBucket}/other-key/${k}`).sort());
    const uploads = seen.filter((r) => r.method === 'PUT' && pathOf(r).startsWith(`/${lakeBucket}/${bucket}/`));
    expect(uploads.map((r) => [pathOf(r), r.status]).sort()).toEqual(keys.map((k) => [`/${lakeBucket}/${bucket}/${k}`, 200]).sort());
    // What the source's keys may not read was refused to them, and is not in the lake.
    expect(seen.filter((r) => r.method === 'GET' && pathOf(r) === `/${sourceBucket}/other-key/locked/secret.txt`).every((r) => r.status === 403)).toBe(true);
    expect(await lakeHas(bucket, 'locked/secret.txt')).toBe(false);
    for (const key of keys) expect(await s3Sha(s3, lakeBucket, `${bucket}/${key}`), key).toBe(sha256(body(key)));
  });
});
