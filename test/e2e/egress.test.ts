/**
 * The egress policy end to end, on the real services: in production a source
 * or webhook on loopback, private or metadata space is refused (400 for
 * literals, a fixed non-retryable failure at connect time for names that
 * resolve there), and syncs and delivers once LAKESYNC_EGRESS_ALLOW admits it;
 * network failures read the same whatever answered; metadata addresses are
 * refused in development too.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { CreateBucketCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { and, eq } from 'drizzle-orm';
import { pipelines, sourceObjects, sources } from '../../db/schema.js';
import { EGRESS_DENIED_MESSAGE } from '../../domain/egress-policy.js';
import { UNREACHABLE_MESSAGE } from '../../activities/net/public-error.js';
import { call, waitForJob } from '../support/http.js';
import { minioClient, startTestLakesync, unique, type TestLakesync } from '../support/lakesync.js';
import { listFiles, writeAll } from '../support/objects.js';
import { activityReport, historyChain } from '../support/history.js';
import { startWebhookReceiver } from '../support/webhook-receiver.js';

const SECRET = 'whsec-egress-0123456789abcdef';

/** What NODE_ENV=production requires besides the egress settings. */
const production = (extra: Record<string, string> = {}) => ({
  NODE_ENV: 'production',
  LAKESYNC_SECRET_KEY: randomBytes(32).toString('base64'),
  LAKESYNC_AUTH_SECRET: randomBytes(32).toString('base64url'),
  ...extra,
});

async function newBucket(ls: TestLakesync): Promise<string> {
  const bucket = unique('kb');
  expect((await call(ls.url, 'POST', '/admin/buckets', { name: bucket })).status).toBe(201);
  return bucket;
}

/** A MinIO bucket with a few objects, as an S3 source would see it. */
async function sourceBucket(keys: string[]): Promise<string> {
  const s3 = minioClient();
  const name = unique('egress-src');
  await s3.send(new CreateBucketCommand({ Bucket: name }));
  for (const key of keys) await s3.send(new PutObjectCommand({ Bucket: name, Key: key, Body: `content of ${key}` }));
  return name;
}

const s3Source = (endpoint: string, bucket: string, extra: Record<string, unknown> = {}) => {
  const { minio } = inject('infra');
  return {
    name: unique('src'),
    kind: 's3',
    s3: { endpoint, bucket, accessKeyId: minio.accessKeyId, secretAccessKey: minio.secretAccessKey },
    syncIntervalSeconds: 3600,
    ...extra,
  };
};

const webhook = (url: string, extra: Record<string, unknown> = {}) => ({
  name: unique('hook'),
  kind: 'webhook',
  webhook: { url, secret: SECRET, maxAttempts: 2, ...extra },
});

async function discover(ls: TestLakesync, bucket: string, sourceId: string) {
  const started = await call(ls.url, 'POST', `/${bucket}/sources/${sourceId}/discover`, {});
  expect(started.status).toBe(200);
  return waitForJob(ls.url, bucket, sourceId, started.body.jobId);
}

/** A port nothing listens on (it was free a moment ago, on loopback only). */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

const minioPort = () => new URL(inject('infra').minio.endpoint).port;

