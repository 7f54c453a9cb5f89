/**
 * The S3 client harness itself, proved against the suite's real MinIO: each
 * client (installed by infra/s3-clients.ts) makes a real round trip, and what
 * it wrote is read back by another client, so a client that silently did
 * nothing cannot pass. The lakesync S3 endpoint's tests drive the same helpers.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { CreateBucketCommand, HeadObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { minioClient, unique } from '../support/lakesync.js';
import { s3Sha, sha256 } from '../support/objects.js';
import { startRecordingProxy } from '../support/recording-proxy.js';
import { RCLONE_REMOTE, s3Clients, type S3Endpoint } from '../support/s3-clients.js';
import { startTlsFront } from '../support/tls-front.js';

const MiB = 1024 * 1024;
const md5 = (b: Buffer) => createHash('md5').update(b).digest();
/** S3's ETag of a multipart upload: the MD5 of the parts' MD5s, then the part count. */
const multipartEtag = (parts: Buffer[]) => `"${md5(Buffer.concat(parts.map(md5))).toString('hex')}-${parts.length}"`;

describe('real S3 clients against MinIO', () => {
  const { minio, s3Clients: tools } = inject('infra');
  const clients = s3Clients(tools);
  const endpoint: S3Endpoint = { url: minio.endpoint, accessKeyId: minio.accessKeyId, secretAccessKey: minio.secretAccessKey, region: minio.region };
  let s3: S3Client;
  let dir: string;
  const bucket = unique('clients');

  beforeAll(async () => {
    s3 = minioClient();
    dir = await mkdtemp(join(tmpdir(), 'lakesync-s3-clients-'));
  });
  afterAll(async () => {
    s3?.destroy();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('aws CLI: mb, cp up (small and multipart), ls, cp down, byte for byte, with its default CRC32 checksum', async () => {
    await clients.aws(endpoint, ['s3', 'mb', `s3://${bucket}`]);
    const small = randomBytes(1000);
    const big = randomBytes(20 * MiB);
    await writeFile(join(dir, 'small.bin'), small);
    await writeFile(join(dir, 'big.bin'), big);
    await clients.aws(endpoint, ['s3', 'cp', join(dir, 'small.bin'), `s3://${bucket}/aws/small.bin`]);
    await clients.aws(endpoint, ['s3', 'cp', join(dir, 'big.bin'), `s3://${bucket}/aws/big.bin`]);

    const listed = await clients.aws(endpoint, ['s3', 'ls', '--recursive', `s3://${bucket}/aws/`]);
    const sizes = Object.fromEntries(
      listed.stdout
        .trim()
        .split('\n')
        .map((l) => [l.split(/\s+/)[3], Number(l.split(/\s+/)[2])]),
    );
    expect(sizes).toEqual({ 'aws/small.bin': 1000, 'aws/big.bin': 20 * MiB });

    // Over the CLI's 8 MiB threshold it went as three 8 MiB-or-less parts, and MinIO agrees on their MD5s.
    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'aws/big.bin' }));
    expect(head.ETag).toBe(multipartEtag([big.subarray(0, 8 * MiB), big.subarray(8 * MiB, 16 * MiB), big.subarray(16 * MiB)]));
    // botocore ≥ 1.36 sends a CRC32 by default (a header over HTTP, a trailer over HTTPS: below); MinIO kept it, so it was sent and verified.
    const checked = JSON.parse(
      (await clients.aws(endpoint, ['s3api', 'head-object', '--bucket', bucket, '--key', 'aws/small.bin', '--checksum-mode', 'ENABLED'])).stdout,
    ) as { ChecksumCRC32?: string };
    expect(checked.ChecksumCRC32).toMatch(/^[A-Za-z0-9+/]{6}==$/);

    await clients.aws(endpoint, ['s3', 'cp', `s3://${bucket}/aws/big.bin`, join(dir, 'big.back')]);
    await clients.aws(endpoint, ['s3', 'cp', `s3://${bucket}/aws/small.bin`, join(dir, 'small.back')]);
    expect(sha256(await readFile(join(dir, 'big.back')))).toBe(sha256(big));
    expect(sha256(await readFile(join(dir, 'small.back')))).toBe(sha256(small));
  });

  it('boto3: a multipart upload with its parts sent out of order, completed and read back', async () => {
    await s3.send(new CreateBucketCommand({ Bucket: `${bucket}-py` }));
    const data = randomBytes(11 * MiB + 123);
    const parts = [data.subarray(0, 5 * MiB), data.subarray(5 * MiB, 10 * MiB), data.subarray(10 * MiB)];
    await writeFile(join(dir, 'py.bin'), data);
    const script = `
import hashlib, json, os, boto3
s3 = boto3.client('s3')
bucket, key = os.environ['BUCKET'], 'py/multi.bin'
data = open(os.environ['SRC'], 'rb').read()
bounds = [(1, 0, 5 << 20), (2, 5 << 20, 10 << 20), (3, 10 << 20, len(data))]
upload = s3.create_multipart_upload(Bucket=bucket, Key=key)['UploadId']
etags = {}
for number, start, end in [bounds[2], bounds[0], bounds[1]]:
    etags[number] = s3.upload_part(Bucket=bucket, Key=key, UploadId=upload, PartNumber=number, Body=data[start:end])['ETag']
listed = [p['PartNumber'] for p in s3.list_parts(Bucket=bucket, Key=key, UploadId=upload)['Parts']]
done = s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=upload,
    MultipartUpload={'Parts': [{'PartNumber': n, 'ETag': etags[n]} for n in sorted(etags)]})
back = s3.get_object(Bucket=bucket, Key=key)['Body'].read()
print(json.dumps({'listed': listed, 'etag': done['ETag'], 'sha256': hashlib.sha256(back).hexdigest()}))
`;
    const out = await clients.python(endpoint, script, { env: { BUCKET: `${bucket}-py`, SRC: join(dir, 'py.bin') } });
    const result = JSON.parse(out.stdout) as { listed: number[]; etag: string; sha256: string };
    expect(result).toEqual({ listed: [1, 2, 3], etag: multipartEtag(parts), sha256: sha256(data) });
    // Read by another client too: the object is really there.
    expect(await s3Sha(s3, `${bucket}-py`, 'py/multi.bin')).toBe(sha256(data));
  });

  it('s5cmd: cp of many small files up and down, and ls', async () => {
    await s3.send(new CreateBucketCommand({ Bucket: `${bucket}-s5` }));
    const up = join(dir, 's5-up');
    const down = join(dir, 's5-down');
    await mkdir(up);
    await mkdir(down);
    const files = new Map(Array.from({ length: 40 }, (_, i) => [`f${String(i).padStart(3, '0')}.bin`, randomBytes(1 + i * 997)]));
    for (const [name, body] of files) await writeFile(join(up, name), body);

    await clients.s5cmd(endpoint, ['cp', `${up}/*`, `s3://${bucket}-s5/many/`]);
    const listed = await clients.s5cmd(endpoint, ['ls', `s3://${bucket}-s5/many/*`]);
    const names = listed.stdout
      .trim()
      .split('\n')
      .map((l) => l.split(/\s+/).at(-1));
    expect(names.sort()).toEqual([...files.keys()].sort());
    for (const [name, body] of [...files].slice(0, 5)) expect(await s3Sha(s3, `${bucket}-s5`, `many/${name}`)).toBe(sha256(body));

    await clients.s5cmd(endpoint, ['cp', `s3://${bucket}-s5/many/*`, `${down}/`]);
    expect((await readdir(down)).sort()).toEqual([...files.keys()].sort());
    for (const [name, body] of files) expect(sha256(await readFile(join(down, name)))).toBe(sha256(body));
  });

  it('rclone: copy a tree, check --checksum agrees, lsjson lists it, and check notices a changed object', async () => {
    await s3.send(new CreateBucketCommand({ Bucket: `${bucket}-rc` }));
    const tree = join(dir, 'rc-tree');
    const files = new Map(Array.from({ length: 12 }, (_, i) => [`d${i % 3}/sub${i % 2}/o${i}.bin`, randomBytes(100 + i * 4099)]));
    for (const [key, body] of files) {
      await mkdir(join(tree, key, '..'), { recursive: true });
      await writeFile(join(tree, key), body);
    }
    const remote = `${RCLONE_REMOTE}:${bucket}-rc/tree`;
    await clients.rclone(endpoint, ['copy', tree, remote]);
    await clients.rclone(endpoint, ['check', tree, remote, '--checksum']);

    const listed = JSON.parse((await clients.rclone(endpoint, ['lsjson', '-R', '--files-only', remote])).stdout) as { Path: string; Size: number }[];
    expect(Object.fromEntries(listed.map((o) => [o.Path, o.Size]))).toEqual(Object.fromEntries([...files].map(([k, b]) => [k, b.length])));
    for (const [key, body] of files) expect(await s3Sha(s3, `${bucket}-rc`, `tree/${key}`)).toBe(sha256(body));

    // Same size, other bytes: only a real checksum comparison can see it.
    const [changedKey, original] = [...files][4]!;
    await s3.send(new PutObjectCommand({ Bucket: `${bucket}-rc`, Key: `tree/${changedKey}`, Body: randomBytes(original.length) }));
    const failed = await clients.rclone(endpoint, ['check', tree, remote, '--checksum']).catch((err: Error) => err);
    expect(failed).toBeInstanceOf(Error);
    expect((failed as Error).message).toMatch(/1 differences found/);
  });

  it('a refused request fails with the client’s own output, and the secret never appears in the error', async () => {
    const wrong = { ...endpoint, secretAccessKey: `not-${endpoint.secretAccessKey}` };
    const err = await clients.aws(wrong, ['s3', 'ls', `s3://${bucket}`]).catch((e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toMatch(/SignatureDoesNotMatch/);
    expect((err as Error).message).not.toContain(wrong.secretAccessKey);
    const s5 = await clients.s5cmd(wrong, ['ls', `s3://${bucket}/*`]).catch((e: Error) => e);
    expect((s5 as Error).message).toMatch(/SignatureDoesNotMatch/);
    expect((s5 as Error).message).not.toContain(wrong.secretAccessKey);
  });

  it('over HTTPS the aws CLI and boto3 send their CRC32 as an aws-chunked trailer (STREAMING-UNSIGNED-PAYLOAD-TRAILER); s5cmd and rclone trust the same CA', async () => {
    const proxy = await startRecordingProxy(minio.endpoint);
    const front = await startTlsFront(proxy.endpoint);
    try {
      const tls: S3Endpoint = { ...endpoint, url: front.url, caBundle: front.caFile };
      const body = randomBytes(70_000);
      await writeFile(join(dir, 'tls.bin'), body);
      await clients.aws(tls, ['s3', 'cp', join(dir, 'tls.bin'), `s3://${bucket}/tls/aws.bin`]);
      await clients.python(tls, `import boto3, os\nboto3.client('s3').upload_file(os.environ['SRC'], os.environ['BUCKET'], 'tls/boto3.bin')\n`, {
        env: { SRC: join(dir, 'tls.bin'), BUCKET: bucket },
      });
      await clients.s5cmd(tls, ['cp', join(dir, 'tls.bin'), `s3://${bucket}/tls/s5cmd.bin`]);
      await clients.rclone(tls, ['copyto', join(dir, 'tls.bin'), `${RCLONE_REMOTE}:${bucket}/tls/rclone.bin`]);

      const puts = new Map(proxy.requests.filter((r) => r.method === 'PUT').map((r) => [r.url.split('?')[0], r.headers]));
      for (const key of ['aws.bin', 'boto3.bin']) {
        const headers = puts.get(`/${bucket}/tls/${key}`);
        expect(headers?.['x-amz-content-sha256']).toBe('STREAMING-UNSIGNED-PAYLOAD-TRAILER');
        expect(headers?.['x-amz-trailer']).toBe('x-amz-checksum-crc32');
        expect(headers?.['content-encoding']).toMatch(/aws-chunked/);
      }
      for (const key of ['aws.bin', 'boto3.bin', 's5cmd.bin', 'rclone.bin']) expect(await s3Sha(s3, bucket, `tls/${key}`)).toBe(sha256(body));
    } finally {
      await front.close();
      await proxy.stop();
    }
  });
});
