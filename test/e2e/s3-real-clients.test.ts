/**
 * lakesync's S3 endpoint driven by the real clients people use — the aws CLI
 * (over HTTPS, so its default CRC32 goes as an aws-chunked trailer), rclone,
 * s5cmd and boto3 — each as a real process, checked byte for byte against
 * what they sent and against the lake itself.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { call } from '../support/http.js';
import { startTestLakesync, unique, type TestLakesync } from '../support/lakesync.js';
import { sha256 } from '../support/objects.js';
import { RCLONE_REMOTE, s3Clients, type S3Endpoint } from '../support/s3-clients.js';
import { clientTarget, type ClientTarget } from '../support/s3-endpoint.js';

const md5hex = (b: Buffer | string) => createHash('md5').update(b).digest('hex');

describe('real S3 clients against lakesync', () => {
  const clients = s3Clients(inject('infra').s3Clients);
  let ls: TestLakesync;
  let target: ClientTarget;
  let plain: S3Endpoint;
  let tls: S3Endpoint;
  let dir: string;
  const bucket = unique('s3c');

  /** What the lake's own listing (the K3 route) holds under a prefix: key → size. */
  const lakeListing = async (prefix: string) => {
    const res = await call(ls.url, 'GET', `/${bucket}/objects?prefix=${encodeURIComponent(prefix)}&max_keys=1000`);
    expect(res.status).toBe(200);
    return Object.fromEntries((res.body.objects as { key: string; size: string }[]).map((o) => [o.key, Number(o.size)]));
  };

  beforeAll(async () => {
    ls = await startTestLakesync({ lake: 'filesystem' });
    target = await clientTarget(ls, ['admin']);
    ({ plain, tls, dir } = target);
  });
  afterAll(async () => {
    await target?.close();
    await ls?.stop();
  });

  it('aws CLI: mb, cp up and down, ls (recursive, prefixes), put-object --metadata then head-object, presign then plain fetch', async () => {
    await clients.aws(tls, ['s3', 'mb', `s3://${bucket}`]);
    const small = randomBytes(70_000);
    await writeFile(join(dir, 'small.bin'), small);
    await clients.aws(tls, ['s3', 'cp', join(dir, 'small.bin'), `s3://${bucket}/aws/a/small.bin`]);
    await clients.aws(tls, ['s3', 'cp', join(dir, 'small.bin'), `s3://${bucket}/aws/b/c/other name.bin`]);
    await clients.aws(tls, ['s3', 'cp', `s3://${bucket}/aws/a/small.bin`, join(dir, 'small.back')]);
    expect(sha256(await readFile(join(dir, 'small.back')))).toBe(sha256(small));

    const recursive = (await clients.aws(tls, ['s3', 'ls', '--recursive', `s3://${bucket}/aws/`])).stdout;
    expect(recursive).toContain('aws/a/small.bin');
    expect(recursive).toContain('aws/b/c/other name.bin');
    const top = (await clients.aws(tls, ['s3', 'ls', `s3://${bucket}/aws/`])).stdout;
    expect(
      top
        .split('\n')
        .map((l) => l.trim())
        .filter(Boolean)
        .sort(),
    ).toEqual(['PRE a/', 'PRE b/']);
    expect(await lakeListing('aws/')).toEqual({ 'aws/a/small.bin': 70_000, 'aws/b/c/other name.bin': 70_000 });

    await clients.aws(tls, [
      's3api',
      'put-object',
      '--bucket',
      bucket,
      '--key',
      'aws/meta.txt',
      '--body',
      join(dir, 'small.bin'),
      '--metadata',
      'colour=blue,owner=ops',
      '--content-type',
      'text/x-custom',
      '--cache-control',
      'max-age=60',
    ]);
    const head = JSON.parse((await clients.aws(tls, ['s3api', 'head-object', '--bucket', bucket, '--key', 'aws/meta.txt'])).stdout);
    expect(head).toMatchObject({
      ContentLength: 70_000,
      ContentType: 'text/x-custom',
      CacheControl: 'max-age=60',
      Metadata: { colour: 'blue', owner: 'ops' },
      ETag: `"${md5hex(small)}"`,
    });

    // The CLI (v1) presigns with SigV2 unless told s3v4: SigV2 gets S3's refusal, SigV4 works from plain fetch.
    const v2 = (await clients.aws(plain, ['s3', 'presign', `s3://${bucket}/aws/a/small.bin`, '--expires-in', '300'])).stdout.trim();
    expect(v2).toContain('AWSAccessKeyId=');
    const refused = await fetch(v2);
    expect(refused.status).toBe(400);
    expect(await refused.text()).toContain('<Code>InvalidRequest</Code>');
    const url = (
      await clients.aws(plain, ['s3', 'presign', `s3://${bucket}/aws/a/small.bin`, '--expires-in', '300'], { awsS3Config: ['signature_version = s3v4'] })
    ).stdout.trim();
    expect(url).toContain('X-Amz-Algorithm=AWS4-HMAC-SHA256');
    const got = await fetch(url);
    expect(got.status).toBe(200);
    expect(sha256(Buffer.from(await got.arrayBuffer()))).toBe(sha256(small));
  });

  it('aws CLI: sync up, sync down, and rm --recursive; every object is ingested', async () => {
    const up = join(dir, 'sync-up');
    for (let i = 0; i < 30; i++) {
      await mkdir(join(up, `d${i % 3}`), { recursive: true });
      await writeFile(join(up, `d${i % 3}`, `f${i}.txt`), `file ${i} ${randomBytes(8).toString('hex')}`);
    }
    await clients.aws(tls, ['s3', 'sync', up, `s3://${bucket}/sync/`]);
    const listed = await lakeListing('sync/');
    expect(Object.keys(listed)).toHaveLength(30);
    const down = join(dir, 'sync-down');
    await clients.aws(tls, ['s3', 'sync', `s3://${bucket}/sync/`, down]);
    for (let i = 0; i < 30; i++) {
      expect(await readFile(join(down, `d${i % 3}`, `f${i}.txt`), 'utf8')).toBe(await readFile(join(up, `d${i % 3}`, `f${i}.txt`), 'utf8'));
    }
    // A second sync finds nothing to do: sizes and times agree.
    expect((await clients.aws(tls, ['s3', 'sync', up, `s3://${bucket}/sync/`])).stdout.trim()).toBe('');
    // Pushed objects are ingested by the bucket's push source.
    await expect
      .poll(async () => (await call(ls.url, 'GET', `/${bucket}/objects/${encodeURIComponent('sync/d0/f0.txt')}/info`)).body?.source?.name ?? null, {
        timeout: 60_000,
      })
      .toBe('direct-puts');
    await clients.aws(tls, ['s3', 'rm', '--recursive', `s3://${bucket}/sync/`]);
    expect(await lakeListing('sync/')).toEqual({});
  });

  it('rclone: copy, sync, check --checksum and lsjson agree with the lake', async () => {
    const tree = join(dir, 'rclone');
    await mkdir(join(tree, 'x/y'), { recursive: true });
    for (let i = 0; i < 12; i++) await writeFile(join(tree, i % 2 ? 'x/y' : 'x', `r${i}.bin`), randomBytes(1000 + i));
    const remote = `${RCLONE_REMOTE}:${bucket}/rclone`;
    await clients.rclone(plain, ['copy', tree, remote]);
    await clients.rclone(plain, ['check', tree, remote, '--checksum']);
    const listed = JSON.parse((await clients.rclone(plain, ['lsjson', '-R', '--files-only', '--hash', remote])).stdout) as {
      Path: string;
      Size: number;
      Hashes?: { md5?: string };
    }[];
    expect(Object.fromEntries(listed.map((o) => [`rclone/${o.Path}`, o.Size]))).toEqual(await lakeListing('rclone/'));
    for (const o of listed) expect(o.Hashes?.md5).toBe(md5hex(await readFile(join(tree, o.Path))));
    // sync deletes what the source no longer has.
    await rm(join(tree, 'x/r0.bin'));
    await clients.rclone(plain, ['sync', tree, remote]);
    expect(Object.keys(await lakeListing('rclone/'))).not.toContain('rclone/x/r0.bin');
    await clients.rclone(plain, ['check', tree, remote, '--checksum']);
  });

  it('s5cmd: cp of many small files up and down, and ls', async () => {
    const up = join(dir, 's5-up');
    await mkdir(up, { recursive: true });
    const files = new Map<string, Buffer>();
    for (let i = 0; i < 200; i++) {
      const body = randomBytes(500 + i);
      files.set(`s${String(i).padStart(3, '0')}.bin`, body);
      await writeFile(join(up, `s${String(i).padStart(3, '0')}.bin`), body);
    }
    await clients.s5cmd(plain, ['cp', `${up}/*`, `s3://${bucket}/s5/`]);
    const listed = (await clients.s5cmd(plain, ['ls', `s3://${bucket}/s5/*`])).stdout.trim().split('\n');
    expect(listed).toHaveLength(200);
    expect(Object.keys(await lakeListing('s5/'))).toHaveLength(200);
    const down = join(dir, 's5-down');
    await clients.s5cmd(plain, ['cp', `s3://${bucket}/s5/*`, `${down}/`]);
    const back = await readdir(down);
    expect(back.sort()).toEqual([...files.keys()].sort());
    for (const [name, body] of files) expect(sha256(await readFile(join(down, name)))).toBe(sha256(body));

    // Go's XML encoder writes quotes as &#34;: a multipart Complete (ETags) and a batch delete (keys) from s5cmd.
    const big = randomBytes(12 * 1024 * 1024 + 5);
    await writeFile(join(dir, 's5-big.bin'), big);
    await clients.s5cmd(plain, ['cp', '--part-size', '5', join(dir, 's5-big.bin'), `s3://${bucket}/s5big/"quoted" & big.bin`]);
    await clients.s5cmd(plain, ['cp', `s3://${bucket}/s5big/"quoted" & big.bin`, join(dir, 's5-big.back')]);
    expect(sha256(await readFile(join(dir, 's5-big.back')))).toBe(sha256(big));
    await clients.s5cmd(plain, ['rm', `s3://${bucket}/s5/*`]);
    expect(await lakeListing('s5/')).toEqual({});
  });
});
