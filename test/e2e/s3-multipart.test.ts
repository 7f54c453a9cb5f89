/**
 * S3 multipart uploads through lakesync's S3 endpoint, driven by
 * @aws-sdk/client-s3 with its default checksum behaviour, over both lake
 * kinds: parts out of order and uploaded again, UploadPartCopy of a range,
 * every refusal of CompleteMultipartUpload, abort, the listings' paging, and
 * that a completed upload is ingested like any PUT.
 */
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListPartsCommand,
  PutObjectCommand,
  UploadPartCommand,
  UploadPartCopyCommand,
  type CompletedPart,
  type S3Client,
} from '@aws-sdk/client-s3';
import { createHash, randomBytes } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeDb, createDb } from '../../db/client.js';
import { call, waitFor } from '../support/http.js';
import { minioClient, startTestLakesync, unique, type TestLakesync } from '../support/lakesync.js';
import { createKey, lakesyncS3, s3Error } from '../support/s3-endpoint.js';

const MiB = 1024 ** 2;
const md5 = (b: Buffer) => createHash('md5').update(b).digest();
const sha256Hex = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const md5OfMd5s = (parts: Buffer[]) =>
  `"${createHash('md5')
    .update(Buffer.concat(parts.map(md5)))
    .digest('hex')}-${parts.length}"`;

