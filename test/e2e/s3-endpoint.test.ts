/**
 * lakesync's S3 endpoint driven by @aws-sdk/client-s3 with its default
 * behaviour (CRC32 trailing checksums over aws-chunked bodies): the core
 * operations, their S3 errors, and that what S3 writes is ingested.
 */
import {
  CopyObjectCommand,
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  GetBucketLocationCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListBucketsCommand,
  ListObjectsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { Agent } from 'node:http';
import type { LookupFunction } from 'node:net';
import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, waitFor } from '../support/http.js';
import { startTestLakesync, unique, type TestLakesync } from '../support/lakesync.js';
import { createKey, lakesyncS3, s3Error } from '../support/s3-endpoint.js';

describe.each(['filesystem', 's3'] as const)('S3 endpoint over a %s lake', (lake) => {
  let ls: TestLakesync;
  let s3: S3Client;
  const bucket = unique('s3e');

  beforeAll(async () => {
    ls = await startTestLakesync({ lake });
    expect((await call(ls.url, 'POST', '/admin/buckets', { name: bucket })).status).toBe(201);
    s3 = lakesyncS3(ls, await createKey(ls, { scopes: ['admin'] }));
  });
  afterAll(async () => {
    s3?.destroy();
    await ls?.stop();
  });

  it('lists the organisation buckets and answers HeadBucket and GetBucketLocation', async () => {
    const listed = await s3.send(new ListBucketsCommand({}));
    expect(listed.Buckets?.map((b) => b.Name)).toContain(bucket);
    expect((await s3.send(new HeadBucketCommand({ Bucket: bucket }))).$metadata.httpStatusCode).toBe(200);
    expect((await s3.send(new GetBucketLocationCommand({ Bucket: bucket }))).LocationConstraint ?? '').toBe('');
    expect(await s3Error(s3.send(new HeadBucketCommand({ Bucket: unique('nope') })))).toMatchObject({ status: 404 });
  });

  it('puts, heads, gets (ranges, conditionals) and lists objects, with stored metadata and S3 ETags', async () => {
    const body = randomBytes(300_000);
    const md5 = createHash('md5').update(body).digest('hex');
    const put = await s3.send(
      new PutObjectCommand({ Bucket: bucket, Key: 'dir/a b+c.bin', Body: body, ContentType: 'application/x-test', Metadata: { colour: 'blue' } }),
    );
    expect(put.ETag).toBe(`"${md5}"`);
    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'dir/a b+c.bin' }));
    expect(head).toMatchObject({ ContentLength: body.length, ContentType: 'application/x-test', ETag: `"${md5}"`, Metadata: { colour: 'blue' } });
    const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'dir/a b+c.bin' }));
    expect(Buffer.from(await got.Body!.transformToByteArray()).equals(body)).toBe(true);
    const ranged = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'dir/a b+c.bin', Range: 'bytes=10-19' }));
    expect(Buffer.from(await ranged.Body!.transformToByteArray()).equals(body.subarray(10, 20))).toBe(true);
    expect(await s3Error(s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'dir/a b+c.bin', IfMatch: '"0000"' })))).toMatchObject({
      name: 'PreconditionFailed',
      status: 412,
    });
    expect(await s3Error(s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'dir/a b+c.bin', Range: 'bytes=400000-' })))).toMatchObject({
      name: 'InvalidRange',
      status: 416,
    });
    // An explicit range is read in one ask of the lake: past the end it is cut to the object, wholly past it is refused.
    const clipped = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'dir/a b+c.bin', Range: 'bytes=299990-400000' }));
    expect(clipped.ContentRange).toBe('bytes 299990-299999/300000');
    expect(clipped.ContentLength).toBe(10);
    expect(Buffer.from(await clipped.Body!.transformToByteArray()).equals(body.subarray(299990))).toBe(true);
    expect(await s3Error(s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'dir/a b+c.bin', Range: 'bytes=300000-300009' })))).toMatchObject({
      name: 'InvalidRange',
      status: 416,
    });
    expect(await s3Error(s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'dir/a b+c.bin', Range: 'bytes=0-9', IfNoneMatch: `"${md5}"` })))).toMatchObject({
      status: 304,
    });
    expect(await s3Error(s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'dir/nothing', Range: 'bytes=0-9' })))).toMatchObject({
      name: 'NoSuchKey',
      status: 404,
    });
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'top.txt', Body: 'hello' }));
    const empty = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'dir/empty', Body: '' }));
    expect(empty.ETag).toBe(`"${createHash('md5').update('').digest('hex')}"`);
    expect(await (await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'dir/empty' }))).Body!.transformToString()).toBe('');
    const v2 = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Delimiter: '/' }));
    expect(v2.Contents?.map((c) => [c.Key, c.ETag])).toEqual([['top.txt', `"${createHash('md5').update('hello').digest('hex')}"`]]);
    expect(v2.CommonPrefixes?.map((p) => p.Prefix)).toEqual(['dir/']);
    const paged = await s3.send(new ListObjectsV2Command({ Bucket: bucket, MaxKeys: 1 }));
    expect(paged.IsTruncated).toBe(true);
    const rest = await s3.send(new ListObjectsV2Command({ Bucket: bucket, MaxKeys: 1, ContinuationToken: paged.NextContinuationToken }));
    const third = await s3.send(new ListObjectsV2Command({ Bucket: bucket, MaxKeys: 1, ContinuationToken: rest.NextContinuationToken }));
    expect([paged.Contents?.[0]?.Key, rest.Contents?.[0]?.Key, third.Contents?.[0]?.Key, third.IsTruncated]).toEqual([
      'dir/a b+c.bin',
      'dir/empty',
      'top.txt',
      false,
    ]);
    const v1 = await s3.send(new ListObjectsCommand({ Bucket: bucket, Prefix: 'dir/' }));
    expect(v1.Contents?.map((c) => c.Key)).toEqual(['dir/a b+c.bin', 'dir/empty']);
  });

  it('reads and writes keys the K3 routes would shadow', async () => {
    for (const key of ['sources/x', 'jobs', 'objects/y/info']) {
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: key }));
      const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      expect(await got.Body!.transformToString()).toBe(key);
    }
    await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'jobs' }));
    expect(await s3Error(s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'jobs' })))).toMatchObject({ status: 404 });
    // An object named after a real source: S3's DeleteObject removes the object, never the source.
    const listed = await call(ls.url, 'GET', `/${bucket}/sources`);
    const sourceId = listed.body.sources[0].sourceId as string;
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: `sources/${sourceId}`, Body: 'not a source' }));
    await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: `sources/${sourceId}` }));
    expect(await s3Error(s3.send(new HeadObjectCommand({ Bucket: bucket, Key: `sources/${sourceId}` })))).toMatchObject({ status: 404 });
    expect((await call(ls.url, 'GET', `/${bucket}/sources/${sourceId}`)).status).toBe(200);
    // A bearer DELETE of that path is the K3 route's (delete a source): for an object's name it finds no source,
    // removes nothing, and the object stays.
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'sources/x', Body: 'still here' }));
    const sourcesBefore = (await call(ls.url, 'GET', `/${bucket}/sources`)).body.sources.length;
    expect((await call(ls.url, 'DELETE', `/${bucket}/sources/x`)).status).toBe(404);
    expect((await call(ls.url, 'GET', `/${bucket}/sources`)).body.sources.length).toBe(sourcesBefore);
    expect(await (await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'sources/x' }))).Body!.transformToString()).toBe('still here');
  });

  it('copies objects, keeping or replacing their metadata', async () => {
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'copy/src.txt', Body: 'copy me', ContentType: 'text/x-src', Metadata: { a: '1' } }));
    const kept = await s3.send(new CopyObjectCommand({ Bucket: bucket, Key: 'copy/kept.txt', CopySource: `${bucket}/copy/src.txt` }));
    expect(kept.CopyObjectResult?.ETag).toBe(`"${createHash('md5').update('copy me').digest('hex')}"`);
    expect(await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'copy/kept.txt' }))).toMatchObject({ ContentType: 'text/x-src', Metadata: { a: '1' } });
    await s3.send(
      new CopyObjectCommand({
        Bucket: bucket,
        Key: 'copy/replaced.txt',
        CopySource: `${bucket}/${encodeURIComponent('copy/src.txt')}`,
        MetadataDirective: 'REPLACE',
        ContentType: 'text/x-new',
        Metadata: { b: '2' },
      }),
    );
    const replaced = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'copy/replaced.txt' }));
    expect([replaced.ContentType, replaced.Metadata, await replaced.Body!.transformToString()]).toEqual(['text/x-new', { b: '2' }, 'copy me']);
    expect(await s3Error(s3.send(new CopyObjectCommand({ Bucket: bucket, Key: 'copy/src.txt', CopySource: `${bucket}/copy/src.txt` })))).toMatchObject({
      name: 'InvalidRequest',
      status: 400,
    });
    expect(await s3Error(s3.send(new CopyObjectCommand({ Bucket: bucket, Key: 'copy/x', CopySource: `${bucket}/copy/none` })))).toMatchObject({
      name: 'NoSuchKey',
    });
    expect(
      await s3Error(s3.send(new CopyObjectCommand({ Bucket: bucket, Key: 'copy/x', CopySource: `${bucket}/copy/src.txt`, CopySourceIfMatch: '"nope"' }))),
    ).toMatchObject({ name: 'PreconditionFailed', status: 412 });
  });

  it('catalogs a burst of PUTs in one batch while no pipeline is routed, in batches of the source size once one is', async () => {
    const source = async () => {
      const listed = (await call(ls.url, 'GET', `/${bucket}/sources`)).body.sources as { sourceId: string; name: string }[];
      const push = listed.find((src) => src.name === 'direct-puts')!;
      return (await call(ls.url, 'GET', `/${bucket}/sources/${push.sourceId}`)).body as {
        sourceId: string;
        currentJobId: string | null;
        batchesCreated: number;
        totalObjectsSynced: number;
      };
    };
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'burst/first', Body: 'x' }));
    // At rest first: nothing the push source owes, and no run in flight.
    const { sourceId } = await source();
    const owed = async () =>
      (await call(ls.url, 'GET', `/${bucket}/sources/${sourceId}/objects?status=SOURCE_OBJECT_STATUS_OWED`)).body.objects.length as number;
    const idle = await waitFor('the push source at rest', async () => {
      const src = await source();
      return src.currentJobId === null && (await owed()) === 0 && src;
    });
    // A burst of 120 PUTs gathered while the source is paused, then cataloged once it resumes: the batches it took.
    const burst = async (prefix: string) => {
      expect((await call(ls.url, 'POST', `/${bucket}/sources/${idle.sourceId}/pause`, { reason: 'gathering a burst' })).status).toBe(200);
      // A late wake-up (an earlier PUT's, sent after the rest above) may have started a run just before the pause: it
      // must end first, with nothing owed to dispatch, or it would take the first of the burst's PUTs as a batch of its own.
      await waitFor('no run in flight while paused', async () => {
        const sync = (await call(ls.url, 'GET', `/${bucket}/sources/${idle.sourceId}/sync`)).body as { live: boolean; currentJobId?: string };
        return sync.live && sync.currentJobId === undefined;
      });
      const keys = Array.from({ length: 120 }, (_, i) => `${prefix}/k${String(i).padStart(3, '0')}`);
      for (let i = 0; i < keys.length; i += 20)
        await Promise.all(keys.slice(i, i + 20).map((Key) => s3.send(new PutObjectCommand({ Bucket: bucket, Key, Body: Key }))));
      const before = await source();
      expect((await call(ls.url, 'POST', `/${bucket}/sources/${idle.sourceId}/resume`, {})).status).toBe(200);
      const after = await waitFor('the burst cataloged', async () => {
        const src = await source();
        return src.currentJobId === null && src.totalObjectsSynced >= before.totalObjectsSynced + 120 && src;
      });
      expect(after.totalObjectsSynced).toBe(before.totalObjectsSynced + 120);
      // A late wake-up may start another run, which finds nothing owed and makes no batch.
      return after.batchesCreated - before.batchesCreated;
    };
    // A pushed batch copies nothing: 1000 objects a batch, not the source's 50.
    expect(await burst('burst')).toBe(1);
    // Once a rule routes the bucket's objects to a pipeline, the source's own size spreads their processing again.
    const text = await call(ls.url, 'POST', `/${bucket}/pipelines`, { name: 'burst-text', kind: 'fulltext' });
    const rule = await call(ls.url, 'POST', `/${bucket}/rules`, {
      name: 'burst-rule',
      pipelineIds: [text.body.pipelineId],
      match: { includePatterns: ['routed/**'] },
    });
    expect(rule.status).toBe(201);
    try {
      // Their keys name no text format: the pipeline skips them, letting go of each lake body unread (an S3 lake's
      // body errors as it is destroyed, which once went unheard and would take the worker down).
      // However the 120 fall into runs (a late wake-up of the first burst's may take some), 50 a batch is 3 or more.
      expect(await burst('routed')).toBeGreaterThanOrEqual(3);
    } finally {
      expect((await call(ls.url, 'DELETE', `/${bucket}/rules/${rule.body.ruleId}`)).status).toBeLessThan(300);
      expect((await call(ls.url, 'DELETE', `/${bucket}/pipelines/${text.body.pipelineId}`)).status).toBeLessThan(300);
    }
  });

  it('answers NoSuchKey, refuses unstorable keys, and creates and deletes buckets', async () => {
    expect(await s3Error(s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'missing' })))).toMatchObject({ name: 'NoSuchKey', status: 404 });
    expect(await s3Error(s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'a/../b', Body: 'x' })))).toEqual({ name: 'InvalidArgument', status: 400 });
    expect(await s3Error(s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'k'.repeat(1025), Body: 'x' })))).toEqual({
      name: 'KeyTooLongError',
      status: 400,
    });
    // Nothing of either was stored: the lake lists neither `a/…`, `b` nor the long key.
    const all = await s3.send(new ListObjectsV2Command({ Bucket: bucket }));
    expect(all.Contents?.map((c) => c.Key).filter((k) => k === 'b' || k!.startsWith('a/') || k!.startsWith('kkk'))).toEqual([]);
    // Conditional writes compare the ETag S3 clients hold (an MD5 in both lake kinds).
    const first = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'cond.txt', Body: 'one' }));
    expect(await s3Error(s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'cond.txt', Body: 'x', IfNoneMatch: '*' })))).toEqual({
      name: 'PreconditionFailed',
      status: 412,
    });
    expect(await s3Error(s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'cond.txt', Body: 'x', IfMatch: '"0123"' })))).toMatchObject({
      name: 'PreconditionFailed',
    });
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'cond.txt', Body: 'two', IfMatch: first.ETag }));
    expect(await (await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'cond.txt' }))).Body!.transformToString()).toBe('two');
    if (lake === 'filesystem') {
      // A directory lake cannot hold a file and a folder of one name: a clear 4xx, never a 500 clients retry.
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'clash', Body: 'file' }));
      expect(await s3Error(s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'clash/inner', Body: 'x' })))).toEqual({ name: 'InvalidRequest', status: 400 });
    }
    const other = unique('s3mb');
    await s3.send(new CreateBucketCommand({ Bucket: other }));
    expect(await s3Error(s3.send(new CreateBucketCommand({ Bucket: other })))).toMatchObject({ name: 'BucketAlreadyOwnedByYou', status: 409 });
    await s3.send(new PutObjectCommand({ Bucket: other, Key: 'x', Body: 'x' }));
    expect(await s3Error(s3.send(new DeleteBucketCommand({ Bucket: other })))).toMatchObject({ name: 'BucketNotEmpty', status: 409 });
    await s3.send(new DeleteObjectCommand({ Bucket: other, Key: 'x' }));
    await s3.send(new DeleteBucketCommand({ Bucket: other }));
    expect(await s3Error(s3.send(new HeadBucketCommand({ Bucket: other })))).toMatchObject({ status: 404 });
  });
});

