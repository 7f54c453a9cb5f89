/**
 * S3 change notifications through an SQS queue, end to end against a real
 * SQS server (ElasticMQ) and the suite's MinIO: after each change the test
 * makes in MinIO it sends the message S3 would send to the queue, and the
 * worker's poller brings PUTs into and DELETEs out of the lake within
 * seconds, though the source polls hourly and nobody calls the API; a burst
 * coalesces into a few runs with exact counters; excluded keys and messages
 * that are no S3 events change nothing and block nothing; messages are deleted
 * only once stored, so a worker killed in between leaves an exact lake.
 */
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import pLimit from 'p-limit';
import postgres from 'postgres';
import { CreateBucketCommand, DeleteObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { ReceiveMessageCommand, SetQueueAttributesCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { startElasticMq, type ElasticMqServer } from '../../infra/elasticmq-server.js';
import { startWorkerProcess, type WorkerProcess } from '../../infra/worker-process.js';
import { call, expectCoalescedEventRuns, settledRuns, waitFor, type JobView } from '../support/http.js';
import { minioClient, startTestLakesync, unique, type TestLakesync } from '../support/lakesync.js';
import { listFiles } from '../support/objects.js';
import { startGatedProxy, type GatedProxy } from '../support/gated-proxy.js';
import { createQueue, queueDepth, s3EventMessage, s3TestEventMessage, sendMessage, sendMessages, sqsClient } from '../support/sqs.js';

const quiet = () => undefined;

/** A bucket in the suite's MinIO, an s3 source on it with `notifications.mode = sqs`, and what the tests look at. */
async function sqsSource(ls: TestLakesync, queueUrl: string, extra: Record<string, unknown> = {}) {
  const { endpoint, accessKeyId, secretAccessKey } = inject('infra').minio;
  const bucket = unique('qb');
  const srcBucket = unique('qsrc');
  const prefix = 'in/';
  const s3: S3Client = minioClient();
  await s3.send(new CreateBucketCommand({ Bucket: srcBucket }));
  expect((await call(ls.url, 'POST', '/admin/buckets', { name: bucket })).status).toBe(201);
  const created = await call(ls.url, 'POST', `/${bucket}/sources`, {
    name: 'queued',
    kind: 's3',
    s3: { endpoint, bucket: srcBucket, prefix, accessKeyId, secretAccessKey, forcePathStyle: true },
    syncIntervalSeconds: 3600,
    fileFilters: { excludePatterns: ['*.tmp'] },
    notifications: { mode: 'sqs', queueUrl },
    ...extra,
  });
  expect(created.status).toBe(201);
  const sourceId = created.body.sourceId as string;
  const lakeRoot = join((ls.lake as { dir: string }).dir, bucket);
  const jobs = async (): Promise<JobView[]> => {
    const res = await call(ls.url, 'GET', `/${bucket}/jobs?source_id=${sourceId}&page_size=1000`);
    expect(res.status).toBe(200);
    return res.body.jobs as JobView[];
  };
  return {
    bucket,
    srcBucket,
    prefix,
    s3,
    sourceId,
    created: created.body,
    lakeText: (key: string) => readFile(join(lakeRoot, key), 'utf8').catch(() => null),
    lakeRoot,
    jobs,
    settled: (timeoutMs?: number) => waitFor('runs settled', settledRuns(jobs), timeoutMs),
    /** PUTs the object in MinIO, then the message S3 sends for it. */
    put: async (sqs: SQSClient, key: string, body: string) => {
      const res = await s3.send(new PutObjectCommand({ Bucket: srcBucket, Key: `${prefix}${key}`, Body: body }));
      await sendMessage(sqs, queueUrl, s3EventMessage({ bucket: srcBucket, key: `${prefix}${key}`, put: { size: body.length, eTag: res.ETag! } }));
    },
    remove: async (sqs: SQSClient, key: string) => {
      await s3.send(new DeleteObjectCommand({ Bucket: srcBucket, Key: `${prefix}${key}` }));
      await sendMessage(sqs, queueUrl, s3EventMessage({ bucket: srcBucket, key: `${prefix}${key}` }));
    },
  };
}

describe('S3 change notifications through an SQS queue (ElasticMQ)', () => {
  let ls: TestLakesync;
  let emq: ElasticMqServer;
  let sqs: SQSClient;
  let sql: postgres.Sql;
  let queueUrl: string;
  let src: Awaited<ReturnType<typeof sqsSource>>;

  const leaseOwners = async () => (await sql<{ owner: string }[]>`select owner from source_watch_leases where source_id = ${src.sourceId}`).map((r) => r.owner);
  /** Once settled, the runs newer than the `before` the list held (it lists the newest first). */
  const runsSince = async (before: number, timeoutMs?: number) => {
    const all = await src.settled(timeoutMs);
    return all.slice(0, all.length - before);
  };

  beforeAll(async () => {
    [ls, emq] = await Promise.all([startTestLakesync({ lake: 'filesystem' }), startElasticMq({ dir: inject('infra').elasticMqDir, log: quiet })]);
    sql = postgres(ls.databaseUrl, { max: 2, onnotice: () => undefined });
    sqs = sqsClient(emq.endpoint);
    queueUrl = await createQueue(sqs, 'lake-events');
    src = await sqsSource(ls, queueUrl);
    await waitFor('the poller holds the lease', async () => (await leaseOwners()).length === 1, 30_000);
  }, 180_000);
  afterAll(async () => {
    await sql?.end();
    await ls?.stop();
    await emq?.stop();
  });

  it('shows the queue and never credentials', async () => {
    expect(src.created.notifications).toEqual({ mode: 'sqs', queueUrl, tokenSet: false, credentialsSet: false });
    const got = await call(ls.url, 'GET', `/${src.bucket}/sources/${src.sourceId}`);
    expect(got.body.notifications).toEqual({ mode: 'sqs', queueUrl, tokenSet: false, credentialsSet: false });
  });

  it('copies a PUT and removes a DELETE with no poll and no API trigger, and empties the queue', async () => {
    await src.put(sqs, 'docs/a b.txt', 'hello');
    await waitFor('the PUT in the lake', async () => (await src.lakeText('docs/a b.txt')) === 'hello', 60_000);
    await src.remove(sqs, 'docs/a b.txt');
    await waitFor('the DELETE in the lake', async () => (await src.lakeText('docs/a b.txt')) === null, 60_000);
    const all = await src.settled();
    expect(all.length).toBeGreaterThan(0);
    // Only targeted runs: no scheduled scan (hourly) and no API call ran.
    expect(all.every((j) => j.trigger === 'event')).toBe(true);
    expect(all.reduce((n, j) => n + j.objectsProcessed, 0)).toBe(1);
    expect(all.reduce((n, j) => n + j.objectsDeleted, 0)).toBe(1);
    await waitFor('both messages deleted', async () => (await queueDepth(sqs, queueUrl)) === 0, 30_000);
  });

  it('does nothing for a key the filters exclude', async () => {
    const before = (await src.settled()).length;
    await src.put(sqs, 'scratch.tmp', 'skip');
    await src.put(sqs, 'marker.txt', 'm');
    await waitFor('the marker in the lake', async () => (await src.lakeText('marker.txt')) === 'm', 60_000);
    await waitFor('both messages deleted', async () => (await queueDepth(sqs, queueUrl)) === 0, 30_000);
    expect(await src.lakeText('scratch.tmp')).toBeNull();
    expect((await runsSince(before)).reduce((n, j) => n + j.objectsDiscovered, 0)).toBe(1);
  });

  it('deletes messages it cannot parse and S3 test events without blocking the queue', async () => {
    await sendMessages(sqs, queueUrl, [
      'not json at all',
      JSON.stringify({ Records: 'nope' }),
      JSON.stringify({ Records: [{ eventName: 'ObjectCreated:Put', s3: { bucket: { name: src.srcBucket }, object: { key: 'in/x', sequencer: 'xyz!' } } }] }),
      JSON.stringify({ Type: 'Notification', Message: '{broken' }),
      s3TestEventMessage(src.srcBucket),
    ]);
    // A good event behind them still lands, and every message leaves the queue.
    await src.put(sqs, 'after-junk.txt', 'ok');
    await waitFor('the good event applied', async () => (await src.lakeText('after-junk.txt')) === 'ok', 60_000);
    await waitFor('every message deleted', async () => (await queueDepth(sqs, queueUrl)) === 0, 30_000);
  });

  it('reads SNS-wrapped and EventBridge messages too', async () => {
    const res = await src.s3.send(new PutObjectCommand({ Bucket: src.srcBucket, Key: 'in/sns.txt', Body: 'via sns' }));
    const record = s3EventMessage({ bucket: src.srcBucket, key: 'in/sns.txt', put: { size: 7, eTag: res.ETag! } });
    await sendMessage(
      sqs,
      queueUrl,
      JSON.stringify({ Type: 'Notification', MessageId: 'm-1', TopicArn: 'arn:aws:sns:us-east-1:000000000000:t', Message: record }),
    );
    await src.s3.send(new PutObjectCommand({ Bucket: src.srcBucket, Key: 'in/eb.txt', Body: 'via eventbridge' }));
    await sendMessage(
      sqs,
      queueUrl,
      JSON.stringify({
        version: '0',
        source: 'aws.s3',
        'detail-type': 'Object Created',
        detail: { bucket: { name: src.srcBucket }, object: { key: 'in/eb.txt', sequencer: '00AA' } },
      }),
    );
    await waitFor('the SNS-wrapped event applied', async () => (await src.lakeText('sns.txt')) === 'via sns', 60_000);
    await waitFor('the EventBridge event applied', async () => (await src.lakeText('eb.txt')) === 'via eventbridge', 60_000);
  });

  it('coalesces a burst of 2,000 PUTs into a few runs with exact counters', async () => {
    const before = (await src.settled()).length;
    const limit = pLimit(32);
    const keys = Array.from({ length: 2000 }, (_, i) => `burst/${String(i).padStart(4, '0')}.txt`);
    const bodies = await Promise.all(
      keys.map((k) =>
        limit(async () => {
          const res = await src.s3.send(new PutObjectCommand({ Bucket: src.srcBucket, Key: `${src.prefix}${k}`, Body: k }));
          return s3EventMessage({ bucket: src.srcBucket, key: `${src.prefix}${k}`, put: { size: k.length, eTag: res.ETag! } });
        }),
      ),
    );
    await sendMessages(sqs, queueUrl, bodies);
    await waitFor('the burst in the lake', async () => (await listFiles(join(src.lakeRoot, 'burst')).catch(() => [])).length === 2000, 240_000, 500);
    await waitFor('every message deleted', async () => (await queueDepth(sqs, queueUrl)) === 0, 30_000);
    const runs = await runsSince(before, 120_000);
    expectCoalescedEventRuns(runs, 2000);
    expect(await src.lakeText('burst/1999.txt')).toBe('burst/1999.txt');
    expect((await stat(join(src.lakeRoot, 'burst/1234.txt'))).size).toBe('burst/1234.txt'.length);
  }, 400_000);

  it('refuses settings it cannot use, naming the field, and seals credentials', async () => {
    const patch = (notifications: unknown) => call(ls.url, 'PATCH', `/${src.bucket}/sources/${src.sourceId}`, { notifications });
    const noQueue = await patch({ mode: 'sqs' });
    expect(noQueue.status).toBe(400);
    expect(noQueue.body.details).toEqual([{ field: 'notifications.queueUrl', problem: 'is required with mode "sqs"' }]);
    const queueForWebhook = await patch({ mode: 'webhook', queueUrl });
    expect(queueForWebhook.status).toBe(400);
    expect(queueForWebhook.body.details).toEqual([{ field: 'notifications.queueUrl', problem: 'only applies to mode "sqs"' }]);
    // The queue obeys the destination policy as a source endpoint does: instance metadata is refused in every mode.
    const metadata = await patch({ mode: 'sqs', queueUrl: 'http://169.254.169.254/000000000000/q' });
    expect(metadata.status).toBe(400);
    expect(metadata.body.details[0].field).toBe('notifications.queueUrl');
    const endpoint = await patch({ mode: 'sqs', queueUrl, endpoint: 'http://169.254.169.254' });
    expect(endpoint.status).toBe(400);
    expect(endpoint.body.details[0].field).toBe('notifications.endpoint');
    // Only s3 sources take a queue.
    const fsBucket = unique('qf');
    expect((await call(ls.url, 'POST', '/admin/buckets', { name: fsBucket })).status).toBe(201);
    const fs = await call(ls.url, 'POST', `/${fsBucket}/sources`, {
      name: 'dir',
      kind: 'filesystem',
      filesystem: { path: (ls.lake as { dir: string }).dir },
      notifications: { mode: 'sqs', queueUrl },
    });
    expect(fs.status).toBe(400);
    expect(fs.body.details).toEqual([{ field: 'notifications.mode', problem: 'filesystem sources take "watch"' }]);
    // The queue's own credentials: sealed at rest, never shown. With an endpoint given, the poller connects there only
    // (the queue URL, whose host here is one the policy refuses, then just names the queue).
    const secret = `queue-secret-${unique('s')}`;
    const namedOnly = queueUrl.replace(/^http:\/\/[^/]+/, 'http://169.254.169.254');
    const withCreds = await patch({
      mode: 'sqs',
      queueUrl: namedOnly,
      endpoint: emq.endpoint,
      credentials: { accessKeyId: 'queue-key', secretAccessKey: secret },
    });
    expect(withCreds.status).toBe(200);
    expect(withCreds.body.notifications).toEqual({ mode: 'sqs', queueUrl: namedOnly, endpoint: emq.endpoint, tokenSet: false, credentialsSet: true });
    expect(JSON.stringify(withCreds.body)).not.toContain(secret);
    const [row] = await sql<
      { n: string; t: string }[]
    >`select notifications::text as n, sealed_notification_token as t from sources where id = ${src.sourceId}`;
    expect(row!.n).not.toContain(secret);
    expect(row!.t).not.toContain(secret);
    // The poller picks the new settings up and goes on: ElasticMQ takes any credentials.
    await src.put(sqs, 'with-creds.txt', 'c');
    await waitFor('the event read with the queue credentials', async () => (await src.lakeText('with-creds.txt')) === 'c', 60_000);
  });

  it('reports a queue that is gone in lastError, and clears it once the queue answers', async () => {
    const gone = queueUrl.replace(/lake-events$/, 'no-such-queue');
    expect((await call(ls.url, 'PATCH', `/${src.bucket}/sources/${src.sourceId}`, { notifications: { mode: 'sqs', queueUrl: gone } })).status).toBe(200);
    const lastError = async () => (await call(ls.url, 'GET', `/${src.bucket}/sources/${src.sourceId}`)).body.lastError as string | null;
    const reported = await waitFor('the problem reported', async () => lastError(), 60_000);
    expect(reported).toBe('notifications: the SQS queue could not be read: QueueDoesNotExist: The specified queue does not exist.');
    expect((await call(ls.url, 'PATCH', `/${src.bucket}/sources/${src.sourceId}`, { notifications: { mode: 'sqs', queueUrl } })).status).toBe(200);
    await waitFor('the problem cleared', async () => (await lastError()) === null, 60_000);
  });

  it('stops polling when notifications are turned off', async () => {
    expect((await call(ls.url, 'PATCH', `/${src.bucket}/sources/${src.sourceId}`, { notifications: { mode: 'off' } })).status).toBe(200);
    await waitFor('the lease released', async () => (await leaseOwners()).length === 0, 30_000);
    // The poller is stopped before its lease is handed back: a message sent now stays in the queue for whoever reads it.
    // (Its last long poll, cut short, may still have been handed the message by the server: then the message shows
    // again after the visibility timeout, made short here.)
    await sqs.send(new SetQueueAttributesCommand({ QueueUrl: queueUrl, Attributes: { VisibilityTimeout: '2' } }));
    const body = s3EventMessage({ bucket: src.srcBucket, key: 'in/unheard.txt', put: { size: 1, eTag: 'x' } });
    await sendMessage(sqs, queueUrl, body);
    const got = await waitFor(
      'the message received by the test',
      async () => {
        const res = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 5 }));
        return res.Messages?.length ? res.Messages : undefined;
      },
      60_000,
    );
    expect(got.map((m) => m.Body)).toEqual([body]);
    expect(await src.lakeText('unheard.txt')).toBeNull();
    const [waiting] = await sql<{ n: number }[]>`select count(*)::int as n from source_events where source_id = ${src.sourceId}`;
    expect(waiting!.n).toBe(0);
  });
});

