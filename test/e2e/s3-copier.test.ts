/** The lean CopyObject path, against real MinIO: odd keys, ETags, and S3's error names. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CreateBucketCommand, GetObjectCommand, HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { inject } from 'vitest';
import { S3Copier, S3CopyError } from '../../lake/s3-copier.js';
import { minioClient, unique } from '../support/lakesync.js';

describe('S3Copier', () => {
  const s3 = minioClient();
  const src = unique('copier-src');
  const dst = unique('copier-dst');
  let copier: S3Copier;
  beforeAll(async () => {
    const { minio } = inject('infra');
    await s3.send(new CreateBucketCommand({ Bucket: src }));
    await s3.send(new CreateBucketCommand({ Bucket: dst }));
    copier = new S3Copier({
      endpoint: minio.endpoint,
      region: 'us-east-1',
      accessKeyId: minio.accessKeyId,
      secretAccessKey: minio.secretAccessKey,
      connections: 8,
    });
  });
  afterAll(async () => {
    await copier?.close();
  });

  it('copies keys with spaces, unicode and reserved characters, returning the new ETag', async () => {
    const keys = ['plain.txt', 'with space/ünïcødé 名前.txt', "odd/!'()*+,;=&$@:~.bin", 'pct/100%.txt', 'deep/a/b/c/d.txt'];
    for (const [i, key] of keys.entries()) {
      await s3.send(new PutObjectCommand({ Bucket: src, Key: key, Body: `body ${i} of ${key}` }));
      const etag = await copier.copy(dst, `copied/${key}`, src, key);
      const head = await s3.send(new HeadObjectCommand({ Bucket: dst, Key: `copied/${key}` }));
      expect(etag).toBe(head.ETag!.replace(/"/g, ''));
      const got = await s3.send(new GetObjectCommand({ Bucket: dst, Key: `copied/${key}` }));
      expect(await got.Body!.transformToString()).toBe(`body ${i} of ${key}`);
    }
  });

  it("names S3's errors as the SDK does", async () => {
    const missing = await copier.copy(dst, 'x', src, 'no/such/key').catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(S3CopyError);
    expect((missing as S3CopyError).name).toBe('NoSuchKey');
    const noBucket = await copier.copy(unique('absent'), 'x', src, 'plain.txt').catch((e: unknown) => e);
    expect((noBucket as S3CopyError).name).toBe('NoSuchBucket');
    const { minio } = inject('infra');
    const wrong = new S3Copier({
      endpoint: minio.endpoint,
      region: 'us-east-1',
      accessKeyId: minio.accessKeyId,
      secretAccessKey: 'not-the-secret',
      connections: 1,
    });
    const denied = await wrong.copy(dst, 'x', src, 'plain.txt').catch((e: unknown) => e);
    expect((denied as S3CopyError).name).toBe('SignatureDoesNotMatch');
    await wrong.close();
  });
});