describe('S3 endpoint, virtual-host style and another region', () => {
  let ls: TestLakesync;
  const bucket = unique('s3vh');
  const domain = 's3.lakesync.test';

  beforeAll(async () => {
    ls = await startTestLakesync({ lake: 'filesystem', env: { LAKESYNC_S3_DOMAIN: domain, LAKESYNC_S3_REGION: 'eu-west-3' } });
    expect((await call(ls.url, 'POST', '/admin/buckets', { name: bucket })).status).toBe(201);
  });
  afterAll(async () => {
    await ls?.stop();
  });

  /** The SDK addressing `<bucket>.s3.lakesync.test`, every name resolved to the loopback lakesync listens on. */
  const virtualHosted = (key: { accessKeyId: string; secretAccessKey: string }, region: string) => {
    const port = new URL(ls.url).port;
    const lookup = ((_host: string, options: { all?: boolean }, cb: (...args: unknown[]) => void) =>
      options?.all ? cb(null, [{ address: '127.0.0.1', family: 4 }]) : cb(null, '127.0.0.1', 4)) as unknown as LookupFunction;
    return new S3Client({
      endpoint: `http://${domain}:${port}`,
      region,
      forcePathStyle: false,
      credentials: key,
      maxAttempts: 1,
      requestHandler: new NodeHttpHandler({ httpAgent: new Agent({ lookup }) }),
    });
  };

  it('serves bucket.<domain> requests signed for the configured region, and refuses another region', async () => {
    const key = await createKey(ls, { scopes: ['read', 'write'] });
    const s3 = virtualHosted(key, 'eu-west-3');
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'vh/one.txt', Body: 'virtual' }));
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket }));
    expect(listed.Contents?.map((c) => c.Key)).toEqual(['vh/one.txt']);
    expect(await (await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'vh/one.txt' }))).Body!.transformToString()).toBe('virtual');
    expect((await s3.send(new GetBucketLocationCommand({ Bucket: bucket }))).LocationConstraint).toBe('eu-west-3');
    const wrongRegion = virtualHosted(key, 'us-east-1');
    expect(await s3Error(wrongRegion.send(new ListObjectsV2Command({ Bucket: bucket })))).toMatchObject({ name: 'AuthorizationHeaderMalformed', status: 400 });
    s3.destroy();
    wrongRegion.destroy();
  });
});