describe('an SQS poller killed between storing and deleting', () => {
  let ls: TestLakesync;
  let emq: ElasticMqServer;
  let proxy: GatedProxy;
  let worker: WorkerProcess | undefined;
  let sql: postgres.Sql;

  beforeAll(async () => {
    [ls, emq] = await Promise.all([
      startTestLakesync({ lake: 'filesystem', worker: 'separate' }),
      startElasticMq({ dir: inject('infra').elasticMqDir, log: quiet }),
    ]);
    sql = postgres(ls.databaseUrl, { max: 2, onnotice: () => undefined });
    proxy = await startGatedProxy(emq.endpoint);
  }, 180_000);
  afterAll(async () => {
    // The gate first: a delete it still holds would hold up the worker's shutdown.
    await proxy?.stop();
    await worker?.kill('SIGTERM');
    await sql?.end();
    await ls?.stop();
    await emq?.stop();
  });

  it('leaves the messages to be delivered again, and the lake and counters exact', async () => {
    const sqs = sqsClient(emq.endpoint);
    // Redelivered 3 s after a receive that was never deleted.
    await createQueue(sqs, 'crash-events', 3);
    // The worker reaches the queue through the gate, which can hold its deletes back.
    const queueUrl = `${proxy.endpoint}/000000000000/crash-events`;
    worker = await startWorkerProcess(ls.workerEnv);
    const src = await sqsSource(ls, queueUrl);
    const owner = async () => (await sql<{ owner: string }[]>`select owner from source_watch_leases where source_id = ${src.sourceId}`)[0]?.owner;
    await waitFor('the first worker polls', async () => (await owner())?.includes(`:${worker!.child.pid}:`), 30_000);

    proxy.close((req) => req.headers['x-amz-target'] === 'AmazonSQS.DeleteMessageBatch');
    await src.put(sqs, 'one.txt', '1');
    await src.put(sqs, 'two.txt', '2');
    // The delete is sent only once the events are stored: by then the targeted run has them.
    await waitFor('a delete held at the gate', async () => proxy.held() > 0, 60_000);
    // Stored as a waiting event, or already taken into the catalog by the targeted run it woke.
    const [stored] = await sql<{ n: number }[]>`
      select (select count(*) from source_events where source_id = ${src.sourceId}) + (select count(*) from source_objects where source_id = ${src.sourceId}) as n`;
    expect(Number(stored!.n)).toBeGreaterThan(0);

    await worker.kill('SIGKILL');
    // The dead worker's held deletes never reach the queue (the gate stays shut; stopping it drops them), and the
    // source now reads the queue directly.
    const direct = `${emq.endpoint}/000000000000/crash-events`;
    const moved = await call(ls.url, 'PATCH', `/${src.bucket}/sources/${src.sourceId}`, { notifications: { mode: 'sqs', queueUrl: direct } });
    expect(moved.status).toBe(200);
    worker = await startWorkerProcess(ls.workerEnv);
    const second = worker.child.pid!;
    // The dead worker's lease expires (20 s); the new worker receives the undeleted messages again.
    await waitFor('the new worker polls', async () => (await owner())?.includes(`:${second}:`), 60_000);
    await waitFor('both in the lake', async () => (await src.lakeText('one.txt')) === '1' && (await src.lakeText('two.txt')) === '2', 90_000);
    await waitFor('the queue empty', async () => (await queueDepth(sqs, direct)) === 0, 60_000);
    const runs = await src.settled(60_000);
    expect(runs.every((j) => j.trigger === 'event')).toBe(true);
    // Delivered twice, copied once each.
    expect(runs.reduce((n, j) => n + j.objectsProcessed, 0)).toBe(2);
    expect(runs.reduce((n, j) => n + j.objectsDiscovered, 0)).toBe(2);
    expect(await listFiles(src.lakeRoot)).toHaveLength(2);
  }, 300_000);
});