describe.each(['filesystem', 's3'] as const)('S3 multipart uploads over a %s lake', (lake) => {
  let ls: TestLakesync;
  let s3: S3Client;
  const bucket = unique('s3mp');

  beforeAll(async () => {
    ls = await startTestLakesync({ lake });
    expect((await call(ls.url, 'POST', '/admin/buckets', { name: bucket })).status).toBe(201);
    s3 = lakesyncS3(ls, await createKey(ls, { scopes: ['read', 'write'] }));
  });
  afterAll(async () => {
    s3?.destroy();
    await ls?.stop();
  });

  const create = async (key: string, extra: { ContentType?: string; Metadata?: Record<string, string> } = {}) =>
    (await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key, ...extra }))).UploadId!;
  const part = async (key: string, uploadId: string, n: number, body: Buffer) =>
    (await s3.send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId: uploadId, PartNumber: n, Body: body }))).ETag!;
  const complete = (key: string, uploadId: string, parts: CompletedPart[]) =>
    s3.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId, MultipartUpload: { Parts: parts } }));
  const read = async (key: string) => Buffer.from(await (await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }))).Body!.transformToByteArray());

  it('joins parts uploaded out of order (one uploaded twice) byte for byte, with the md5-of-md5s ETag, and ingests the object', async () => {
    const key = 'big/joined.bin';
    const [p1, p2, p3] = [randomBytes(5 * MiB), randomBytes(5 * MiB), randomBytes(1234)];
    const id = await create(key, { ContentType: 'application/x-joined', Metadata: { origin: 'multipart' } });
    // Parts of different numbers at once both land.
    const [e3] = await Promise.all([part(key, id, 3, p3), part(key, id, 2, randomBytes(5 * MiB))]);
    const e1 = await part(key, id, 1, p1);
    const e2 = await part(key, id, 2, p2);
    expect(e2).toBe(`"${md5(p2).toString('hex')}"`);

    const first = await s3.send(new ListPartsCommand({ Bucket: bucket, Key: key, UploadId: id, MaxParts: 2 }));
    expect(first.Parts?.map((p) => [p.PartNumber, p.ETag, p.Size])).toEqual([
      [1, e1, p1.length],
      [2, e2, p2.length],
    ]);
    expect(first).toMatchObject({ IsTruncated: true, NextPartNumberMarker: '2' });
    const rest = await s3.send(new ListPartsCommand({ Bucket: bucket, Key: key, UploadId: id, PartNumberMarker: first.NextPartNumberMarker }));
    expect(rest.IsTruncated).toBe(false);
    expect(rest.Parts?.map((p) => [p.PartNumber, p.ETag, p.Size])).toEqual([[3, e3, p3.length]]);

    const done = await complete(key, id, [
      { PartNumber: 1, ETag: e1 },
      { PartNumber: 2, ETag: e2 },
      { PartNumber: 3, ETag: e3 },
    ]);
    const etag = md5OfMd5s([p1, p2, p3]);
    expect(done).toMatchObject({ Bucket: bucket, Key: key, ETag: etag });
    expect((await read(key)).equals(Buffer.concat([p1, p2, p3]))).toBe(true);
    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    expect(head).toMatchObject({
      ETag: etag,
      ContentLength: p1.length + p2.length + p3.length,
      ContentType: 'application/x-joined',
      Metadata: { origin: 'multipart' },
    });

    // Retried after a lost answer, Complete answers the same.
    expect((await complete(key, id, [{ PartNumber: 1, ETag: e1 }])).ETag).toBe(etag);
    // A completed upload takes no more parts and cannot be aborted.
    expect(await s3Error(part(key, id, 4, Buffer.from('late')))).toMatchObject({ name: 'NoSuchUpload', status: 404 });
    expect(await s3Error(s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: id })))).toMatchObject({ name: 'NoSuchUpload' });

    const info = await waitFor('the completed upload ingested', async () => {
      const res = await call(ls.url, 'GET', `/${bucket}/objects/${encodeURIComponent(key)}/info`);
      return res.status === 200 && res.body.ingestionStatus === 'INGESTED' && res.body;
    });
    expect(info).toMatchObject({
      key,
      size: String(p1.length + p2.length + p3.length),
      contentType: 'application/x-joined',
      userMetadata: { origin: 'multipart' },
    });
  });

  it('refuses a wrong ETag, a missing part, parts out of order, a small part before the last, and bad part numbers; the upload goes on', async () => {
    const key = 'refused/obj.bin';
    const [p1, p2] = [randomBytes(5 * MiB), Buffer.from('tail')];
    const id = await create(key);
    const e1 = await part(key, id, 1, p1);
    const e2 = await part(key, id, 2, p2);
    const wrong = `"${'0'.repeat(32)}"`;
    expect(
      await s3Error(
        complete(key, id, [
          { PartNumber: 1, ETag: wrong },
          { PartNumber: 2, ETag: e2 },
        ]),
      ),
    ).toMatchObject({ name: 'InvalidPart', status: 400 });
    expect(
      await s3Error(
        complete(key, id, [
          { PartNumber: 1, ETag: e1 },
          { PartNumber: 3, ETag: e2 },
        ]),
      ),
    ).toMatchObject({ name: 'InvalidPart' });
    expect(
      await s3Error(
        complete(key, id, [
          { PartNumber: 2, ETag: e2 },
          { PartNumber: 1, ETag: e1 },
        ]),
      ),
    ).toMatchObject({ name: 'InvalidPartOrder', status: 400 });
    expect(await s3Error(complete(key, id, []))).toMatchObject({ name: 'MalformedXML', status: 400 });
    expect(await s3Error(part(key, id, 10_001, Buffer.from('x')))).toMatchObject({ name: 'InvalidArgument', status: 400 });
    expect(await s3Error(part(key, id, 0, Buffer.from('x')))).toMatchObject({ name: 'InvalidArgument', status: 400 });
    expect(await s3Error(s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key })))).toMatchObject({ status: 404 });

    const small = 'refused/small.bin';
    const sid = await create(small);
    const s1 = await part(small, sid, 1, Buffer.from('small'));
    const s2 = await part(small, sid, 2, Buffer.from('last'));
    expect(
      await s3Error(
        complete(small, sid, [
          { PartNumber: 1, ETag: s1 },
          { PartNumber: 2, ETag: s2 },
        ]),
      ),
    ).toMatchObject({ name: 'EntityTooSmall', status: 400 });

    // A conditional Complete holds like a conditional PutObject: the key exists by now.
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: small, Body: 'already here' }));
    expect(
      await s3Error(
        s3.send(
          new CompleteMultipartUploadCommand({
            Bucket: bucket,
            Key: small,
            UploadId: sid,
            IfNoneMatch: '*',
            MultipartUpload: { Parts: [{ PartNumber: 2, ETag: s2 }] },
          }),
        ),
      ),
    ).toMatchObject({ name: 'PreconditionFailed', status: 412 });
    // A single small part is a whole object.
    expect((await complete(small, sid, [{ PartNumber: 2, ETag: s2 }])).ETag).toBe(md5OfMd5s([Buffer.from('last')]));
    expect((await read(small)).toString()).toBe('last');
    expect(
      (
        await complete(key, id, [
          { PartNumber: 1, ETag: e1 },
          { PartNumber: 2, ETag: e2 },
        ])
      ).ETag,
    ).toBe(md5OfMd5s([p1, p2]));
    expect((await read(key)).equals(Buffer.concat([p1, p2]))).toBe(true);
  });

  it('aborts: the upload is gone for every operation, and nothing is stored', async () => {
    const key = 'aborted/obj.bin';
    const id = await create(key);
    const e1 = await part(key, id, 1, Buffer.from('doomed'));
    await s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: id }));
    expect(await s3Error(s3.send(new ListPartsCommand({ Bucket: bucket, Key: key, UploadId: id })))).toMatchObject({ name: 'NoSuchUpload', status: 404 });
    expect(await s3Error(part(key, id, 2, Buffer.from('late')))).toMatchObject({ name: 'NoSuchUpload' });
    expect(await s3Error(complete(key, id, [{ PartNumber: 1, ETag: e1 }]))).toMatchObject({ name: 'NoSuchUpload' });
    expect(await s3Error(s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: id })))).toMatchObject({ name: 'NoSuchUpload' });
    // An upload id is good only with its own key.
    const other = await create('aborted/other.bin');
    expect(await s3Error(s3.send(new ListPartsCommand({ Bucket: bucket, Key: key, UploadId: other })))).toMatchObject({ name: 'NoSuchUpload' });
    await s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: 'aborted/other.bin', UploadId: other }));
    expect(await s3Error(s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key })))).toMatchObject({ status: 404 });
    const listed = await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: 'aborted/' }));
    expect(listed.Uploads ?? []).toEqual([]);
  });

  it('lists uploads in progress by key, then oldest first, in pages, with common prefixes for a delimiter', async () => {
    const a1 = await create('pending/a');
    const a2 = await create('pending/a');
    const b = await create('pending/b');
    const first = await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: 'pending/', MaxUploads: 2 }));
    expect(first.Uploads?.map((u) => [u.Key, u.UploadId])).toEqual([
      ['pending/a', a1],
      ['pending/a', a2],
    ]);
    expect(first).toMatchObject({ IsTruncated: true, NextKeyMarker: 'pending/a', NextUploadIdMarker: a2 });
    const rest = await s3.send(
      new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: 'pending/', KeyMarker: first.NextKeyMarker, UploadIdMarker: first.NextUploadIdMarker }),
    );
    expect(rest.IsTruncated).toBe(false);
    expect(rest.Uploads?.map((u) => [u.Key, u.UploadId])).toEqual([['pending/b', b]]);

    // With a delimiter, keys below it roll into common prefixes, which count toward the page like uploads.
    const x = await create('pending/sub/x');
    const y = await create('pending/sub/y');
    const z = await create('pending/z');
    const rolled = await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: 'pending/', Delimiter: '/', MaxUploads: 4 }));
    expect(rolled.Uploads?.map((u) => u.UploadId)).toEqual([a1, a2, b]);
    expect(rolled.CommonPrefixes?.map((p) => p.Prefix)).toEqual(['pending/sub/']);
    expect(rolled).toMatchObject({ IsTruncated: true, NextKeyMarker: 'pending/sub/' });
    const after = await s3.send(
      new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: 'pending/', Delimiter: '/', MaxUploads: 4, KeyMarker: rolled.NextKeyMarker }),
    );
    expect(after.Uploads?.map((u) => u.UploadId)).toEqual([z]);
    expect(after.CommonPrefixes ?? []).toEqual([]);
    expect(after.IsTruncated).toBe(false);

    for (const [key, id] of [
      ['pending/a', a1],
      ['pending/a', a2],
      ['pending/b', b],
      ['pending/sub/x', x],
      ['pending/sub/y', y],
      ['pending/z', z],
    ] as const)
      await s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: id }));
  });

  it('copies byte ranges of an existing object as parts', async () => {
    const source = randomBytes(5 * MiB + 100);
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'copy/source.bin', Body: source }));
    const key = 'copy/target.bin';
    const id = await create(key);
    const copy = (n: number, range: string) =>
      s3.send(
        new UploadPartCopyCommand({ Bucket: bucket, Key: key, UploadId: id, PartNumber: n, CopySource: `${bucket}/copy/source.bin`, CopySourceRange: range }),
      );
    const c1 = await copy(1, `bytes=100-${5 * MiB + 99}`);
    const c2 = await copy(2, 'bytes=0-99');
    const [r1, r2] = [source.subarray(100), source.subarray(0, 100)];
    expect(c1.CopyPartResult?.ETag).toBe(`"${md5(r1).toString('hex')}"`);
    expect(await s3Error(copy(3, `bytes=0-${source.length}`))).toMatchObject({ name: 'InvalidArgument', status: 400 });
    expect(
      await s3Error(s3.send(new UploadPartCopyCommand({ Bucket: bucket, Key: key, UploadId: id, PartNumber: 3, CopySource: `${bucket}/copy/missing.bin` }))),
    ).toMatchObject({ name: 'NoSuchKey', status: 404 });
    // Copy-source conditions hold as for CopyObject.
    expect(
      await s3Error(
        s3.send(
          new UploadPartCopyCommand({
            Bucket: bucket,
            Key: key,
            UploadId: id,
            PartNumber: 3,
            CopySource: `${bucket}/copy/source.bin`,
            CopySourceIfMatch: '"0000"',
          }),
        ),
      ),
    ).toMatchObject({ name: 'PreconditionFailed', status: 412 });
    const done = await complete(key, id, [
      { PartNumber: 1, ETag: c1.CopyPartResult!.ETag },
      { PartNumber: 2, ETag: c2.CopyPartResult!.ETag },
    ]);
    expect(done.ETag).toBe(md5OfMd5s([r1, r2]));
    expect((await read(key)).equals(Buffer.concat([r1, r2]))).toBe(true);
  });

  it('stores no part whose body breaks its digest, and the upload goes on', async () => {
    const key = 'digest/obj.bin';
    const id = await create(key);
    const body = Buffer.from('the real part');
    const badMd5 = createHash('md5').update('another body').digest('base64');
    expect(
      await s3Error(s3.send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId: id, PartNumber: 1, Body: body, ContentMD5: badMd5 }))),
    ).toMatchObject({ name: 'BadDigest', status: 400 });
    expect((await s3.send(new ListPartsCommand({ Bucket: bucket, Key: key, UploadId: id }))).Parts ?? []).toEqual([]);
    const e1 = await part(key, id, 1, body);
    expect((await complete(key, id, [{ PartNumber: 1, ETag: e1 }])).ETag).toBe(md5OfMd5s([body]));
    expect((await read(key)).equals(body)).toBe(true);
  });

  it("takes a Complete carrying the object's composite x-amz-checksum-crc32 (the whole object's, not the XML body's)", async () => {
    const key = 'checksum/composite.bin';
    const [p1, p2] = [randomBytes(5 * MiB), randomBytes(321)];
    const id = await create(key);
    const e1 = await part(key, id, 1, p1);
    const e2 = await part(key, id, 2, p2);
    // S3's composite CRC32: the CRC32 of the parts' big-endian CRC32s, then "-" and the number of parts.
    const crc = (b: Buffer) => {
      const out = Buffer.alloc(4);
      out.writeUInt32BE(crc32(b));
      return out;
    };
    const composite = `${crc(Buffer.concat([crc(p1), crc(p2)])).toString('base64')}-2`;
    const done = await s3.send(
      new CompleteMultipartUploadCommand({
        Bucket: bucket,
        Key: key,
        UploadId: id,
        ChecksumCRC32: composite,
        MultipartUpload: {
          Parts: [
            { PartNumber: 1, ETag: e1 },
            { PartNumber: 2, ETag: e2 },
          ],
        },
      }),
    );
    expect(done.ETag).toBe(md5OfMd5s([p1, p2]));
    expect((await read(key)).equals(Buffer.concat([p1, p2]))).toBe(true);
  });

  it('keeps a stored part when the same part number is uploaded again with a body that breaks its digest', async () => {
    const key = 'digest/again.bin';
    const id = await create(key);
    const good = randomBytes(2 * MiB);
    const e1 = await part(key, id, 1, good);
    const bad = randomBytes(2 * MiB);
    const badMd5 = md5(randomBytes(16)).toString('base64');
    expect(
      await s3Error(s3.send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId: id, PartNumber: 1, Body: bad, ContentMD5: badMd5 }))),
    ).toMatchObject({ name: 'BadDigest', status: 400 });
    // Signed with another payload SHA-256 than its bytes have (the lake's store checks it on the S3 lake).
    const lying = new UploadPartCommand({ Bucket: bucket, Key: key, UploadId: id, PartNumber: 1, Body: bad });
    lying.middlewareStack.add(
      (next) => async (args) => {
        (args.request as { headers: Record<string, string> }).headers['x-amz-content-sha256'] = sha256Hex(randomBytes(8));
        return next(args);
      },
      { step: 'build' },
    );
    expect(await s3Error(s3.send(lying))).toMatchObject({ name: 'XAmzContentSHA256Mismatch', status: 400 });
    // The good part is still the one that counts, in the state and in the lake: Complete joins its bytes.
    expect((await complete(key, id, [{ PartNumber: 1, ETag: e1 }])).ETag).toBe(md5OfMd5s([good]));
    expect((await read(key)).equals(good)).toBe(true);
  });

  it('answers InvalidPart, not a server error, when the lake does not hold a part the upload recorded', async () => {
    const key = 'invalid/lake-part.bin';
    const id = await create(key);
    const body = Buffer.from('a part the lake lost');
    const e1 = await part(key, id, 1, body);
    // The recorded part names a lake part that is not there (state out of step with the lake).
    const db = createDb(ls.databaseUrl, 1);
    try {
      const missing = ls.lake.kind === 'filesystem' ? '1-0123456789abcdef' : md5(Buffer.from('no such part')).toString('hex');
      await db.$client`update multipart_parts set lake_part = ${missing} where upload_id = ${id}`;
    } finally {
      await closeDb(db);
    }
    expect(await s3Error(complete(key, id, [{ PartNumber: 1, ETag: e1 }]))).toMatchObject({ name: 'InvalidPart', status: 400 });
    // The upload is still open: a part stored again completes it.
    const again = await part(key, id, 1, body);
    expect((await complete(key, id, [{ PartNumber: 1, ETag: again }])).ETag).toBe(md5OfMd5s([body]));
  });

  it('when the catalog write fails after the lake joined the object, answers InternalError and a retried Complete answers the result', async () => {
    const key = `catalog/fails-${lake}.bin`;
    const id = await create(key);
    const body = Buffer.from('joined, then the catalog refused it');
    const e1 = await part(key, id, 1, body);
    // The catalog write really fails: Postgres refuses this key's catalog row while the trigger is there.
    const db = createDb(ls.databaseUrl, 1);
    const trigger = `refuse_${lake}`;
    try {
      await db.$client.unsafe(`create or replace function ${trigger}() returns trigger language plpgsql as $$
        begin raise exception 'catalog refused'; end $$`);
      await db.$client.unsafe(
        `create trigger ${trigger} before insert or update on source_objects for each row when (new.key = '${key}') execute function ${trigger}()`,
      );
      expect(await s3Error(complete(key, id, [{ PartNumber: 1, ETag: e1 }]))).toMatchObject({ name: 'InternalError', status: 500 });
    } finally {
      await db.$client.unsafe(`drop trigger if exists ${trigger} on source_objects`);
      await closeDb(db);
    }
    // The lake's upload is gone (joined): a retried Complete answers the completed result, never NoSuchUpload.
    expect((await complete(key, id, [{ PartNumber: 1, ETag: e1 }])).ETag).toBe(md5OfMd5s([body]));
    expect((await read(key)).equals(body)).toBe(true);
    expect(await s3Error(part(key, id, 2, Buffer.from('late')))).toMatchObject({ name: 'NoSuchUpload' });
  });

  it('removes the lake parts of uploads in progress when their bucket is deleted', async () => {
    const doomed = unique('s3mpdel');
    expect((await call(ls.url, 'POST', '/admin/buckets', { name: doomed })).status).toBe(201);
    const inLake = async (): Promise<number> => {
      if (ls.lake.kind === 'filesystem') return (await readdir(join(ls.lake.dir, '.multipart')).catch(() => [])).length;
      // MinIO lists the uploads of one object key, not of a prefix.
      const open = await minioClient().send(new ListMultipartUploadsCommand({ Bucket: ls.lake.bucket, Prefix: `${doomed}/left/behind.bin` }));
      return (open.Uploads ?? []).length;
    };
    const before = await inLake();
    const id = (await s3.send(new CreateMultipartUploadCommand({ Bucket: doomed, Key: 'left/behind.bin' }))).UploadId!;
    await s3.send(new UploadPartCommand({ Bucket: doomed, Key: 'left/behind.bin', UploadId: id, PartNumber: 1, Body: Buffer.from('part') }));
    expect(await inLake()).toBe(before + 1);
    expect((await call(ls.url, 'DELETE', `/admin/buckets/${doomed}`)).status).toBeLessThan(300);
    expect(await inLake()).toBe(before);
  });
});

