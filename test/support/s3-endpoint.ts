// An S3 client of lakesync's own S3 endpoint, with a fresh service-account key.
import { S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { expect } from 'vitest';
import { call } from './http.js';
import type { TestLakesync } from './lakesync.js';

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
