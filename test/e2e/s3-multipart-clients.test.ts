/**
 * Multipart uploads through lakesync's S3 endpoint by real clients as real
 * processes: the aws CLI copying a 64 MiB file (which it sends as eight 8 MiB
 * parts, over HTTPS so each carries its CRC32 as an aws-chunked trailer) up
 * and down, and boto3 uploading parts out of order.
 */
import { createHash, randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { call, waitFor } from '../support/http.js';
import { startTestLakesync, unique, type TestLakesync } from '../support/lakesync.js';
import { sha256 } from '../support/objects.js';
import { s3Clients, type S3Endpoint } from '../support/s3-clients.js';
import { clientTarget, type ClientTarget } from '../support/s3-endpoint.js';

const MiB = 1024 ** 2;
const md5 = (b: Buffer) => createHash('md5').update(b).digest();
/** S3's ETag of a multipart upload: the MD5 of the parts' MD5s, then the part count. */
const multipartEtag = (parts: Buffer[]) => `"${md5(Buffer.concat(parts.map(md5))).toString('hex')}-${parts.length}"`;

describe('real S3 clients uploading multipart to lakesync', () => {
  const clients = s3Clients(inject('infra').s3Clients);
  let ls: TestLakesync;
  let target: ClientTarget;
  let plain: S3Endpoint;
  let tls: S3Endpoint;
  let dir: string;
  const bucket = unique('s3mpc');

  beforeAll(async () => {
    ls = await startTestLakesync({ lake: 'filesystem' });
    expect((await call(ls.url, 'POST', '/admin/buckets', { name: bucket })).status).toBe(201);
    target = await clientTarget(ls, ['read', 'write']);
    ({ plain, tls, dir } = target);
  });
  afterAll(async () => {
    await target?.close();
    await ls?.stop();
  });

  it('aws CLI: cp of a 64 MiB file goes as eight parts, comes back byte for byte with the md5-of-md5s ETag, and is ingested', async () => {
    const big = randomBytes(64 * MiB);
    await writeFile(join(dir, 'big.bin'), big);
    await clients.aws(tls, ['s3', 'cp', join(dir, 'big.bin'), `s3://${bucket}/aws/big.bin`]);
    const head = JSON.parse((await clients.aws(tls, ['s3api', 'head-object', '--bucket', bucket, '--key', 'aws/big.bin'])).stdout) as {
      ETag: string;
      ContentLength: number;
    };
    const parts = Array.from({ length: 8 }, (_, i) => big.subarray(i * 8 * MiB, (i + 1) * 8 * MiB));
    expect(head).toMatchObject({ ETag: multipartEtag(parts), ContentLength: big.length });
    await clients.aws(tls, ['s3', 'cp', `s3://${bucket}/aws/big.bin`, join(dir, 'big.back')]);
    expect(sha256(await readFile(join(dir, 'big.back')))).toBe(sha256(big));
    // Nothing of the upload is left in progress.
    const open = JSON.parse((await clients.aws(tls, ['s3api', 'list-multipart-uploads', '--bucket', bucket, '--output', 'json'])).stdout || '{}') as {
      Uploads?: unknown[];
    };
    expect(open.Uploads ?? []).toEqual([]);
    const info = await waitFor('the CLI upload ingested', async () => {
      const res = await call(ls.url, 'GET', `/${bucket}/objects/${encodeURIComponent('aws/big.bin')}/info`);
      return res.status === 200 && res.body.ingestionStatus === 'INGESTED' && res.body;
    });
    expect(info).toMatchObject({ size: String(big.length) });
  });

  it('boto3: parts sent out of order, listed, completed and read back', async () => {
    const data = randomBytes(11 * MiB + 123);
    const parts = [data.subarray(0, 5 * MiB), data.subarray(5 * MiB, 10 * MiB), data.subarray(10 * MiB)];
    await writeFile(join(dir, 'py.bin'), data);
    const script = `
import hashlib, json, os, boto3
s3 = boto3.client('s3')
bucket, key = os.environ['BUCKET'], 'py/multi.bin'
data = open(os.environ['SRC'], 'rb').read()
bounds = [(1, 0, 5 << 20), (2, 5 << 20, 10 << 20), (3, 10 << 20, len(data))]
upload = s3.create_multipart_upload(Bucket=bucket, Key=key, ContentType='application/x-boto')['UploadId']
etags = {}
for number, start, end in [bounds[2], bounds[0], bounds[1]]:
    etags[number] = s3.upload_part(Bucket=bucket, Key=key, UploadId=upload, PartNumber=number, Body=data[start:end])['ETag']
listed = [p['PartNumber'] for p in s3.list_parts(Bucket=bucket, Key=key, UploadId=upload)['Parts']]
pending = [u['UploadId'] for u in s3.list_multipart_uploads(Bucket=bucket, Prefix='py/').get('Uploads', [])]
done = s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=upload,
    MultipartUpload={'Parts': [{'PartNumber': n, 'ETag': etags[n]} for n in sorted(etags)]})
got = s3.get_object(Bucket=bucket, Key=key)
print(json.dumps({'listed': listed, 'pending': pending == [upload], 'etag': done['ETag'], 'type': got['ContentType'],
    'sha256': hashlib.sha256(got['Body'].read()).hexdigest()}))
`;
    const out = await clients.python(plain, script, { env: { BUCKET: bucket, SRC: join(dir, 'py.bin') } });
    expect(JSON.parse(out.stdout)).toEqual({ listed: [1, 2, 3], pending: true, etag: multipartEtag(parts), type: 'application/x-boto', sha256: sha256(data) });
  });
});
