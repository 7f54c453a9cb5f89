/**
 * Telling "a server is down" from "the request is wrong", on the errors the
 * real clients throw: postgres.js and drizzle against a closed port, the
 * Temporal client against a closed port, the AWS SDK against a closed port
 * and against an S3-like server answering 503, 499 and 404.
 */
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import postgres from 'postgres';
import { drizzle } from 'drizzle-orm/postgres-js';
import { sql } from 'drizzle-orm';
import { z } from 'zod';
import { Connection, defaultGrpcRetryOptions, makeGrpcRetryInterceptor, WorkflowClient } from '@temporalio/client';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { freePort } from '../../infra/ports.js';
import { unavailableDependency } from '../../api/unavailable.js';
import { serverDown } from '../../activities/net/outage.js';
import { createS3Client } from '../../activities/storage/s3-client.js';

const caught = async (p: Promise<unknown>): Promise<unknown> =>
  p.then(
    () => expect.unreachable('it answered'),
    (err: unknown) => err,
  );

describe('a dependency out of reach', () => {
  let closed: number;
  let s3Like: Server;
  let s3Url: string;

  beforeAll(async () => {
    closed = await freePort();
    // Answers like an S3 service: the status and code are chosen by the key.
    s3Like = createServer((req, res) => {
      const [status, code] = req.url!.includes('busy')
        ? [503, 'ServiceUnavailable']
        : req.url!.includes('cut')
          ? [499, 'ClientDisconnected']
          : [404, 'NoSuchKey'];
      res.writeHead(status, { 'content-type': 'application/xml' }).end(`<?xml version="1.0"?><Error><Code>${code}</Code><Message>${code}</Message></Error>`);
    });
    await new Promise<void>((r) => s3Like.listen(0, '127.0.0.1', r));
    s3Url = `http://127.0.0.1:${(s3Like.address() as { port: number }).port}`;
  });
  afterAll(() => new Promise<void>((r) => s3Like.close(() => r())));

  it('names Postgres for a refused connection, through postgres.js and through drizzle', async () => {
    const client = postgres(`postgres://u:p@127.0.0.1:${closed}/db`, { max: 1, onnotice: () => undefined });
    try {
      const raw = await caught(client`select 1`);
      const wrapped = await caught(drizzle(client).execute(sql`select 1`));
      expect(unavailableDependency(raw)).toBe('postgres');
      expect(unavailableDependency(wrapped)).toBe('postgres');
      expect(serverDown(wrapped)).toBe(true);
    } finally {
      await client.end({ timeout: 1 });
    }
  });

  it('names Temporal for a server that does not answer', async () => {
    // Lazy, as the API's connection is by the time a request needs it: made at start-up, then the server went away.
    const connection = Connection.lazy({
      address: `127.0.0.1:${closed}`,
      interceptors: [makeGrpcRetryInterceptor(defaultGrpcRetryOptions({ maxAttempts: 2 }))],
    });
    try {
      expect(unavailableDependency(await caught(new WorkflowClient({ connection }).getHandle('w').describe()))).toBe('temporal');
    } finally {
      await connection.close();
    }
  });

  it('calls an S3 endpoint down when its socket fails, it answers 5xx or cuts the request, not when it says the key is missing', async () => {
    const get = (endpoint: string, key: string) =>
      caught(
        createS3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, accessKeyId: 'a', secretAccessKey: 'b' }).send(
          new GetObjectCommand({ Bucket: 'b', Key: key }),
        ),
      );
    expect(serverDown(await get(`http://127.0.0.1:${closed}`, 'k'))).toBe(true);
    expect(serverDown(await get(s3Url, 'busy'))).toBe(true);
    expect(serverDown(await get(s3Url, 'cut'))).toBe(true);
    const missing = await get(s3Url, 'missing');
    expect((missing as { name?: string }).name).toBe('NoSuchKey');
    expect(serverDown(missing)).toBe(false);
  });

  it('leaves other errors alone: a refused value, invalid input, a plain error', () => {
    const unique = Object.assign(new Error('duplicate key value'), { name: 'PostgresError', code: '23505', query: 'insert …' });
    for (const err of [unique, new z.ZodError([]), new Error('boom'), null, 'text']) {
      expect(unavailableDependency(err)).toBeNull();
      expect(serverDown(err)).toBe(false);
    }
  });
});