describe('abandoned multipart uploads', () => {
  let ls: TestLakesync;
  let s3: S3Client;
  const bucket = unique('s3mpold');

  beforeAll(async () => {
    ls = await startTestLakesync({ lake: 'filesystem', env: { LAKESYNC_S3_MULTIPART_MAX_AGE_HOURS: '24', LAKESYNC_S3_MULTIPART_SWEEP_SECONDS: '1' } });
    expect((await call(ls.url, 'POST', '/admin/buckets', { name: bucket })).status).toBe(201);
    s3 = lakesyncS3(ls, await createKey(ls, { scopes: ['read', 'write'] }));
  });
  afterAll(async () => {
    s3?.destroy();
    await ls?.stop();
  });

  it('are aborted by the workers once older than LAKESYNC_S3_MULTIPART_MAX_AGE_HOURS; recent ones stay', async () => {
    const start = async (key: string) => {
      const id = (await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }))).UploadId!;
      await s3.send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId: id, PartNumber: 1, Body: Buffer.from('part') }));
      return id;
    };
    const old = await start('old.bin');
    const recent = await start('recent.bin');
    const lakeDir = ls.lake.kind === 'filesystem' ? ls.lake.dir : '';
    // The directory lake stages each upload's parts in a folder of its own.
    const staged = async () => (await readdir(join(lakeDir, '.multipart'))).length;
    expect(await staged()).toBe(2);
    // The upload was started 25 hours ago, as far as its row says.
    const db = createDb(ls.databaseUrl, 1);
    try {
      await db.$client`update multipart_uploads set created_at = now() - interval '25 hours' where id = ${old}`;
    } finally {
      await closeDb(db);
    }
    await waitFor('the abandoned upload aborted', async () => (await staged()) === 1);
    expect(await s3Error(s3.send(new ListPartsCommand({ Bucket: bucket, Key: 'old.bin', UploadId: old })))).toMatchObject({ name: 'NoSuchUpload' });
    expect((await s3.send(new ListPartsCommand({ Bucket: bucket, Key: 'recent.bin', UploadId: recent }))).Parts?.map((p) => p.PartNumber)).toEqual([1]);
  });
});
