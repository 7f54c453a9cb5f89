/**
 * Multipart uploads in both lakes: the real MinIO the suite starts (the S3
 * lake maps onto its own multipart uploads) and a directory lake in a temp
 * folder (parts staged beside the buckets).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { text } from 'node:stream/consumers';
import { CreateBucketCommand, ListMultipartUploadsCommand, S3Client } from '@aws-sdk/client-s3';
import { S3Lake } from '../../lake/s3-lake.js';
import { FilesystemLake } from '../../lake/fs-lake.js';
import { MIN_PART_SIZE, MultipartPartInvalid, MultipartUploadGone, multipartEtag } from '../../lake/multipart.js';
import type { LakeStore, StoredPart } from '../../lake/types.js';
import { credentialIdentity } from '../../activities/storage/credential-identity.js';
import { minioClient, unique } from '../support/lakesync.js';
import { inject } from 'vitest';

const md5 = (b: Buffer): string => createHash('md5').update(b).digest('hex');

async function readAll(lake: LakeStore, bucket: string, key: string): Promise<Buffer> {
  const got = await lake.get(bucket, key);
  expect(got).not.toBeNull();
  const chunks: Buffer[] = [];
  for await (const c of got!.body as AsyncIterable<Buffer>) chunks.push(c);
  return Buffer.concat(chunks);
}

/** A body that sends `bytes` then fails, as an aborted request does. */
function failingBody(bytes: Buffer): Readable {
  return new Readable({
    read() {
      this.push(bytes);
      this.destroy(new Error('client went away'));
    },
  });
}

/**
 * A body that brings every byte and fails only afterwards, as one whose digest or trailing signature check
 * fails on a later packet than its last data does (api/s3/body.ts): the failure comes once the reader has
 * taken every byte and asked for more.
 */
function failingAtEnd(bytes: Buffer): Readable {
  let sent = false;
  return new Readable({
    read() {
      if (!sent) {
        sent = true;
        this.push(bytes.subarray(0, 1000));
        this.push(bytes.subarray(1000));
        return;
      }
      setImmediate(() => this.destroy(new Error('BadDigest: the body is not the one its digest names')));
    },
  });
}

const MiB = 1024 ** 2;

let dir: string;
let physicalBucket: string;
const lakes: Record<'s3' | 'filesystem', () => LakeStore> = {
  s3: () => {
    const { minio } = inject('infra');
    return new S3Lake(minioClient(), physicalBucket, minio.endpoint, credentialIdentity(minio));
  },
  filesystem: () => new FilesystemLake(dir),
};

/**
 * The S3 lake through a client that sends no trailing checksum (`WHEN_REQUIRED`, as S3-compatible stores
 * without trailer support are configured): the store takes a part once it has its declared bytes.
 */
