/** The lean CopyObject path, against real MinIO: odd keys, ETags, and S3's error names. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CreateBucketCommand, GetObjectCommand, HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { inject } from 'vitest';
import { S3Copier } from '../../lake/s3-copier.js';
import { S3ResponseError } from '../../lake/s3-wire.js';
import { minioClient, unique } from '../support/lakesync.js';

/**
 * A loopback hop in front of MinIO that answers the first `failures` requests
 * with the given S3 error itself and forwards the rest untouched (Host
 * included, so the signature still verifies); it counts what it was sent and
 * the connections it was sent on.
 */
async function failingHop(upstream: string, failures: number, status: number, code: string) {
  const target = new URL(upstream);
  let requests = 0;
  let connections = 0;
  const server = createServer((req, res) => {
    requests++;
    if (requests <= failures) {
      req.resume();
      res.writeHead(status, { 'content-type': 'application/xml' }).end(`<Error><Code>${code}</Code><Message>injected ${code}</Message></Error>`);
      return;
    }
    const out = request({ host: target.hostname, port: Number(target.port), method: req.method, path: req.url, headers: req.headers }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    });
    req.pipe(out);
  });
  server.on('connection', () => connections++);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests: () => requests,
    connections: () => connections,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** A copier with MinIO's credentials and one connection, sending to `endpoint` (a hop in front of MinIO). */
function copierThrough(endpoint: string): S3Copier {
  const { minio } = inject('infra');
  return new S3Copier({ endpoint, region: 'us-east-1', accessKeyId: minio.accessKeyId, secretAccessKey: minio.secretAccessKey, connections: 1 });
}

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
    expect(missing).toBeInstanceOf(S3ResponseError);
    expect((missing as S3ResponseError).name).toBe('NoSuchKey');
    const noBucket = await copier.copy(unique('absent'), 'x', src, 'plain.txt').catch((e: unknown) => e);
    expect((noBucket as S3ResponseError).name).toBe('NoSuchBucket');
    const { minio } = inject('infra');
    const wrong = new S3Copier({
      endpoint: minio.endpoint,
      region: 'us-east-1',
      accessKeyId: minio.accessKeyId,
      secretAccessKey: 'not-the-secret',
      connections: 1,
    });
    const denied = await wrong.copy(dst, 'x', src, 'plain.txt').catch((e: unknown) => e);
    expect((denied as S3ResponseError).name).toBe('SignatureDoesNotMatch');
    await wrong.close();
  });

  it('keeps one connection across HEADs and GETs, one after another', async () => {
    const { minio } = inject('infra');
    await s3.send(new PutObjectCommand({ Bucket: src, Key: 'kept.txt', Body: 'kept alive' }));
    const hop = await failingHop(minio.endpoint, 0, 200, '');
    const c = copierThrough(hop.endpoint);
    try {
      for (let i = 0; i < 3; i++) {
        expect((await c.head(src, 'kept.txt'))?.['content-length']).toBe('10');
        expect(await c.head(src, 'no/such/key')).toBeNull();
        const got = await c.get(src, 'kept.txt', { start: 0, end: 3 });
        expect(await got!.body.toArray().then((b) => Buffer.concat(b).toString())).toBe('kept');
      }
      expect(hop.requests()).toBe(9);
      expect(hop.connections()).toBe(1);
    } finally {
      await c.close();
      await hop.stop();
    }
  });

  it('tries a transient failure three times in all, and a permanent one once', async () => {
    const { minio } = inject('infra');
    await s3.send(new PutObjectCommand({ Bucket: src, Key: 'retry.txt', Body: 'retried body' }));
    const through = async (failures: number, status: number, code: string) => {
      const hop = await failingHop(minio.endpoint, failures, status, code);
      const c = copierThrough(hop.endpoint);
      try {
        const outcome = await c.copy(dst, `retry/${code}-${failures}`, src, 'retry.txt').catch((e: unknown) => e);
        return { outcome, requests: hop.requests() };
      } finally {
        await c.close();
        await hop.stop();
      }
    };
    // Two throttled answers, then the copy goes through on the third try.
    const slow = await through(2, 503, 'SlowDown');
    expect(slow.requests).toBe(3);
    expect(typeof slow.outcome).toBe('string');
    const got = await s3.send(new GetObjectCommand({ Bucket: dst, Key: 'retry/SlowDown-2' }));
    expect(await got.Body!.transformToString()).toBe('retried body');
    // Failing every time: three tries, then the last error.
    const down = await through(10, 500, 'InternalError');
    expect(down.requests).toBe(3);
    expect((down.outcome as S3ResponseError).name).toBe('InternalError');
    // Not something a retry fixes: one try.
    const denied = await through(10, 403, 'AccessDenied');
    expect(denied.requests).toBe(1);
    expect((denied.outcome as S3ResponseError).name).toBe('AccessDenied');
  });
});
