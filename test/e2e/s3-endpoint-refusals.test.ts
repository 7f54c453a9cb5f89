/**
 * What lakesync's S3 endpoint refuses, with S3's error codes, and that a
 * refused write stores nothing: bad credentials, revoked keys, expired and
 * tampered presigned URLs, other organisations' buckets, keys limited to
 * buckets or scopes, bad digests and checksums, and operations it does not do.
 */
import {
  CopyObjectCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  PutObjectTaggingCommand,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import aws4 from 'aws4';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call } from '../support/http.js';
import { startTestLakesync, unique, type TestLakesync } from '../support/lakesync.js';
import { createKey, lakesyncS3, s3Error, type S3Key } from '../support/s3-endpoint.js';

describe.each(['filesystem', 's3'] as const)('S3 endpoint refusals over a %s lake', (lake) => {
  let ls: TestLakesync;
  let key: S3Key;
  let s3: S3Client;
  const bucket = unique('s3r');
  const otherBucket = unique('s3r-other');

  const exists = async (k: string) =>
    s3.send(new HeadObjectCommand({ Bucket: bucket, Key: k })).then(
      () => true,
      (err: S3ServiceException) => (err.$metadata.httpStatusCode === 404 ? false : Promise.reject(err)),
    );

  /** A raw request signed with aws4 (header form), for bodies the SDK would not send. */
  const rawSigned = async (method: string, path: string, headers: Record<string, string>, body: string, creds: S3Key = key) => {
    const url = new URL(ls.url);
    const signed = aws4.sign({ host: url.host, method, path, headers, body, service: 's3', region: 'us-east-1' }, creds);
    const res = await fetch(`${ls.url}${path}`, { method, headers: signed.headers as Record<string, string>, body });
    return { status: res.status, text: await res.text() };
  };

  beforeAll(async () => {
    ls = await startTestLakesync({ lake });
    expect((await call(ls.url, 'POST', '/admin/buckets', { name: bucket })).status).toBe(201);
    const other = { authorization: `Bearer ${await ls.token({ org: 'other-org' })}` };
    expect((await call(ls.url, 'POST', '/admin/buckets', { name: otherBucket }, other)).status).toBe(201);
    key = await createKey(ls, { scopes: ['read', 'write'] });
    s3 = lakesyncS3(ls, key);
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'present.txt', Body: 'present' }));
  });
  afterAll(async () => {
    s3?.destroy();
    await ls?.stop();
  });

  it('refuses a wrong secret, an unknown key id and a revoked key', async () => {
    const wrong = lakesyncS3(ls, { accessKeyId: key.accessKeyId, secretAccessKey: 'x'.repeat(40) });
    expect(await s3Error(wrong.send(new PutObjectCommand({ Bucket: bucket, Key: 'wrong-secret', Body: 'x' })))).toMatchObject({
      name: 'SignatureDoesNotMatch',
      status: 403,
    });
    const unknown = lakesyncS3(ls, { accessKeyId: 'LKSA0000000000000000', secretAccessKey: key.secretAccessKey });
    expect(await s3Error(unknown.send(new ListObjectsV2Command({ Bucket: bucket })))).toMatchObject({ name: 'InvalidAccessKeyId', status: 403 });
    const doomed = await createKey(ls, { scopes: ['read', 'write'] });
    const client = lakesyncS3(ls, doomed);
    await client.send(new ListObjectsV2Command({ Bucket: bucket }));
    expect((await call(ls.url, 'DELETE', `/admin/keys/${doomed.accessKeyId}`)).status).toBeLessThan(300);
    expect(await s3Error(client.send(new PutObjectCommand({ Bucket: bucket, Key: 'revoked', Body: 'x' })))).toMatchObject({
      name: 'InvalidAccessKeyId',
    });
    expect(await exists('wrong-secret')).toBe(false);
    expect(await exists('revoked')).toBe(false);
  });

  it('serves a presigned URL to plain fetch, and refuses it expired or tampered', async () => {
    const url = await getSignedUrl(s3, new GetObjectCommand({ Bucket: bucket, Key: 'present.txt' }), { expiresIn: 60 });
    const ok = await fetch(url);
    expect([ok.status, await ok.text()]).toEqual([200, 'present']);
    const tampered = await fetch(url.replace('present.txt', 'present.tx%74x'));
    expect(tampered.status).toBe(403);
    expect(await tampered.text()).toContain('<Code>SignatureDoesNotMatch</Code>');
    const old = await getSignedUrl(s3, new GetObjectCommand({ Bucket: bucket, Key: 'present.txt' }), {
      expiresIn: 1,
      signingDate: new Date(Date.now() - 3_600_000),
    });
    const expired = await fetch(old);
    expect(expired.status).toBe(403);
    expect(await expired.text()).toMatch(/<Code>AccessDenied<\/Code><Message>Request has expired/);
    const put = await getSignedUrl(s3, new PutObjectCommand({ Bucket: bucket, Key: 'presigned-put.txt' }), { expiresIn: 60 });
    expect((await fetch(put, { method: 'PUT', body: 'via presign' })).status).toBe(200);
    expect(await (await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'presigned-put.txt' }))).Body!.transformToString()).toBe('via presign');
  });

  it("answers another organisation's bucket exactly as a missing one", async () => {
    const theirs = await s3Error(s3.send(new PutObjectCommand({ Bucket: otherBucket, Key: 'x', Body: 'x' })));
    const missing = await s3Error(s3.send(new PutObjectCommand({ Bucket: unique('s3r-none'), Key: 'x', Body: 'x' })));
    expect(theirs).toEqual({ name: 'NoSuchBucket', status: 404 });
    expect(missing).toEqual(theirs);
    expect(await s3Error(s3.send(new CopyObjectCommand({ Bucket: bucket, Key: 'stolen', CopySource: `${otherBucket}/x` })))).toEqual(theirs);
  });

  it('holds keys to their scopes and buckets', async () => {
    const reader = lakesyncS3(ls, await createKey(ls, { scopes: ['read'] }));
    expect(await s3Error(reader.send(new PutObjectCommand({ Bucket: bucket, Key: 'by-reader', Body: 'x' })))).toMatchObject({
      name: 'AccessDenied',
      status: 403,
    });
    const elsewhere = unique('s3r-limited');
    expect((await call(ls.url, 'POST', '/admin/buckets', { name: elsewhere })).status).toBe(201);
    const limited = lakesyncS3(ls, await createKey(ls, { scopes: ['read', 'write'], buckets: [elsewhere] }));
    expect(await s3Error(limited.send(new GetObjectCommand({ Bucket: bucket, Key: 'present.txt' })))).toMatchObject({ name: 'AccessDenied' });
    await limited.send(new PutObjectCommand({ Bucket: elsewhere, Key: 'ok', Body: 'ok' }));
    expect(await exists('by-reader')).toBe(false);
  });

  it('refuses a bad Content-MD5, a bad checksum header and a bad trailing checksum, storing nothing', async () => {
    expect(
      await s3Error(s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'bad-md5', Body: 'hello', ContentMD5: Buffer.alloc(16).toString('base64') }))),
    ).toMatchObject({ name: 'BadDigest', status: 400 });
    expect(await s3Error(s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'bad-crc', Body: 'hello', ChecksumCRC32: 'AAAAAA==' })))).toMatchObject({
      name: 'BadDigest',
    });
    const chunked = '5\r\nhello\r\n0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n';
    const trailer = await rawSigned(
      'PUT',
      `/${bucket}/bad-trailer`,
      {
        'x-amz-content-sha256': 'STREAMING-UNSIGNED-PAYLOAD-TRAILER',
        'content-encoding': 'aws-chunked',
        'x-amz-decoded-content-length': '5',
        'x-amz-trailer': 'x-amz-checksum-crc32',
      },
      chunked,
    );
    expect(trailer.status).toBe(400);
    expect(trailer.text).toContain('<Code>BadDigest</Code>');
    const sha = await rawSigned('PUT', `/${bucket}/bad-sha`, { 'x-amz-content-sha256': 'a'.repeat(64) }, 'hello');
    expect(sha.text).toContain('<Code>XAmzContentSHA256Mismatch</Code>');
    // Past 5 MiB the S3 lake writes through its multipart upload, which checks the digest itself before completing.
    const big = Buffer.alloc(6 * 1024 * 1024, 7);
    expect(
      await s3Error(s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'bad-md5-big', Body: big, ContentMD5: Buffer.alloc(16).toString('base64') }))),
    ).toMatchObject({ name: 'BadDigest', status: 400 });
    for (const k of ['bad-md5', 'bad-crc', 'bad-trailer', 'bad-sha', 'bad-md5-big']) expect(await exists(k)).toBe(false);
  });

  it('answers NotImplemented for what lakesync does not do, and changes nothing', async () => {
    expect(
      await s3Error(s3.send(new PutObjectTaggingCommand({ Bucket: bucket, Key: 'present.txt', Tagging: { TagSet: [{ Key: 'a', Value: 'b' }] } }))),
    ).toMatchObject({ name: 'NotImplemented', status: 501 });
    expect(await s3Error(s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'sse', Body: 'x', ServerSideEncryption: 'AES256' })))).toMatchObject({
      name: 'NotImplemented',
    });
    expect(await exists('sse')).toBe(false);
  });

  it('refuses XML with a document type (no entity can be declared) and answers keys no lake can hold as absent', async () => {
    const doc = '<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x "present.txt">]><Delete><Object><Key>&x;</Key></Object></Delete>';
    const md5 = (await import('node:crypto')).createHash('md5').update(doc).digest('base64');
    const refused = await rawSigned('POST', `/${bucket}?delete`, { 'content-md5': md5, 'content-type': 'application/xml' }, doc);
    expect(refused.status).toBe(400);
    expect(refused.text).toContain('<Code>MalformedXML</Code>');
    expect(await exists('present.txt')).toBe(true);
    expect(await s3Error(s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'a/../present.txt' })))).toEqual({ name: 'NoSuchKey', status: 404 });
    const deleted = await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'a//b' }));
    expect(deleted.$metadata.httpStatusCode).toBe(204);
  });

  it('labels S3 requests in the API metrics by operation, never by bucket or key', async () => {
    const text = await (await fetch(`${ls.url}/metrics`)).text();
    expect(text).toMatch(/lakesync_http_requests_total\{[^}]*route="s3:PutObject"[^}]*status="200"/);
    expect(text).toMatch(/route="s3:Unresolved"/);
    expect(text).not.toContain(bucket);
    expect(text).not.toContain('present.txt');
  });

  it('deletes in batches, quietly or not, and ingests what S3 writes through the push source', async () => {
    for (const k of ['batch/1', 'batch/2', 'batch/3']) await s3.send(new PutObjectCommand({ Bucket: bucket, Key: k, Body: k }));
    const loud = await s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: [{ Key: 'batch/1' }, { Key: 'batch/none' }] } }));
    expect(loud.Deleted?.map((d) => d.Key).sort()).toEqual(['batch/1', 'batch/none']);
    const quiet = await s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Quiet: true, Objects: [{ Key: 'batch/2' }] } }));
    expect(quiet.Deleted ?? []).toEqual([]);
    const left = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'batch/' }));
    expect(left.Contents?.map((c) => c.Key)).toEqual(['batch/3']);
    // Ingested by the bucket's push source, like any bearer PUT.
    await expect
      .poll(async () => (await call(ls.url, 'GET', `/${bucket}/objects/${encodeURIComponent('batch/3')}/info`)).body?.source?.name ?? null, { timeout: 30_000 })
      .not.toBeNull();
  });
});
