// An S3 client of lakesync's own S3 endpoint, with a fresh service-account key.
import { S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { expect } from 'vitest';
import { call } from './http.js';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestLakesync } from './lakesync.js';
import type { S3Endpoint } from './s3-clients.js';
import { startTlsFront } from './tls-front.js';

export interface S3Key {
  accessKeyId: string;
  secretAccessKey: string;
}

export async function createKey(ls: TestLakesync, body: { scopes: string[]; buckets?: string[] }, headers?: Record<string, string>): Promise<S3Key> {
  const created = await call(ls.url, 'POST', '/admin/keys', body, headers);
  expect(created.status).toBe(201);
  return { accessKeyId: created.body.accessKeyId, secretAccessKey: created.body.secretAccessKey };
}

/** The AWS SDK pointed at lakesync, path style, with its default (current) checksum behaviour. */
export function lakesyncS3(ls: TestLakesync, key: S3Key, region = 'us-east-1'): S3Client {
  return new S3Client({ endpoint: ls.url, region, forcePathStyle: true, credentials: key, maxAttempts: 1 });
}

/** The S3 error a request ends with (its code as the SDK names it, and the HTTP status); throws if it succeeded. */
export const s3Error = async (p: Promise<unknown>): Promise<{ name: string; status: number | undefined }> => {
  try {
    await p;
  } catch (err) {
    if (err instanceof S3ServiceException) return { name: err.name, status: err.$metadata.httpStatusCode };
    throw err;
  }
  throw new Error('expected an S3 error');
};

/** lakesync as the real clients' target: an endpoint with a fresh key, the same behind an HTTPS front (where botocore sends trailing checksums), and a scratch directory. */
export interface ClientTarget {
  plain: S3Endpoint;
  tls: S3Endpoint;
  dir: string;
  close(): Promise<void>;
}

export async function clientTarget(ls: TestLakesync, scopes: string[]): Promise<ClientTarget> {
  const key = await createKey(ls, { scopes });
  const plain: S3Endpoint = { url: ls.url, ...key, region: 'us-east-1' };
  const front = await startTlsFront(ls.url);
  const dir = await mkdtemp(join(tmpdir(), 'lakesync-s3-clients-'));
  return {
    plain,
    tls: { ...plain, url: front.url, caBundle: front.caFile },
    dir,
    close: async () => {
      await front.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