describe('egress policy in production (defaults)', () => {
  let ls: TestLakesync;
  const dirs: string[] = [];
  beforeAll(async () => {
    ls = await startTestLakesync({ lake: 'filesystem', env: production(), activityOverrides: { retryBackoffMs: 20 } });
  });
  afterAll(async () => {
    await ls?.stop();
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  it('refuses S3 endpoints on loopback, private and metadata addresses, in any spelling, with a 400 naming s3.endpoint', async () => {
    const bucket = await newBucket(ls);
    const port = minioPort();
    const refused = [
      inject('infra').minio.endpoint,
      `http://127.1:${port}`,
      `http://2130706433:${port}`,
      `http://0x7f000001:${port}`,
      `http://[::1]:${port}`,
      `http://[::ffff:127.0.0.1]:${port}`,
      `http://localhost:${port}`,
      `http://localhost.:${port}`,
      `http://0.0.0.0:${port}`,
      'http://10.0.0.5:9000',
      'http://169.254.169.254',
      'http://metadata.google.internal',
      'http://[fd00:ec2::254]',
    ];
    for (const endpoint of refused) {
      const res = await call(ls.url, 'POST', `/${bucket}/sources`, s3Source(endpoint, 'whatever'));
      expect(res.status, endpoint).toBe(400);
      expect(res.body).toMatchObject({ code: 'INVALID_ARGUMENT', details: [{ field: 's3.endpoint' }] });
      expect(res.body.message).not.toContain(endpoint.replace(/^http:\/\//, ''));
    }
    expect((await call(ls.url, 'GET', `/${bucket}/sources`)).body.sources).toEqual([]);

    // PATCH is held to the same rule, and changes nothing when refused.
    const created = await call(ls.url, 'POST', `/${bucket}/sources`, s3Source('https://s3.example.com', 'some-bucket'));
    expect(created.status).toBe(201);
    const patched = await call(ls.url, 'PATCH', `/${bucket}/sources/${created.body.sourceId}`, { s3: { endpoint: 'http://169.254.169.254' } });
    expect(patched.status).toBe(400);
    expect(patched.body.details).toEqual([{ field: 's3.endpoint', problem: 'is an address the egress policy does not allow' }]);
    expect((await call(ls.url, 'GET', `/${bucket}/sources/${created.body.sourceId}`)).body.s3.endpoint).toBe('https://s3.example.com');
  });

  it('refuses a name that resolves to loopback at connect time, with the fixed message and no retries', async () => {
    const bucket = await newBucket(ls);
    const srcBucket = await sourceBucket(['a.txt', 'b.txt']);
    const created = await call(ls.url, 'POST', `/${bucket}/sources`, s3Source('https://s3.example.com', srcBucket));
    expect(created.status).toBe(201);
    const sourceId = created.body.sourceId as string;
    // A row the API did not check against today's policy (stored before it was tightened): localhost → 127.0.0.1 is caught when connecting.
    const [row] = await ls.runtime.db.select().from(sources).where(eq(sources.id, sourceId));
    const connection = { s3: { ...(row!.connection as { s3: Record<string, unknown> }).s3, endpoint: `http://localhost:${minioPort()}` } };
    await ls.runtime.db
      .update(sources)
      .set({ connection: connection as (typeof sources.$inferSelect)['connection'], updatedAt: new Date() })
      .where(eq(sources.id, sourceId));

    const { job, sync } = await discover(ls, bucket, sourceId);
    expect(job).toMatchObject({ status: 'JOB_STATUS_FAILED', error: EGRESS_DENIED_MESSAGE, objectsListed: 0 });
    expect(sync.lastError).toBe(EGRESS_DENIED_MESSAGE);
    // The scan failed once, for good: no activity retried.
    const report = activityReport(await historyChain(ls.runtime.temporal, job.workflowId, job.runId));
    expect(report.failed).toBe(1);
    expect(report.retries).toEqual([]);
    expect(await listFiles(join((ls.lake as { dir: string }).dir, bucket))).toEqual([]);
  });

  it('refuses a webhook on loopback: 400 for the literal, a fixed failure without retries for a name', async () => {
    const receiver = await startWebhookReceiver(SECRET);
    try {
      const bucket = await newBucket(ls);
      for (const url of [receiver.url, receiver.url.replace('127.0.0.1', 'localhost'), receiver.url.replace('127.0.0.1', '[::ffff:7f00:1]')]) {
        const res = await call(ls.url, 'POST', `/${bucket}/pipelines`, webhook(url));
        expect(res.status, url).toBe(400);
        expect(res.body).toMatchObject({ code: 'INVALID_ARGUMENT', details: [{ field: 'webhook.url' }] });
      }
      expect((await call(ls.url, 'GET', `/${bucket}/pipelines`)).body.pipelines).toEqual([]);

      const hook = await call(ls.url, 'POST', `/${bucket}/pipelines`, webhook('https://hooks.example.com/lakesync'));
      expect(hook.status).toBe(201);
      const pipelineId = hook.body.pipelineId as string;
      const patched = await call(ls.url, 'PATCH', `/${bucket}/pipelines/${pipelineId}`, { webhook: { url: receiver.url } });
      expect(patched.status).toBe(400);
      expect(patched.body.details).toEqual([{ field: 'webhook.url', problem: 'is an address the egress policy does not allow' }]);
      expect((await call(ls.url, 'GET', `/${bucket}/pipelines/${pipelineId}`)).body.webhook.url).toBe('https://hooks.example.com/lakesync');

      // Stored before the policy was tightened: a name resolving to loopback is refused when delivering.
      const [row] = await ls.runtime.db.select().from(pipelines).where(eq(pipelines.id, pipelineId));
      const config = { webhook: { ...(row!.config as { webhook: Record<string, unknown> }).webhook, url: receiver.url.replace('127.0.0.1', 'localhost') } };
      await ls.runtime.db
        .update(pipelines)
        .set({ config: config as (typeof pipelines.$inferSelect)['config'] })
        .where(eq(pipelines.id, pipelineId));
      expect((await call(ls.url, 'POST', `/${bucket}/rules`, { name: 'all', pipelineIds: [pipelineId] })).status).toBe(201);
      const dir = await mkdtemp(join(tmpdir(), 'lakesync-egress-'));
      dirs.push(dir);
      await writeAll(dir, new Map([['one.txt', Buffer.from('one\n')]]));
      const src = await call(ls.url, 'POST', `/${bucket}/sources`, { name: 'dir', kind: 'filesystem', filesystem: { path: dir }, syncIntervalSeconds: 3600 });
      expect(src.status).toBe(201);
      const { job } = await discover(ls, bucket, src.body.sourceId);
      expect(job).toMatchObject({ status: 'JOB_STATUS_PARTIAL', objectsProcessed: 1, objectsIndexed: 0 });
      expect(job.failedObjects).toEqual([
        expect.objectContaining({ key: 'one.txt', stage: 'pipeline', pipelineId, attempts: 1, error: EGRESS_DENIED_MESSAGE }),
      ]);
      expect(receiver.deliveries).toEqual([]);
    } finally {
      await receiver.stop();
    }
  });
});

describe('egress policy in production with LAKESYNC_EGRESS_ALLOW=127.0.0.1/32', () => {
  let ls: TestLakesync;
  const servers: Server[] = [];
  beforeAll(async () => {
    ls = await startTestLakesync({ lake: 'filesystem', env: production({ LAKESYNC_EGRESS_ALLOW: '127.0.0.1/32' }), activityOverrides: { retryBackoffMs: 20 } });
  });
  afterAll(async () => {
    await ls?.stop();
    for (const s of servers) await new Promise<void>((resolve) => s.close(() => resolve()));
  });

  it('syncs the MinIO source on 127.0.0.1 for real, and still refuses what was not allowed', async () => {
    const bucket = await newBucket(ls);
    const keys = ['docs/a.txt', 'docs/b.txt', 'c.txt'];
    const srcBucket = await sourceBucket(keys);
    const created = await call(ls.url, 'POST', `/${bucket}/sources`, s3Source(inject('infra').minio.endpoint, srcBucket));
    expect(created.status).toBe(201);
    const { job } = await discover(ls, bucket, created.body.sourceId);
    expect(job).toMatchObject({ status: 'JOB_STATUS_SUCCEEDED', objectsDiscovered: 3, objectsProcessed: 3, objectsFailed: 0 });
    expect(await listFiles(join((ls.lake as { dir: string }).dir, bucket))).toEqual([...keys].sort());

    for (const endpoint of [`http://[::1]:${minioPort()}`, `http://127.0.0.2:${minioPort()}`, 'http://169.254.169.254']) {
      expect((await call(ls.url, 'POST', `/${bucket}/sources`, s3Source(endpoint, srcBucket))).status, endpoint).toBe(400);
    }
  });

  it('fails an ingestion for good when the stored endpoint is refused, dead-lettering nothing', async () => {
    const bucket = await newBucket(ls);
    const srcBucket = await sourceBucket(['x.txt', 'y.txt']);
    const created = await call(ls.url, 'POST', `/${bucket}/sources`, s3Source(inject('infra').minio.endpoint, srcBucket));
    const sourceId = created.body.sourceId as string;
    expect((await discover(ls, bucket, sourceId)).job).toMatchObject({ status: 'JOB_STATUS_SUCCEEDED', objectsProcessed: 2 });
    // The endpoint changes under the source (stored before the policy was tightened): [::1] was not allowed, only 127.0.0.1.
    const [row] = await ls.runtime.db.select().from(sources).where(eq(sources.id, sourceId));
    const connection = { s3: { ...(row!.connection as { s3: Record<string, unknown> }).s3, endpoint: `http://[::1]:${minioPort()}` } };
    await ls.runtime.db
      .update(sources)
      .set({ connection: connection as (typeof sources.$inferSelect)['connection'], updatedAt: new Date() })
      .where(eq(sources.id, sourceId));
    const [obj] = await ls.runtime.db
      .select({ id: sourceObjects.id })
      .from(sourceObjects)
      .where(and(eq(sourceObjects.sourceId, sourceId), eq(sourceObjects.key, 'x.txt')));
    const started = await call(ls.url, 'POST', `/${bucket}/sources/${sourceId}/ingest`, { sourceObjectId: obj!.id });
    expect(started.body).toMatchObject({ accepted: true, dispatched: 1 });
    const { job } = await waitForJob(ls.url, bucket, sourceId, started.body.jobId);
    expect(job).toMatchObject({ status: 'JOB_STATUS_FAILED', error: EGRESS_DENIED_MESSAGE, objectsFailed: 0 });
    const report = activityReport(await historyChain(ls.runtime.temporal, job.workflowId, job.runId));
    expect(report.failed).toBe(1);
    expect(report.retries).toEqual([]);
    expect((await call(ls.url, 'GET', `/${bucket}/sources/${sourceId}/dead-letters`)).body.deadLetters).toEqual([]);
  });

  it('tells the tenant the same thing whether nothing listens or a non-S3 server answers', async () => {
    const bucket = await newBucket(ls);
    // Both allowed (127.0.0.1): one port closed, one a web server that is not S3.
    const web = createServer((req, res) => {
      req.resume();
      res.writeHead(404, { 'content-type': 'text/html', server: 'internal-admin/1.0' }).end('<html><body>Not here</body></html>');
    });
    servers.push(web);
    await new Promise<void>((resolve) => web.listen(0, '127.0.0.1', resolve));
    const closed = await call(ls.url, 'POST', `/${bucket}/sources`, s3Source(`http://127.0.0.1:${await closedPort()}`, 'some-bucket'));
    const foreign = await call(ls.url, 'POST', `/${bucket}/sources`, s3Source(`http://127.0.0.1:${(web.address() as { port: number }).port}`, 'some-bucket'));
    expect([closed.status, foreign.status]).toEqual([201, 201]);
    const [a, b] = await Promise.all([discover(ls, bucket, closed.body.sourceId), discover(ls, bucket, foreign.body.sourceId)]);
    for (const { job, sync } of [a, b]) {
      expect(job).toMatchObject({ status: 'JOB_STATUS_FAILED', error: UNREACHABLE_MESSAGE });
      expect(sync.lastError).toBe(UNREACHABLE_MESSAGE);
    }
  });

  it('delivers a webhook to the allowed receiver, and follows no redirect', async () => {
    const receiver = await startWebhookReceiver(SECRET);
    // An allowed endpoint that redirects to the receiver: the redirect is a failed delivery, never followed.
    const redirector = createServer((req, res) => {
      req.resume();
      req.on('end', () => res.writeHead(307, { location: receiver.url }).end());
    });
    servers.push(redirector);
    await new Promise<void>((resolve) => redirector.listen(0, '127.0.0.1', resolve));
    try {
      const bucket = await newBucket(ls);
      const hook = await call(ls.url, 'POST', `/${bucket}/pipelines`, webhook(receiver.url));
      expect(hook.status).toBe(201);
      const redirecting = await call(
        ls.url,
        'POST',
        `/${bucket}/pipelines`,
        webhook(`http://127.0.0.1:${(redirector.address() as { port: number }).port}/hook`),
      );
      expect(redirecting.status).toBe(201);
      expect((await call(ls.url, 'POST', `/${bucket}/rules`, { name: 'all', pipelineIds: [hook.body.pipelineId, redirecting.body.pipelineId] })).status).toBe(
        201,
      );
      const dir = await mkdtemp(join(tmpdir(), 'lakesync-egress-'));
      try {
        await writeAll(dir, new Map([['one.txt', Buffer.from('one\n')]]));
        const src = await call(ls.url, 'POST', `/${bucket}/sources`, { name: 'dir', kind: 'filesystem', filesystem: { path: dir }, syncIntervalSeconds: 3600 });
        const { job } = await discover(ls, bucket, src.body.sourceId);
        expect(job).toMatchObject({ status: 'JOB_STATUS_PARTIAL', objectsProcessed: 1, objectsIndexed: 0 });
        expect(job.failedObjects).toEqual([expect.objectContaining({ key: 'one.txt', pipelineId: redirecting.body.pipelineId, attempts: 2 })]);
        expect(job.failedObjects[0].error).toContain('HTTP 307');
        // Exactly one delivery arrived: the direct one, none through the redirect.
        expect(receiver.deliveries.map((d) => [d.body.key, d.signatureValid])).toEqual([['one.txt', true]]);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    } finally {
      await receiver.stop();
    }
  });
});

describe('egress policy in development', () => {
  let ls: TestLakesync;
  beforeAll(async () => {
    ls = await startTestLakesync({ lake: 'filesystem' });
  });
  afterAll(async () => {
    await ls?.stop();
  });

  it('allows loopback but refuses link-local and cloud metadata destinations', async () => {
    const bucket = await newBucket(ls);
    for (const endpoint of [
      'http://169.254.169.254',
      'http://[::ffff:169.254.169.254]',
      'http://2852039166',
      'http://metadata.google.internal',
      'http://[fd00:ec2::254]',
      'http://[fe80::1]:9000',
    ]) {
      const res = await call(ls.url, 'POST', `/${bucket}/sources`, s3Source(endpoint, 'whatever'));
      expect(res.status, endpoint).toBe(400);
      expect(res.body.details).toEqual([expect.objectContaining({ field: 's3.endpoint' })]);
      expect((await call(ls.url, 'POST', `/${bucket}/pipelines`, webhook(`${endpoint}/hook`))).status, endpoint).toBe(400);
    }
    expect((await call(ls.url, 'POST', `/${bucket}/sources`, s3Source(inject('infra').minio.endpoint, 'whatever'))).status).toBe(201);
  });
});