function s3LakeWithoutTrailers(): LakeStore {
  const { minio } = inject('infra');
  const client = new S3Client({
    endpoint: minio.endpoint,
    region: minio.region,
    forcePathStyle: true,
    credentials: { accessKeyId: minio.accessKeyId, secretAccessKey: minio.secretAccessKey },
    requestChecksumCalculation: 'WHEN_REQUIRED',
  });
  return new S3Lake(client, physicalBucket, minio.endpoint, credentialIdentity(minio));
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'lakesync-multipart-'));
  physicalBucket = unique('mp-lake');
  await minioClient().send(new CreateBucketCommand({ Bucket: physicalBucket }));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe.each(['s3', 'filesystem'] as const)('multipart uploads in the %s lake', (kind) => {
  let lake: LakeStore;
  const bucket = 'mp';
  beforeAll(() => {
    lake = lakes[kind]();
  });

  it('joins parts uploaded out of order, with a part stored again, byte for byte, with the md5-of-md5s ETag', async () => {
    const key = `ordered/${unique('obj')}.bin`;
    const [p1, p2, p3] = [randomBytes(MIN_PART_SIZE), randomBytes(MIN_PART_SIZE), Buffer.from('the last part may be small')];
    const handle = await lake.createMultipart(bucket, key, { contentType: 'application/x-test', user: { origin: 'multipart' } });
    const stored3 = await lake.uploadPart(bucket, key, handle, 3, Readable.from([p3]), p3.length);
    const first2 = await lake.uploadPart(bucket, key, handle, 2, Readable.from([randomBytes(MIN_PART_SIZE)]), MIN_PART_SIZE);
    const stored1 = await lake.uploadPart(bucket, key, handle, 1, Readable.from([p1.subarray(0, 1000), p1.subarray(1000)]), p1.length);
    const stored2 = await lake.uploadPart(bucket, key, handle, 2, Readable.from([p2]), p2.length);
    expect(stored2.etag).not.toBe(first2.etag);
    expect([stored1, stored2, stored3].map((p) => [p.partNumber, p.etag, p.size])).toEqual([
      [1, md5(p1), p1.length],
      [2, md5(p2), p2.length],
      [3, md5(p3), p3.length],
    ]);
    // Nothing of an upload in progress shows in the bucket.
    expect((await lake.list(bucket, 'ordered/', null, 100)).objects.map((o) => o.key)).not.toContain(key);

    const done = await lake.completeMultipart(bucket, key, handle, [stored1, stored2, stored3]);
    const whole = Buffer.concat([p1, p2, p3]);
    const expectedEtag = `${createHash('md5')
      .update(Buffer.concat([p1, p2, p3].map((p) => createHash('md5').update(p).digest())))
      .digest('hex')}-3`;
    expect(done.s3Etag).toBe(expectedEtag);
    expect(multipartEtag([md5(p1), md5(p2), md5(p3)])).toBe(expectedEtag);
    expect(done.size).toBe(whole.length);
    expect((await readAll(lake, bucket, key)).equals(whole)).toBe(true);
    const head = await lake.head(bucket, key);
    expect(head?.size).toBe(whole.length);
    expect(head?.writeId).toBe(done.writeId);
    if (kind === 'filesystem') {
      expect(done.contentHash).toBe(`md5:${md5(whole)}`);
      // The staging folder went with the complete.
      expect(await readdir(join(dir, '.multipart'))).toEqual([]);
    } else {
      // The whole content's MD5 would need a re-read: not computed.
      expect(done.contentHash).toBeNull();
      expect(head?.etag).toBe(expectedEtag);
      expect(head?.contentType).toBe('application/x-test');
      expect(head?.user).toEqual({ origin: 'multipart' });
    }
  });

  it('copies a byte range of an existing object as a part', async () => {
    const source = `copy/${unique('src')}.bin`;
    const content = randomBytes(MIN_PART_SIZE + 4096);
    await lake.put(bucket, source, Readable.from([content]), { size: content.length });
    const key = `copy/${unique('dst')}.bin`;
    const handle = await lake.createMultipart(bucket, key, {});
    const copied = await lake.uploadPartCopy(bucket, key, handle, 1, { bucket, key: source, range: { start: 100, end: 100 + MIN_PART_SIZE - 1 } });
    expect(copied).toMatchObject({ partNumber: 1, etag: md5(content.subarray(100, 100 + MIN_PART_SIZE)), size: MIN_PART_SIZE });
    const tail = await lake.uploadPartCopy(bucket, key, handle, 2, { bucket, key: source, range: { start: 0, end: 9 } });
    expect(tail).toMatchObject({ etag: md5(content.subarray(0, 10)), size: 10 });
    const missing = await lake.uploadPartCopy(bucket, key, handle, 3, { bucket, key: `copy/${unique('none')}`, range: { start: 0, end: 9 } });
    expect(missing).toBeNull();
    const done = await lake.completeMultipart(bucket, key, handle, [copied!, tail!]);
    expect((await readAll(lake, bucket, key)).equals(Buffer.concat([content.subarray(100, 100 + MIN_PART_SIZE), content.subarray(0, 10)]))).toBe(true);
    expect(done.s3Etag).toBe(multipartEtag([copied!.etag, tail!.etag]));
  });

  it('refuses a part body of another length than declared, or one that fails, and the upload goes on', async () => {
    const key = `length/${unique('obj')}.txt`;
    const handle = await lake.createMultipart(bucket, key, {});
    await expect(lake.uploadPart(bucket, key, handle, 1, Readable.from([Buffer.from('short')]), 10)).rejects.toThrow(/ended after 5 of its declared 10/);
    await expect(lake.uploadPart(bucket, key, handle, 1, Readable.from([Buffer.from('far too long')]), 3)).rejects.toThrow(/longer than/);
    await expect(lake.uploadPart(bucket, key, handle, 1, failingBody(Buffer.from('abc')), 10)).rejects.toThrow();
    const ok = await lake.uploadPart(bucket, key, handle, 1, Readable.from([Buffer.from('just right')]), 10);
    await lake.completeMultipart(bucket, key, handle, [ok]);
    expect(await text((await lake.get(bucket, key))!.body)).toBe('just right');
    if (kind === 'filesystem') expect(await readdir(join(dir, '.tmp'))).toEqual([]);
  });

  it.each(kind === 's3' ? (['default', 'no trailing checksum'] as const) : (['default'] as const))(
    'keeps the stored part when the same number comes again with a body that fails its check only at its end (%s client)',
    async (client) => {
      const lake = client === 'default' ? lakes[kind]() : s3LakeWithoutTrailers();
      const key = `recheck/${unique('obj')}.bin`;
      const handle = await lake.createMultipart(bucket, key, {});
      const good = randomBytes(MiB);
      const stored = await lake.uploadPart(bucket, key, handle, 1, Readable.from([good]), good.length);
      const bad = randomBytes(MiB);
      await expect(lake.uploadPart(bucket, key, handle, 1, failingAtEnd(bad), bad.length)).rejects.toThrow(/BadDigest/);
      await lake.completeMultipart(bucket, key, handle, [stored]);
      expect((await readAll(lake, bucket, key)).equals(good)).toBe(true);
    },
  );

  it('refuses a complete naming a part the lake does not hold as an invalid part, and the upload goes on', async () => {
    const key = `invalid/${unique('obj')}.bin`;
    const handle = await lake.createMultipart(bucket, key, {});
    const stored = await lake.uploadPart(bucket, key, handle, 1, Readable.from([Buffer.from('part one')]), 8);
    const elsewhere = { ...stored, lakePart: kind === 's3' ? md5(Buffer.from('no such part')) : '1-0123456789abcdef' };
    await expect(lake.completeMultipart(bucket, key, handle, [elsewhere])).rejects.toBeInstanceOf(MultipartPartInvalid);
    await lake.completeMultipart(bucket, key, handle, [stored]);
    expect(await text((await lake.get(bucket, key))!.body)).toBe('part one');
  });

  it('aborts: the parts are gone, later parts and completes fail as gone, and nothing is stored', async () => {
    const key = `abort/${unique('obj')}.txt`;
    const handle = await lake.createMultipart(bucket, key, {});
    const part: StoredPart = await lake.uploadPart(bucket, key, handle, 1, Readable.from([Buffer.from('doomed')]), 6);
    await lake.abortMultipart(bucket, key, handle);
    // Aborting again is no error (cleanup may race a client's abort).
    await lake.abortMultipart(bucket, key, handle);
    await expect(lake.uploadPart(bucket, key, handle, 2, Readable.from([Buffer.from('late')]), 4)).rejects.toBeInstanceOf(MultipartUploadGone);
    await expect(lake.completeMultipart(bucket, key, handle, [part])).rejects.toBeInstanceOf(MultipartUploadGone);
    expect(await lake.head(bucket, key)).toBeNull();
    if (kind === 'filesystem') {
      expect(await readdir(join(dir, '.multipart'))).not.toContain(handle);
    } else {
      const open = await minioClient().send(new ListMultipartUploadsCommand({ Bucket: physicalBucket, Prefix: `${bucket}/${key}` }));
      expect(open.Uploads ?? []).toEqual([]);
    }
  });

  it('refuses keys the lake cannot store before anything is staged', async () => {
    await expect(lake.createMultipart(bucket, '../escape', {})).rejects.toThrow(/must not contain \. or \.\. segments/);
  });
});

describe('the directory lake’s single put', () => {
  it('gives the content MD5 as the S3 ETag (its own etag is stat-derived)', async () => {
    const lake = new FilesystemLake(dir);
    const body = Buffer.from('single put');
    const done = await lake.put('mp', `single/${unique('obj')}`, Readable.from([body]), {});
    expect(done.s3Etag).toBe(md5(body));
    expect(done.etag).not.toBe(done.s3Etag);
  });

  it('never takes a staging path from a forged handle or part name', async () => {
    const lake = new FilesystemLake(dir);
    await expect(lake.abortMultipart('mp', 'k', '../../etc')).rejects.toThrow(/not a multipart handle/);
    const handle = await lake.createMultipart('mp', 'k', {});
    await expect(lake.completeMultipart('mp', 'k', handle, [{ partNumber: 1, etag: md5(Buffer.from('')), size: 0, lakePart: '../../x' }])).rejects.toThrow(
      /not a multipart handle/,
    );
    await lake.abortMultipart('mp', 'k', handle);
  });
});
